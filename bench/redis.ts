/**
 * `npm run bench -- redis`: 20,000 trivial tasks end to end on one Redis —
 * enqueue in bulk, process, results recorded — for troupe's Redis queue and
 * worker, BullMQ, and hand-written Redis Streams code (pipelined XADD,
 * XREADGROUP COUNT, pipelined result XADD + XACK). Each contender runs its
 * consumer in this process; keys carry a per-run prefix and are deleted after.
 * The same troupe run also goes to a Redis Cluster of three masters started
 * here (ports 7100-7199): one queue (one slot, one master) and the tasks
 * split over three queues, one per master (CLUSTER=0 leaves it out).
 * A last troupe run under MONITOR counts Redis commands per task: those the
 * client sent (round trips and pipelined calls) and those Lua scripts ran.
 *
 * Case `ask`: ASKS sequential asks to a Redis actor hosted by another
 * RedisActorSystem of this process (message to its mailbox, handled, reply
 * through the asker's inbox), against a raw round trip through ioredis: an
 * echo task XREADs (BLOCK) a request stream and XADDs to a reply stream the
 * asker XREADs (BLOCK), no groups, no acknowledgement. CASES=jobs or
 * CASES=ask runs one case.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { Queue as BullQueue, Worker as BullWorker } from 'bullmq'
import { RedisQueue, serveTasks, makeClient, scanKeys, pipelined, type RedisClient } from '../src/backends/index.ts'
import { RedisActorSystem } from '../src/actor/redis.ts'
import { median, percentile, report, type Cases } from './lib.ts'
import { Echo } from './fixtures/redis-echo.ts'
import { REDIS_URL } from '../test/services.ts'
import { RedisCluster } from '../test/redis/cluster.ts'

const URL = REDIS_URL
const N = Number(process.env.JOBS ?? 20_000)
const ROUNDS = Number(process.env.ROUNDS ?? 5)
const ASKS = Number(process.env.ASKS ?? 2000)
const CASES = (process.env.CASES ?? 'jobs,ask').split(',')
const run = `bench-${randomBytes(4).toString('hex')}`
const admin = new Redis(URL)

function identity(n: number): number { return n }

/** Where a troupe run goes: a Redis (or cluster) URL, a client to check results with, and the queues to split the tasks over. */
interface Place { url: string; admin: RedisClient; queues: string[] }
const one: Place = { url: URL, admin, queues: ['jobs'] }

async function troupe(round: number | string, place: Place = one): Promise<number> {
  const prefix = `${run}-t${round}`
  const share = place.queues.map((_, i) => Math.floor(N / place.queues.length) + (i < N % place.queues.length ? 1 : 0))
  const runs = await Promise.all(place.queues.map(async (name, i) => {
    const tasks = new RedisQueue<number>(name, { redis: place.url, prefix })
    await tasks.ready()
    return { name, tasks, resultsKey: `${prefix}:{${name}.results}:q`, n: share[i]! }
  }))
  const t0 = process.hrtime.bigint()
  // One worker per queue, all in this process (as in the one-Redis run).
  await Promise.all(runs.map(async (r) => {
    const stop = new AbortController()
    const serving = serveTasks({ redis: place.url, prefix, tasks: r.name, results: `${r.name}.results`, fn: identity, prefetch: 1000, signal: stop.signal,
      onProgress: (s) => { if (s.done >= r.n) void place.admin.xlen(r.resultsKey).then((n) => { if (n >= r.n) stop.abort() }) } })
    await r.tasks.putMany(Array.from({ length: r.n }, (_, i) => i))
    await serving
  }))
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  for (const r of runs) {
    const recorded = await place.admin.xlen(r.resultsKey)
    if (recorded !== r.n) throw new Error(`troupe recorded ${recorded} results in ${r.name}, expected ${r.n}`)
    await r.tasks.close()
  }
  return N / secs
}

async function bullmq(round: number): Promise<number> {
  const prefix = `${run}-b${round}`
  const connection = { host: new globalThis.URL(URL).hostname, port: Number(new globalThis.URL(URL).port || 6379), maxRetriesPerRequest: null }
  const queue = new BullQueue('jobs', { connection, prefix })
  await queue.waitUntilReady()
  let done = 0
  let finish!: () => void
  const finished = new Promise<void>((r) => { finish = r })
  const t0 = process.hrtime.bigint()
  const worker = new BullWorker('jobs', async (job) => identity(job.data as number), { connection, prefix, concurrency: 100 })
  worker.on('completed', () => { if (++done === N) finish() })
  for (let i = 0; i < N; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ name: 'j', data: i + k })))
  }
  await finished
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  await worker.close()
  await queue.close()
  return N / secs
}

