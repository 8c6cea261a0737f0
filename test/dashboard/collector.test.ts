import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Collector, type Report, type Source, type WorkerReport } from '../../src/cli/dashboard/index.ts'
import { parsePrometheus } from './prom.ts'

/** A source that answers whatever the test put in it. */
function scripted(name = 'scripted'): Source & { reports: Report[]; queues: any[]; fail?: 'throw' | 'hang' } {
  const s: Source & { reports: Report[]; queues: any[]; fail?: 'throw' | 'hang' } = {
    name,
    reports: [],
    queues: [],
    async sample() {
      if (s.fail === 'throw') throw new Error('connection refused')
      if (s.fail === 'hang') return new Promise(() => {})
      return { queues: structuredClone(s.queues), reports: structuredClone(s.reports) }
    },
  }
  return s
}

function worker(id: string, over: Partial<WorkerReport> = {}): WorkerReport {
  return { kind: 'worker', id, host: 'h', pid: 1, state: 'idle', done: 0, failed: 0, busyMs: 0, startedAt: 0, seq: 1, ...over }
}

async function metrics(c: Collector) {
  return parsePrometheus((await c.metrics.render()).body)
}

test('task counters in /metrics add up the totals every worker reports', async () => {
  const src = scripted()
  const c = new Collector([src])
  const labels = { queue: 'tasks', fn: 'square' }
  src.reports = [worker('w1', { ...labels, done: 5, failed: 1, seq: 1 }), worker('w2', { ...labels, done: 3, seq: 1 })]
  await c.tick()
  src.reports = [worker('w1', { ...labels, done: 9, failed: 1, seq: 2, recent: { from: 9, ms: [5] } }), worker('w2', { ...labels, done: 10, failed: 2, seq: 2 })]
  const snap = await c.tick()
  const m = await metrics(c)
  assert.equal(m.value('troupe_tasks_total', { status: 'done', queue: 'tasks', function: 'square' }), 19)
  assert.equal(m.value('troupe_tasks_total', { status: 'failed' }), 3)
  assert.equal(m.value('troupe_worker_tasks_total', { worker: 'w2', status: 'done', queue: 'tasks', function: 'square' }), 10)
  assert.deepEqual(snap.totals, { done: 19, failed: 3, poolDone: 0, poolFailed: 0, restarts: 0, depth: 0, results: 0 })
  assert.equal(m.types.get('troupe_task_duration_seconds'), 'histogram')
  assert.equal(m.value('troupe_task_duration_seconds_count', { queue: 'tasks', function: 'square' }), 1)
})

test('a worker restarted under the same id counts its new work on top of the old', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [worker('w1', { done: 50, seq: 7 })]
  await c.tick()
  src.reports = [worker('w1', { done: 4, seq: 1 })]
  await c.tick()
  assert.equal((await metrics(c)).value('troupe_tasks_total', { status: 'done' }), 54)
})

test('task durations from the reported ring feed the histogram once each', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [worker('w1', { done: 3, seq: 1, recent: { from: 0, ms: [2, 20, 200] } })]
  await c.tick()
  await c.tick() // the same report again: nothing new
  src.reports = [worker('w1', { done: 5, seq: 2, recent: { from: 1, ms: [20, 200, 3000, 4] } })]
  await c.tick()
  const m = await metrics(c)
  assert.equal(m.value('troupe_task_duration_seconds_count'), 5)
  assert.equal(m.value('troupe_task_duration_seconds_bucket', { le: '0.005' }), 2)
  assert.ok(Math.abs(m.value('troupe_task_duration_seconds_sum') - 3.226) < 1e-9)
})

test('queue rates come from the put and taken totals between samples', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.queues = [{ name: 'tasks', backend: 'manager', depth: 10, put: 10, got: 0 }]
  await c.tick()
  await new Promise((r) => setTimeout(r, 50))
  src.queues = [{ name: 'tasks', backend: 'manager', depth: 4, put: 20, got: 16 }]
  const snap = await c.tick()
  const q = snap.queues[0]!
  assert.ok(q.inRate! > 0 && q.outRate! > q.inRate!, JSON.stringify(q))
  assert.ok(snap.point.out! > 0)
  const m = await metrics(c)
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'tasks', source: 'scripted' }), 4)
  assert.equal(m.value('troupe_queue_items_put_total', { queue: 'tasks' }), 20)
  assert.equal(m.value('troupe_queue_items_taken_total', { queue: 'tasks' }), 16)
})

