import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { WorkerActivity } from '../../src/cli/dashboard/index.ts'

test('a worker running tasks one at a time reports its state, current task, counts and durations', async () => {
  const a = new WorkerActivity({ id: 'w', queue: 'tasks' })
  assert.equal(a.report().state, 'starting')
  a.idle()
  assert.equal(a.report().state, 'idle')
  a.begin('square(7)')
  let r = a.report()
  assert.equal(r.state, 'busy')
  assert.equal(r.task, 'square(7)')
  await sleep(20)
  assert.ok(a.report().busyMs >= 15, 'busy time counts the task in progress')
  a.end(true)
  a.begin('square(8)')
  a.end(false)
  r = a.report()
  assert.equal(r.state, 'idle')
  assert.equal(r.task, null)
  assert.equal(r.done, 1)
  assert.equal(r.failed, 1)
  assert.equal(r.recent!.ms.length, 2)
  assert.ok(r.recent!.ms[0]! >= 15)
  assert.equal(r.queue, 'tasks')
  a.stopping(true)
  assert.equal(a.report().state, 'exited')
})

test('concurrent tasks end through their handles and busy time never exceeds wall time', async () => {
  const a = new WorkerActivity({ id: 'w' })
  const t0 = performance.now()
  const one = a.begin('one')
  const two = a.begin('two')
  assert.equal(a.report().task, 'two (+1 more)')
  await sleep(20)
  two.end(true)
  two.end(true) // idempotent
  assert.equal(a.report().task, 'one')
  one.end(true)
  const r = a.report()
  assert.equal(r.done, 2)
  assert.equal(r.state, 'idle')
  assert.ok(r.busyMs <= performance.now() - t0 + 1, `busy ${r.busyMs} ms`)
})

test('the duration ring keeps the most recent tasks and says where it starts', () => {
  const a = new WorkerActivity({ id: 'w' })
  for (let i = 0; i < 300; i++) a.begin(`t${i}`).end(true)
  const r = a.report()
  assert.equal(r.recent!.ms.length, 256)
  assert.equal(r.recent!.from, 44)
  assert.equal(r.done, 300)
})
