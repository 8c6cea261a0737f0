/**
 * What watching costs. A manager serves a queue in this process (as
 * `troupe manager --dashboard` does) while clients push items through it;
 * the same workload runs unobserved and with a dashboard sampling the manager
 * (every 1 s, the default, and every 100 ms), with 100 workers' reports on
 * the board. Also: how long one sample of 50 queues + 100 reports takes, and
 * how long rendering /metrics takes.
 *
 *   npm run bench -- dashboard
 */
import { Manager, SharedQueue } from '../src/manager/index.ts'
import { Collector, enableReports, managerSource, startDashboard, WorkerActivity, type Reporting, startReporting } from '../src/cli/dashboard/index.ts'
import { median, opsPerSecond, percentile, report, type Cases } from './lib.ts'

const ITEMS = 100_000
const WINDOW = 64
const ROUNDS = 5

const shared = new SharedQueue<number>()
const queues = Array.from({ length: 50 }, () => new SharedQueue<number>())

const server = enableReports(new Manager({ address: '127.0.0.1:0', authkey: 'bench', log: false }))
server.register('work', () => shared)
queues.forEach((q, i) => server.register(`q${i}`, () => q))
await server.serve()

const client = await new Manager({ address: server.address, authkey: 'bench' }).connect()
const work = await client.create<SharedQueue<number>>('work')
// Held to the end (see the last lines): a manager lists only objects some client holds, and a proxy
// nothing refers to any more is garbage-collected and releases its object.
const held = await Promise.all(queues.map((_, i) => client.create<SharedQueue<number>>(`q${i}`)))
await Promise.all(held.map((q, i) => q.put(i)))

// 100 workers' reports on the board, refreshed every second as real workers would.
const reporters: Reporting[] = []
const activities = Array.from({ length: 100 }, (_, i) => new WorkerActivity({ id: `worker-${i}`, queue: 'work' }))
// Busy workers: each report carries a full ring of 256 recent durations.
const keepBusy = () => { for (const a of activities) for (let k = 0; k < 300; k++) a.begin(`task ${k}`).end(true) }
keepBusy()
for (const activity of activities) reporters.push(startReporting(client, () => activity.report(), { intervalMs: 1000 }))
await Promise.all(reporters.map((r) => r.flush()))

/** ITEMS puts and gets through the manager, WINDOW in flight. */
async function pushThrough(): Promise<number> {
  return opsPerSecond(ITEMS, async () => {
    let put = 0
    let got = 0
    const producer = async () => { while (put < ITEMS) { put++; await work.put(put) } }
    const consumer = async () => { while (got < ITEMS) { got++; await work.get() } }
    await Promise.all([...Array.from({ length: WINDOW / 2 }, producer), ...Array.from({ length: WINDOW / 2 }, consumer)])
  })
}

const runs: Record<string, number[]> = { unobserved: [], 'troupe (1 s)': [], 'troupe (100 ms)': [] }
await pushThrough() // warm-up
for (let r = 0; r < ROUNDS; r++) {
  runs.unobserved!.push(await pushThrough())
  for (const [label, intervalMs] of [['troupe (1 s)', 1000], ['troupe (100 ms)', 100]] as const) {
    const dash = await startDashboard({ sources: [managerSource({ address: server.address, authkey: 'bench', queues: ['work'] })], intervalMs })
    await dash.collector.tick()
    runs[label]!.push(await pushThrough())
    await dash.close()
  }
}

// One sample of 51 queues and 100 reports, and one /metrics rendering.
keepBusy()
await Promise.all(reporters.map((r) => r.flush()))
const collector = new Collector([managerSource({ address: server.address, authkey: 'bench' })])
await collector.tick()
const tickMs: number[] = []
const renderMs: number[] = []
for (let i = 0; i < 30; i++) {
  let t = performance.now()
  const snap = await collector.tick()
  tickMs.push(performance.now() - t)
  if (snap.queues.length < 51 || snap.workers.length !== 100) throw new Error(`sample saw ${snap.queues.length} queues, ${snap.workers.length} workers`)
  t = performance.now()
  await collector.metrics.render()
  renderMs.push(performance.now() - t)
}
await collector.stop()
await Promise.all(reporters.map((r) => r.stop()))
await Promise.all(held.map((q) => q.qsize()))
await client.shutdown()
await server.shutdown()

const unobserved = median(runs.unobserved!)
const cases: Cases = {
  'manager put+get, sampled every 1 s': { troupe: median(runs['troupe (1 s)']!), unobserved },
  'manager put+get, sampled every 100 ms': { troupe: median(runs['troupe (100 ms)']!), unobserved },
}
report('dashboard: manager throughput while a dashboard watches (items/s; ratio < 1 = overhead)', cases, [
  `one sample (51 queues, 100 worker reports): median ${median(tickMs).toFixed(2)} ms, p90 ${percentile(tickMs, 90).toFixed(2)} ms`,
  `GET /metrics rendering: median ${median(renderMs).toFixed(2)} ms`,
  `rounds: ${ROUNDS}, ${ITEMS} items each, ${WINDOW} requests in flight; raw items/s: ${JSON.stringify(Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map(Math.round)])))}`,
])
process.exit(0)