test('a worker whose report stops changing is shown as lost, and a withdrawn report disappears', async () => {
  const src = scripted()
  const c = new Collector([src], { lostAfterMs: 30 })
  src.reports = [worker('w1', { state: 'busy', task: 'square(7)' }), worker('w2')]
  let snap = await c.tick()
  assert.deepEqual(snap.workers.map((w) => w.state), ['busy', 'idle'])
  await new Promise((r) => setTimeout(r, 60))
  src.reports = [worker('w1', { state: 'busy', task: 'square(7)' })]
  snap = await c.tick()
  assert.deepEqual(snap.workers.map((w) => [w.id, w.state]), [['w1', 'lost']])
})

test('a source that fails or does not answer is reported down and sampling goes on', async () => {
  const good = scripted('good')
  const bad = scripted('bad')
  const c = new Collector([good, bad], { sampleTimeoutMs: 100 })
  good.queues = [{ name: 'q', backend: 'manager', depth: 1 }]
  bad.fail = 'hang'
  let snap = await c.tick()
  assert.deepEqual(snap.sources.map((s) => [s.name, s.ok]), [['good', true], ['bad', false]])
  assert.match(snap.sources[1]!.error!, /no answer within 100 ms/)
  bad.fail = 'throw'
  snap = await c.tick()
  assert.match(snap.sources[1]!.error!, /connection refused/)
  assert.equal(snap.queues.length, 1)
  assert.equal((await metrics(c)).value('troupe_dashboard_source_up', { source: 'bad' }), 0)
})

test('pool and actor restarts are counted, and pool workers are not counted twice', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [
    { kind: 'pool', id: 'pool-1', host: 'h', pid: 1, workers: 4, busy: 2, queued: 7, done: 100, failed: 1, restarts: 2, seq: 1 },
    worker('pool-1/0', { pool: 'pool-1', done: 60 }),
    {
      kind: 'actors', id: 'system', host: 'h', pid: 1, seq: 1,
      roots: [{ path: '/root', name: 'root', state: 'running', mailbox: 0, restarts: 0, children: [
        { path: '/root/pinger', name: 'pinger', state: 'running', mailbox: 3, restarts: 1, children: [] },
      ] }],
    },
  ]
  const snap = await c.tick()
  assert.deepEqual(snap.totals, { done: 0, failed: 0, poolDone: 100, poolFailed: 1, restarts: 3, depth: 0, results: 0 })
  const m = await metrics(c)
  assert.equal(m.value('troupe_pool_tasks_total', { pool: 'pool-1', status: 'done' }), 100)
  assert.equal(m.samples.filter((x) => x.name === 'troupe_tasks_total').length, 0, 'pool tasks are not queue workers\' tasks')
  assert.equal(m.value('troupe_actor_restarts_total', { system: 'system', actor: '/root/pinger' }), 1)
  assert.equal(m.value('troupe_pool_worker_restarts_total', { pool: 'pool-1' }), 2)
  assert.equal(m.value('troupe_actor_mailbox_messages', { actor: '/root/pinger' }), 3)
  assert.equal(m.value('troupe_pool_queued_tasks', { pool: 'pool-1' }), 7)
  assert.equal(m.value('troupe_pool_workers', { pool: 'pool-1', state: 'busy' }), 2)
  assert.ok(!m.samples.some((x) => x.labels.worker?.startsWith('pool-1')), 'pools are under pool=, never worker=')
})

test('malformed reports are skipped or read with zeros, never as NaN in /metrics', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [
    { kind: 'worker', id: 'half', done: 'many', recent: { from: 0, ms: ['x'] } } as any,
    { kind: 'nonsense', id: 'x' } as any,
    { kind: 'worker' } as any,
    null as any,
    { kind: 'actors', id: 'sys', roots: [{ name: 'a', mailbox: 'full', children: [null, { name: 'b' }] }] } as any,
  ]
  const snap = await c.tick()
  assert.deepEqual(snap.workers.map((w) => [w.id, w.done, w.state]), [['half', 0, 'idle']])
  assert.deepEqual(snap.actors[0]!.roots[0]!.children.map((n) => n.path), ['/b'])
  const text = (await c.metrics.render()).body
  assert.doesNotMatch(text.split('\n').filter((l) => l.startsWith('troupe_') && !l.startsWith('troupe_dashboard_')).join('\n'), /NaN/i)
  parsePrometheus(text)
})

