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
  src.reports = [worker('w1', { done: 5, failed: 1, seq: 1 }), worker('w2', { done: 3, seq: 1 })]
  await c.tick()
  src.reports = [worker('w1', { done: 9, failed: 1, seq: 2 }), worker('w2', { done: 10, failed: 2, seq: 2 })]
  const snap = await c.tick()
  const m = await metrics(c)
  assert.equal(m.value('troupe_tasks_total', { status: 'done' }), 19)
  assert.equal(m.value('troupe_tasks_total', { status: 'failed' }), 3)
  assert.equal(m.value('troupe_worker_tasks_total', { worker: 'w2', status: 'done' }), 10)
  assert.deepEqual(snap.totals, { done: 19, failed: 3, restarts: 0, depth: 0 })
  assert.equal(m.types.get('troupe_task_duration_seconds'), 'histogram')
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
  assert.ok(snap.point.out > 0)
  const m = await metrics(c)
  assert.equal(m.value('troupe_queue_depth', { queue: 'tasks' }), 4)
  assert.equal(m.value('troupe_queue_put_total', { queue: 'tasks' }), 20)
  assert.equal(m.value('troupe_queue_got_total', { queue: 'tasks' }), 16)
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
  assert.deepEqual(snap.totals, { done: 100, failed: 1, restarts: 3, depth: 0 })
  const m = await metrics(c)
  assert.equal(m.value('troupe_tasks_total', { status: 'done' }), 100)
  assert.equal(m.value('troupe_restarts_total', { kind: 'actor' }), 1)
  assert.equal(m.value('troupe_restarts_total', { kind: 'pool-worker' }), 2)
  assert.equal(m.value('troupe_actor_mailbox', { actor: '/root/pinger' }), 3)
  assert.equal(m.value('troupe_pool_queued', { pool: 'pool-1' }), 7)
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
  assert.deepEqual(snap.taskTime, { p50: 2, p90: 100, p99: 100, samples: 4 })
  await new Promise((r) => setTimeout(r, 100))
  src.reports = [worker('w1', { cpuMs: 1100, rssBytes: 5e7, seq: 2, done: 4 })]
  snap = await c.tick()
  const cpu = snap.workers[0]!.cpu!
  assert.ok(cpu > 0 && cpu <= 1.01, `cpu ${cpu}`)
  const m = parsePrometheus((await c.metrics.render()).body)
  assert.equal(m.value('troupe_worker_resident_memory_bytes', { worker: 'w1' }), 5e7)
  assert.equal(m.value('troupe_worker_cpu_cores', { worker: 'w1' }), cpu)
})