async function rawStreams(round: number): Promise<number> {
  const stream = `${run}-r${round}:jobs`
  const results = `${run}-r${round}:results`
  const producer = new Redis(URL)
  const consumer = new Redis(URL)
  await producer.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM')
  const t0 = process.hrtime.bigint()
  const producing = (async () => {
    for (let i = 0; i < N; i += 1000) {
      const p = producer.pipeline()
      for (let k = i; k < Math.min(N, i + 1000); k++) p.xadd(stream, '*', 'v', String(k))
      await p.exec()
    }
  })()
  let done = 0
  while (done < N) {
    const reply = await consumer.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1000, 'BLOCK', 1000, 'STREAMS', stream, '>') as [string, [string, string[]][]][] | null
    if (!reply) continue
    const entries = reply[0]![1]
    const p = consumer.pipeline()
    for (const [, f] of entries) p.xadd(results, '*', 'v', String(identity(Number(f[1]))))
    p.xack(stream, 'g', ...entries.map(([id]) => id))
    await p.exec()
    done += entries.length
  }
  await producing
  const secs = Number(process.hrtime.bigint() - t0) / 1e9
  producer.disconnect()
  consumer.disconnect()
  return N / secs
}

/** Per-ask latencies (ms) of ASKS sequential asks to a Redis actor hosted by another system of this process. */
async function troupeAsk(round: number): Promise<number[]> {
  const prefix = `${run}-a${round}`
  const host = new RedisActorSystem({ redis: URL, prefix, node: `${run}-host` })
  const asker = new RedisActorSystem({ redis: URL, prefix, node: `${run}-asker`, host: false })
  try {
    const echo = await asker.spawn(Echo, { name: 'echo' })
    for (let i = 0; i < 50; i++) await echo.ask(i)
    const ms: number[] = []
    for (let i = 0; i < ASKS; i++) {
      const t0 = performance.now()
      await echo.ask(i)
      ms.push(performance.now() - t0)
    }
    await echo.stop()
    return ms
  } finally {
    await asker.close()
    await host.close()
  }
}

/** The raw anchor: XADD a request, an echo loop XREADs it (BLOCK) and XADDs the reply, the asker XREADs it (BLOCK). */
async function rawAsk(round: number): Promise<number[]> {
  const requests = `${run}-q${round}:requests`
  const replies = `${run}-q${round}:replies`
  const [asker, askerBlock, echo] = [new Redis(URL), new Redis(URL), new Redis(URL)]
  let stop = false
  const echoing = (async () => {
    // From the start of this round's fresh stream ('$' would miss a request written before the first read is in place).
    let last = '0-0'
    while (!stop) {
      const r = await echo.xreadBuffer('COUNT', 100, 'BLOCK', 100, 'STREAMS', requests, last)
      if (!r) continue
      for (const [id, f] of r[0]![1]) {
        last = id.toString()
        await echo.xadd(replies, '*', 'v', f[1]!)
      }
    }
  })()
  await new Promise((r) => setTimeout(r, 50))
  let last = '0-0'
  const one = async (i: number) => {
    await asker.xadd(requests, '*', 'v', String(i))
    for (;;) {
      const r = await askerBlock.xreadBuffer('COUNT', 1, 'BLOCK', 1000, 'STREAMS', replies, last)
      if (r) { last = r[0]![1][0]![0].toString(); return }
    }
  }
  for (let i = 0; i < 50; i++) await one(i)
  const ms: number[] = []
  for (let i = 0; i < ASKS; i++) {
    const t0 = performance.now()
    await one(i)
    ms.push(performance.now() - t0)
  }
  stop = true
  await echoing
  for (const c of [asker, askerBlock, echo]) c.disconnect()
  return ms
}