test('worker CPU comes from its reported CPU time, and the page gets task-time percentiles', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [worker('w1', { cpuMs: 1000, rssBytes: 5e7, seq: 1, done: 4, recent: { from: 0, ms: [1, 2, 3, 100] } })]
  let snap = await c.tick()
  assert.equal(snap.workers[0]!.cpu, undefined)
  assert.deepEqual(snap.taskTime, { p50: 2, p90: 100, p99: 100, samples: 4, windowMs: 60_000 })
  await new Promise((r) => setTimeout(r, 100))
  src.reports = [worker('w1', { cpuMs: 1100, rssBytes: 5e7, seq: 2, done: 4 })]
  snap = await c.tick()
  const cpu = snap.workers[0]!.cpu!
  assert.ok(cpu > 0 && cpu <= 1.01, `cpu ${cpu}`)
  const m = parsePrometheus((await c.metrics.render()).body)
  assert.equal(m.value('troupe_worker_resident_memory_bytes', { worker: 'w1' }), 5e7)
  // CPU and busy time are counters of seconds (rate() gives cores and the busy share), not per-sample gauges.
  assert.equal(m.types.get('troupe_worker_cpu_seconds_total'), 'counter')
  assert.equal(m.value('troupe_worker_cpu_seconds_total', { worker: 'w1' }), 1.1)
  assert.ok(!m.types.has('troupe_worker_cpu_cores') && !m.types.has('troupe_worker_utilisation'))
})

test('busy time is a counter of seconds per worker, with its queue and function', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.reports = [worker('w1', { queue: 'tasks', fn: 'square', busyMs: 1500, seq: 1 })]
  await c.tick()
  src.reports = [worker('w1', { queue: 'tasks', fn: 'square', busyMs: 4000, seq: 2 })]
  await c.tick()
  const m = await metrics(c)
  assert.equal(m.types.get('troupe_worker_busy_seconds_total'), 'counter')
  assert.equal(m.value('troupe_worker_busy_seconds_total', { worker: 'w1', queue: 'tasks', function: 'square' }), 4)
})

test('/metrics has no HELP or TYPE without samples, and says which troupe serves it', async () => {
  const c = new Collector([scripted()])
  await c.tick()
  const text = (await c.metrics.render()).body
  const m = parsePrometheus(text)
  for (const [family] of m.types) {
    assert.ok(m.samples.some((x) => x.name === family || x.name.startsWith(`${family}_`)), `${family} has a TYPE but no samples`)
  }
  assert.ok(!m.types.has('troupe_tasks_total') && !m.types.has('troupe_queue_waiting_items'))
  assert.equal(m.samples.find((x) => x.name === 'troupe_build_info')!.value, 1)
  assert.match(m.samples.find((x) => x.name === 'troupe_build_info')!.labels.nodejs!, /^\d+\.\d+\.\d+$/)
})

test('Redis queue families: dead letters, delayed items, oldest item age and consumers', async () => {
  const src = scripted('redis x')
  const c = new Collector([src])
  src.queues = [{ name: 'emails', backend: 'redis', depth: 3, pending: 1, delayed: 2, dead: 4, oldestAgeMs: 1500, consumers: 2 }]
  await c.tick()
  const m = await metrics(c)
  const labels = { queue: 'emails', backend: 'redis', source: 'redis x' }
  assert.equal(m.value('troupe_queue_dead_letters', labels), 4)
  assert.equal(m.value('troupe_queue_delayed_items', labels), 2)
  assert.equal(m.value('troupe_queue_oldest_item_age_seconds', labels), 1.5)
  assert.equal(m.value('troupe_queue_consumers', labels), 2)
  assert.equal(m.value('troupe_queue_pending_items', labels), 1)
})

test('a results queue (named by workers as their --results) is output, not backlog', async () => {
  const src = scripted()
  const c = new Collector([src])
  src.queues = [{ name: 'tasks', backend: 'manager', depth: 5 }, { name: 'results', backend: 'manager', depth: 1203 }]
  src.reports = [worker('w1', { queue: 'tasks', results: 'results' }), worker('w2', { queue: 'tasks', results: 'results' })]
  const snap = await c.tick()
  assert.equal(snap.totals.depth, 5)
  assert.equal(snap.totals.results, 1203)
  assert.equal(snap.point.depth, 5)
  assert.deepEqual(snap.queues.map((q) => [q.name, q.role, q.consumers]), [['results', 'results', 0], ['tasks', undefined, 2]])
})

