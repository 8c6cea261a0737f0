import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Manager, SharedJoinableQueue } from '../../src/manager/index.ts'
import { Collector, enableReports, managerSource, startReporting, WorkerActivity } from '../../src/cli/dashboard/index.ts'
import { parsePrometheus } from './prom.ts'

const cleanup: (() => Promise<unknown>)[] = []
after(async () => { for (const f of cleanup.reverse()) await f().catch(() => {}) })

// One queue every client gets, as Python's `register('tasks', callable=lambda: q)`.
const sharedTasks = new SharedJoinableQueue<number>()
function taskQueue() { return sharedTasks }

test('queues served by a manager and the reports of its workers appear in the snapshot', async () => {
  const server = enableReports(new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false }))
  server.register('tasks', taskQueue)
  await server.serve()
  cleanup.push(() => server.shutdown())

  const collector = new Collector([managerSource({ address: server.address, authkey: 'abc', queues: ['tasks'] })])
  cleanup.push(() => collector.stop())

  // A producer and an anonymous result queue, as the distributed demo has.
  const producer = await new Manager({ address: server.address, authkey: 'abc' }).connect()
  cleanup.push(() => producer.shutdown())
  const tasks = await producer.create<typeof sharedTasks>('tasks')
  const results = await producer.Queue<number>()
  for (let i = 0; i < 10; i++) await tasks.put(i)

  let snap = await collector.tick()
  assert.deepEqual(snap.sources.map((s) => s.ok), [true], JSON.stringify(snap.sources))
  const q = snap.queues.find((x) => x.name === 'tasks')
  assert.ok(q, JSON.stringify(snap.queues))
  assert.equal(q.depth, 10)
  assert.equal(q.unfinished, 10)
  assert.ok(snap.queues.some((x) => /^Queue#/.test(x.name)), 'the anonymous result queue is listed')

  // A worker takes 4 items and reports itself through the manager.
  const activity = new WorkerActivity({ id: 'worker-1', queue: 'tasks' })
  const worker = await new Manager({ address: server.address, authkey: 'abc' }).connect()
  cleanup.push(() => worker.shutdown())
  const reporting = startReporting(worker, () => activity.report(), { intervalMs: 50 })
  cleanup.push(() => reporting.stop())
  const wtasks = await worker.create<typeof sharedTasks>('tasks')
  for (let i = 0; i < 4; i++) {
    const n = await wtasks.get()
    activity.begin(`square(${n})`)
    await results.put(n * n)
    await wtasks.taskDone()
    activity.end(true)
  }
  await reporting.flush()

  snap = await collector.tick()
  assert.equal(snap.queues.find((x) => x.name === 'tasks')!.depth, 6)
  const w = snap.workers.find((x) => x.id === 'worker-1')
  assert.ok(w, JSON.stringify(snap.workers))
  assert.equal(w.done, 4)
  assert.equal(w.queue, 'tasks')
  const m = parsePrometheus((await collector.metrics.render()).body)
  assert.equal(m.value('troupe_tasks_total', { status: 'done' }), 4)
  assert.equal(m.value('troupe_task_duration_seconds_count'), 4)
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'tasks', backend: 'manager' }), 6)

  // A worker that stops with `withdraw` disappears from the page.
  await reporting.stop({ withdraw: true })
  snap = await collector.tick()
  assert.equal(snap.workers.find((x) => x.id === 'worker-1'), undefined)
  assert.equal(snap.totals.done, 4, 'its work stays counted')
})

test('a manager that is not there shows as a source that is down, without hanging', async () => {
  const collector = new Collector([managerSource({ address: '127.0.0.1:1', authkey: 'abc' })], { sampleTimeoutMs: 3000 })
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  assert.equal(snap.sources[0]!.ok, false)
  assert.match(snap.sources[0]!.error!, /ECONNREFUSED|ConnectionClosed|connect/i)
})

test('a worker reporting to a manager without troupe.reports keeps working and is told once', async () => {
  const server = new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
  await server.serve()
  cleanup.push(() => server.shutdown())
  const client = await new Manager({ address: server.address, authkey: 'abc' }).connect()
  cleanup.push(() => client.shutdown())
  const errors: Error[] = []
  const reporting = startReporting(client, () => new WorkerActivity({ id: 'w' }).report(), { intervalMs: 20, onError: (e) => errors.push(e) })
  await reporting.flush()
  await reporting.flush()
  await reporting.stop()
  assert.equal(errors.length, 1)
  assert.match(errors[0]!.message, /troupe\.reports/)
})

test('a manager started in its own process (start()) serves the report board too', async () => {
  const manager = enableReports(new Manager({ address: '127.0.0.1:0', authkey: 'abc' }))
  await manager.start()
  cleanup.push(() => manager.shutdown())
  const activity = new WorkerActivity({ id: 'w-started' })
  activity.begin('job')
  activity.end(false)
  const reporting = startReporting(manager, () => activity.report(), { intervalMs: 50 })
  cleanup.push(() => reporting.stop())
  await reporting.flush()
  const collector = new Collector([managerSource({ address: manager.address, authkey: 'abc' })])
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  assert.deepEqual(snap.workers.map((w) => [w.id, w.failed]), [['w-started', 1]])
})

test('a --queue name the manager does not serve keeps the source red with a clear reason', async () => {
  const server = new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
  await server.serve()
  cleanup.push(() => server.shutdown())
  const collector = new Collector([managerSource({ address: server.address, authkey: 'abc', queues: ['nope'] })])
  cleanup.push(() => collector.stop())
  for (let i = 0; i < 2; i++) {
    const snap = await collector.tick()
    assert.equal(snap.sources[0]!.ok, false)
    assert.match(snap.sources[0]!.error!, /serves no typeid 'nope'/)
  }
})
