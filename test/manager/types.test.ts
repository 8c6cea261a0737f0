import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BaseManager, Manager, typed, SharedQueue, type Proxied } from '../../src/manager/index.ts'

// Compile-time checks (tsc --noEmit runs over test/): proxies are typed by the object they stand for.
async function typeChecks(m: Manager): Promise<void> {
  const q = await m.Queue<number>()
  await q.put(1)
  // @ts-expect-error a Queue<number> proxy takes numbers only
  await q.put('one')
  const n: number = await q.get({ timeout: 10 })
  for await (const item of q) { const x: number = item; void x }
  const d = await m.dict<string, boolean>()
  // @ts-expect-error dict values are booleans
  await d.set('k', 1)
  const c = new BaseManager().register('counter', (start: number) => ({ start, inc: (by: number) => start + by }))
  const counter = await c.counter(3)
  const r: number = await counter.inc(2)
  // @ts-expect-error the factory takes a number
  await c.counter('x')
  const client = new BaseManager().register('jobs', typed<SharedQueue<string>>())
  const jobs: Proxied<SharedQueue<string>> = await client.jobs()
  void [n, r, jobs]
}

test('proxy types follow the served object (checked by tsc); a typeid that shadows a manager method is refused', () => {
  assert.equal(typeof typeChecks, 'function')
  assert.throws(() => new BaseManager({ authkey: 'k' }).register('connect', typed<number>()), /clashes with a manager method/)
})