test('failures reported by workers are listed once each, newest first, with the worker that ran them', async () => {
  const src = scripted()
  const c = new Collector([src])
  const failure = (n: number, at: number) => ({ n, at, task: `square(${n})`, queue: 'tasks', attempt: 1, error: { name: 'RangeError', message: `bad ${n}`, stack: `RangeError: bad ${n}\n    at square (tasks.ts:3:9)` } })
  src.reports = [worker('w1', { failed: 1, seq: 1, failures: [failure(0, 1000)] })]
  await c.tick()
  src.reports = [worker('w1', { failed: 2, seq: 2, failures: [failure(0, 1000), failure(1, 2000)] }), worker('w2', { failed: 1, seq: 1, failures: [failure(0, 1500)] })]
  const snap = await c.tick()
  assert.deepEqual(snap.failures.map((f) => [f.worker, f.task, f.at]), [['w1', 'square(1)', 2000], ['w2', 'square(0)', 1500], ['w1', 'square(0)', 1000]])
  assert.match(snap.failures[0]!.error.stack!, /at square/)
})

test('while a source does not answer, its queues stay (stale) and the chart gets a gap, not a drain', async () => {
  const src = scripted('manager m')
  const c = new Collector([src], { sampleTimeoutMs: 100 })
  src.queues = [{ name: 'tasks', backend: 'manager', depth: 40, put: 40, got: 0 }]
  let snap = await c.tick()
  assert.equal(snap.point.depth, 40)
  src.fail = 'throw'
  snap = await c.tick()
  assert.deepEqual(snap.point, { t: snap.t, in: null, out: null, tasks: null, poolTasks: null, depth: null })
  assert.equal(snap.totals.depth, null)
  assert.deepEqual(snap.queues.map((q) => [q.name, q.depth, q.stale]), [['tasks', 40, true]])
  assert.deepEqual(c.queueHistory()['manager m|tasks'], [40, null])
  const m = await metrics(c)
  assert.ok(!m.types.has('troupe_queue_waiting_items'), 'a stale queue is not exported as if it were current')
})

test('a refused authkey is told apart from an unreachable source', async () => {
  const auth = scripted('auth')
  const down = scripted('down')
  auth.sample = async () => { throw Object.assign(new Error('authentication with 127.0.0.1:1 failed (digest sent was rejected)'), { name: 'AuthenticationError' }) }
  down.sample = async () => { throw Object.assign(new Error('cannot connect to 127.0.0.1:1: ECONNREFUSED'), { name: 'ConnectionClosedError' }) }
  const snap = await new Collector([auth, down]).tick()
  assert.deepEqual(snap.sources.map((s) => [s.name, s.trouble]), [['auth', 'auth'], ['down', 'unreachable']])
})

test('taken/s is averaged over a few seconds, so batched takes do not zig-zag', async () => {
  const src = scripted()
  const c = new Collector([src], { rateWindowMs: 10_000 })
  const rates: number[] = []
  let got = 0
  for (let i = 0; i < 6; i++) {
    // A worker that takes 16 at a time every other sample.
    if (i % 2 === 1) got += 16
    src.queues = [{ name: 'tasks', backend: 'manager', depth: 100 - got, put: 100, got }]
    rates.push((await c.tick()).queues[0]!.outRate ?? 0)
    await new Promise((r) => setTimeout(r, 20))
  }
  // Past the first samples, every rate is well above zero: no drop to 0 between batches.
  assert.ok(rates.slice(2).every((r) => r > 0), rates.join(', '))
})

test('task times on the page are those of the last minute: the card empties once work stops', async () => {
  const src = scripted()
  const c = new Collector([src], { taskTimeWindowMs: 50 })
  src.reports = [worker('w1', { done: 2, seq: 1, recent: { from: 0, ms: [5, 7] } })]
  assert.equal((await c.tick()).taskTime?.samples, 2)
  await new Promise((r) => setTimeout(r, 80))
  src.reports = [worker('w1', { done: 2, seq: 2, recent: { from: 0, ms: [5, 7] } })]
  assert.equal((await c.tick()).taskTime, undefined)
})