/** One troupe run under MONITOR: commands per task naming this run's keys, sent by the client and run by Lua. */
async function commandsPerTask(): Promise<{ client: number; lua: number; top: string }> {
  const tag = `${run}-tcmds`
  const counts = { client: new Map<string, number>(), lua: new Map<string, number>() }
  const monitor = await new Redis(URL).monitor()
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!args.some((a) => a.includes(tag))) return
    const into = source === 'lua' ? counts.lua : counts.client
    const name = String(args[0]).toLowerCase()
    into.set(name, (into.get(name) ?? 0) + 1)
  })
  await troupe('cmds')
  await new Promise((r) => setTimeout(r, 200))
  monitor.disconnect()
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0) / N
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${(v / N).toFixed(3)}`).join(', ')
  return { client: sum(counts.client), lua: sum(counts.lua), top: `client: ${top(counts.client)}; lua: ${top(counts.lua)}` }
}

async function cleanup(client: RedisClient = admin): Promise<void> {
  const keys = await scanKeys(client, `${run}*`, undefined, 1000)
  // One DEL per key: on a cluster they are in many slots (pipelined per node).
  await pipelined(client, keys.map((k) => ['DEL', k]))
}

// The cluster: three masters on this machine, and queue names whose slots are on each master.
let cluster: RedisCluster | undefined
let clustered: { single: Place; spread: Place } | undefined
if (process.env.CLUSTER !== '0' && CASES.includes('jobs')) {
  cluster = await new RedisCluster({ masters: 3 }).start()
  const client = makeClient(cluster.url)
  client.on('error', () => {})
  await client.connect()
  const byMaster = new Map<number, string>()
  for (let i = 0; byMaster.size < 3; i++) {
    const name = `jobs-${i}`
    const port = await cluster.masterOf(`x:{${name}}:q`)
    // The results queue beside its tasks (`{jobs-i.results}` lands elsewhere; keep both on the master when it does not).
    if (!byMaster.has(port) && await cluster.masterOf(`x:{${name}.results}:q`) === port) byMaster.set(port, name)
  }
  const names = [...byMaster.values()]
  clustered = { single: { url: cluster.url, admin: client, queues: [names[0]!] }, spread: { url: cluster.url, admin: client, queues: names } }
}

const contenders: Record<string, (round: number) => Promise<number>> = {
  troupe, bullmq, 'raw-streams': rawStreams,
  ...clustered ? {
    'troupe cluster, 1 queue': (round: number) => troupe(`c${round}`, clustered!.single),
    'troupe cluster, 3 queues': (round: number) => troupe(`s${round}`, clustered!.spread),
  } : {},
}
const askers: Record<string, (round: number) => Promise<number[]>> = { troupe: troupeAsk, 'raw-streams': rawAsk }
// ONLY=troupe,raw-streams runs a subset (for profiling).
const only = process.env.ONLY?.split(',')
const samples: Record<string, number[]> = {}
if (CASES.includes('jobs')) for (const name of Object.keys(contenders)) if (!only || only.includes(name)) samples[name] = []
const askMs: Record<string, number[]> = {}
if (CASES.includes('ask')) for (const name of Object.keys(askers)) if (!only || only.includes(name)) askMs[name] = []
let commands: Awaited<ReturnType<typeof commandsPerTask>> | undefined
try {
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved rounds, so a neighbour's burst on the shared CPU hits every contender alike.
    for (const name of Object.keys(samples)) samples[name]!.push(await contenders[name]!(round))
    for (const name of Object.keys(askMs)) askMs[name]!.push(...await askers[name]!(round))
  }
  if (samples.troupe) commands = await commandsPerTask()
} finally {
  await cleanup()
  admin.disconnect()
  if (clustered) { await cleanup(clustered.single.admin); clustered.single.admin.disconnect() }
  await cluster?.stop()
}
const cases: Cases = {}
if (Object.keys(samples).length) cases.jobs = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]))
// Sequential asks: ops/s = 1000 / median ms.
if (Object.keys(askMs).length) cases.ask = Object.fromEntries(Object.entries(askMs).map(([k, v]) => [k, 1000 / median(v)]))
report('redis', cases, [
  ...cases.jobs ? [`${N} tasks per run, median of ${ROUNDS} interleaved rounds; samples (ops/s): ` +
    Object.entries(samples).map(([k, v]) => `${k} ${v.map((x) => Math.round(x)).join('/')}`).join(', ')] : [],
  ...cases.ask ? [`ask: ${ASKS} sequential asks per round, ${ROUNDS} interleaved rounds; ops/s = 1000 / p50 ms; per ask (ms) ` +
    Object.entries(askMs).map(([k, v]) => `${k} p50 ${median(v).toFixed(3)} p90 ${percentile(v, 90).toFixed(3)} p99 ${percentile(v, 99).toFixed(3)}`).join(', ')] : [],
  ...commands ? [`troupe, Redis commands per task (one more run, under MONITOR): ${commands.client.toFixed(4)} sent by the client, ` +
    `${commands.lua.toFixed(3)} run by Lua (${commands.top})`] : [],
  ...clustered && cases.jobs?.troupe ? [`cluster (3 masters on this machine) / one Redis: 1 queue ${(cases.jobs!['troupe cluster, 1 queue']! / cases.jobs!.troupe).toFixed(2)}x, ` +
    `3 queues ${(cases.jobs!['troupe cluster, 3 queues']! / cases.jobs!.troupe).toFixed(2)}x`] : [],
])
process.exit(0)
