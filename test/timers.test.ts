import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { armWait, cancel, heldCount, schedule, scheduledCount, sleep, withTimeout, type Timed } from '../src/timers.ts'
import { Actor, spawn, pendingAsks } from '../src/actor/index.ts'
import { AbortError, TimeoutError } from '../src/errors.ts'

const root = fileURLToPath(new URL('../', import.meta.url))

function entry(onFire: () => void): Timed {
  return { slot: -1, at: 0, fire: onFire }
}

test('a coarse timeout never fires before its deadline', async () => {
  const starts: number[] = []
  const fired = await Promise.all([60, 100, 45].map((ms) => new Promise<number>((resolve) => {
    const t0 = performance.now()
    starts.push(t0)
    schedule(entry(() => resolve(performance.now() - t0)), ms)
  })))
  assert.ok(fired[0]! >= 60 && fired[1]! >= 100 && fired[2]! >= 45, `fired after ${fired.map((x) => x.toFixed(1)).join(', ')} ms`)
})

test('a cancelled deadline never fires and releases what it held', async () => {
  const held = heldCount()
  let fired = 0
  const es = Array.from({ length: 1000 }, () => entry(() => { fired++ }))
  for (const e of es) schedule(e, 50)
  for (const e of es) schedule(e, 60) // moved, not doubled
  assert.equal(scheduledCount(), 1000)
  for (const e of es) cancel(e)
  assert.equal(scheduledCount(), 0)
  assert.equal(heldCount(), held)
  await sleep(150)
  assert.equal(fired, 0)
})

test('armWait: the timeout or the abort runs once, never after disarm; an already-aborted signal fails on the next microtask', async () => {
  const seen: string[] = []
  armWait({ signal: AbortSignal.abort() }, () => seen.push('timeout'), () => seen.push('abort'))
  assert.equal(seen.length, 0)
  await Promise.resolve()
  assert.deepEqual([...seen], ['abort'])
  const disarm = armWait({ timeout: 1 }, () => seen.push('late'), () => seen.push('late abort'))
  disarm()
  await sleep(30)
  assert.deepEqual([...seen], ['abort'])
  await assert.rejects(withTimeout(new Promise(() => {}), { timeout: 5 }, () => new TimeoutError('t')), TimeoutError)
  const ctl = new AbortController()
  const w = withTimeout(new Promise(() => {}), { signal: ctl.signal }, () => new TimeoutError('t'))
  ctl.abort()
  await assert.rejects(w, AbortError)
})

/** Answers every ask with 1. */
export class One extends Actor<number> {
  receive(): number { return 1 }
}

test('100,000 asks with a timeout leave no deadline, no hold and no pending ask behind', async () => {
  const held = heldCount()
  const one = spawn(One)
  for (let i = 0; i < 100_000; i++) await one.ask(i, { timeout: 5000 })
  await one.stop()
  assert.equal(pendingAsks(), 0)
  assert.equal(scheduledCount(), 0)
  assert.equal(heldCount(), held)
})

for (const what of ['ask', 'get']) {
  test(`awaiting ${what === 'ask' ? 'an ask' : 'a queue get'} at the top level keeps the program alive until an unref'd source settles it`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/keepalive-main.ts', what], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, `exit ${r.status}; stderr: ${r.stderr}`)
    assert.equal(r.stdout.trim(), what === 'ask' ? 'answer 42' : 'got late item')
  })
}
