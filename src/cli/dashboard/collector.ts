import { DashboardMetrics } from './metrics.js'
import type {
  ActorNode, ActorSystemStat, ActorsReport, PoolReport, PoolStat, QueueStat, Report, Snapshot,
  ThroughputPoint, WorkerReport, WorkerStat,
} from './model.js'

/** What one source (a manager, a Redis server, an in-process registry) knows right now. */
export interface SourceSample {
  /** Queues with their depth and, when the source counts them, running put/got totals. */
  queues?: QueueStat[]
  /** The latest report of each worker, pool and actor system the source relays. */
  reports?: Report[]
}

/** Something the dashboard samples once per interval. */
export interface Source {
  /** Shown in the page header and the `troupe_dashboard_source_up` metric (e.g. `manager 127.0.0.1:5000`). */
  readonly name: string
  sample(): Promise<SourceSample>
  close?(): Promise<void>
}

/** How the collector samples and what it remembers. */
export interface CollectorOptions {
  /** Sampling period. Default 1000 ms. */
  intervalMs?: number
  /** Throughput points kept for a freshly opened page. Default: 10 minutes' worth (600 at 1 s), at most 6000. */
  historySize?: number
  /** A worker, pool or actor system whose report stopped changing for this long is shown as lost. Default max(5 s, 5 intervals). */
  lostAfterMs?: number
  /** Exited and lost entries disappear after this long. Default 10 minutes. */
  forgetAfterMs?: number
  /** A source that does not answer within this time counts as down for that sample. Default max(2 s, 2 intervals). */
  sampleTimeoutMs?: number
  /** The registry to feed; a new one by default. */
  metrics?: DashboardMetrics
}

interface Tracked {
  report: Report
  source: string
  seenAt: number
  changedAt: number
  busyMs: number
  busyAt: number
  utilisation: number
  cpuMs?: number
  cpu?: number
  /** Index (over done + failed) of the next task whose duration is not yet in the histogram. */
  nextIndex: number
  lostSince?: number
}

/**
 * Samples every source once per interval and turns what it finds into one
 * Snapshot: rates from running totals, utilisation from busy time, liveness
 * from whether a report still changes. The dashboard's clock is the only one
 * used for time differences, so workers on machines with skewed clocks still
 * show the right rates.
 */
export class Collector {
  /** The Prometheus registry this collector feeds. */
  readonly metrics: DashboardMetrics
  readonly intervalMs: number
  private readonly historySize: number
  private readonly lostAfterMs: number
  private readonly forgetAfterMs: number
  private readonly sampleTimeoutMs: number
  private readonly tracked = new Map<string, Tracked>()
  private readonly lastQueue = new Map<string, { t: number; put?: number; got?: number; inRate?: number; outRate?: number }>()
  private readonly listeners = new Set<(snap: Snapshot) => void>()
  private readonly points: ThroughputPoint[] = []
  private lastTasks?: { t: number; total: number }
  // Totals since the dashboard started, built from increments: a worker that leaves the page keeps its work counted.
  private readonly sums = { done: 0, failed: 0, restarts: 0 }
  private readonly lastTotals = new Map<string, number>()
  // The most recent task durations seen, for the page's p50/p90/p99 (the histogram has them all).
  private readonly durations = new Float64Array(2048)
  private durationCount = 0
  private timer?: NodeJS.Timeout
  private running?: Promise<Snapshot>
  private snap?: Snapshot
  private stopped = false

  constructor(private readonly sources: Source[], options: CollectorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000
    this.historySize = options.historySize ?? Math.min(6000, Math.max(60, Math.ceil(600_000 / this.intervalMs)))
    this.lostAfterMs = options.lostAfterMs ?? Math.max(5000, 5 * this.intervalMs)
    this.forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000
    this.sampleTimeoutMs = options.sampleTimeoutMs ?? Math.max(2000, 2 * this.intervalMs)
    this.metrics = options.metrics ?? new DashboardMetrics()
  }

  /** Sample now and then every interval until `stop()`. */
  start(): void {
    this.stopped = false
    const loop = async (): Promise<void> => {
      await this.tick().catch(() => undefined)
      // Scheduled after the sample finishes, so a slow source never stacks samples up.
      if (!this.stopped) this.timer = setTimeout(loop, this.intervalMs).unref()
    }
    void loop()
  }

  /** Stop sampling and close every source. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running?.catch(() => undefined)
    await Promise.all(this.sources.map((s) => s.close?.().catch(() => undefined)))
  }

  /** Call `fn` with every new snapshot; returns the unsubscribe function. */
  subscribe(fn: (snap: Snapshot) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** The newest snapshot (sampling once if there is none yet). */
  async latest(): Promise<Snapshot> {
    return this.snap ?? this.running ?? this.tick()
  }

  /** Throughput points, oldest first. */
  history(): ThroughputPoint[] {
    return this.points.slice()
  }

  /** Sample every source once (concurrent calls share one sample). */
  tick(): Promise<Snapshot> {
    this.running ??= this.sampleOnce().finally(() => { this.running = undefined })
    return this.running
  }

  private async sampleOnce(): Promise<Snapshot> {
    const results = await Promise.all(this.sources.map((s) => this.sampleSource(s)))
    const now = Date.now()
    const sources: Snapshot['sources'] = []
    const queues: QueueStat[] = []
    const present = new Map<string, Set<string>>()
    const durations: number[] = []
    for (let i = 0; i < this.sources.length; i++) {
      const source = this.sources[i]!
      const r = results[i]!
      if ('error' in r) {
        sources.push({ name: source.name, ok: false, error: r.error })
        continue
      }
      sources.push({ name: source.name, ok: true })
      for (const q of r.sample.queues ?? []) queues.push(this.withRates(q, now))
      const keys = new Set<string>()
      for (const raw of r.sample.reports ?? []) {
        const rep = normalize(raw)
        if (!rep) continue
        const key = `${rep.kind}:${rep.id}`
        keys.add(key)
        this.track(key, rep, source.name, now, durations)
      }
      present.set(source.name, keys)
    }
    // A report its (answering) source no longer holds was withdrawn: the worker said goodbye.
    for (const [key, t] of this.tracked) {
      const keys = present.get(t.source)
      if (keys && !keys.has(key)) this.tracked.delete(key)
    }

    const workers: WorkerStat[] = []
    const pools: PoolStat[] = []
    const actors: ActorSystemStat[] = []
    for (const [key, t] of this.tracked) {
      const silent = now - t.changedAt
      const ended = t.report.kind === 'worker' && t.report.state === 'exited' || t.report.kind === 'pool' && t.report.closed === true
      const lost = !ended && silent > this.lostAfterMs
      if (lost) t.lostSince ??= now
      else t.lostSince = undefined
      const goneSince = ended ? t.changedAt : t.lostSince
      if (goneSince !== undefined && now - goneSince > this.forgetAfterMs) {
        this.tracked.delete(key)
        continue
      }
      const rep = t.report
      if (rep.kind === 'worker') {
        const { recent: _recent, ...rest } = rep
        workers.push({
          ...rest, state: lost ? 'lost' : rep.state, utilisation: lost || ended ? 0 : t.utilisation, silentFor: Math.round(silent / 1000),
          ...(t.cpu !== undefined && !lost && !ended ? { cpu: t.cpu } : {}),
        })
      } else if (rep.kind === 'pool') {
        const { recent: _recent, ...rest } = rep
        pools.push({ ...rest, lost })
      } else {
        actors.push({ ...rep, lost })
      }
    }
    workers.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }))
    pools.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }))
    actors.sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }))
    queues.sort((a, b) => a.backend.localeCompare(b.backend) || a.name.localeCompare(b.name))

    const { done, failed, restarts } = this.sums
    let depth = 0
    for (const q of queues) depth += q.depth

    const finished = done + failed
    let tasksRate = 0
    if (this.lastTasks && now > this.lastTasks.t) tasksRate = Math.max(0, finished - this.lastTasks.total) / ((now - this.lastTasks.t) / 1000)
    this.lastTasks = { t: now, total: finished }
    const point: ThroughputPoint = {
      t: now,
      in: round(queues.reduce((s, q) => s + (q.inRate ?? 0), 0)),
      out: round(queues.reduce((s, q) => s + (q.outRate ?? 0), 0)),
      tasks: round(tasksRate),
      depth,
    }
    this.points.push(point)
    if (this.points.length > this.historySize) this.points.splice(0, this.points.length - this.historySize)

    for (const ms of durations) this.durations[this.durationCount++ % this.durations.length] = ms
    const snap: Snapshot = { t: now, sources, queues, workers, pools, actors, totals: { done, failed, restarts, depth }, point, taskTime: this.taskTime() }
    this.metrics.update(snap, durations)
    this.snap = snap
    for (const fn of this.listeners) {
      try { fn(snap) } catch { /* a broken listener must not stop sampling */ }
    }
    return snap
  }

  /** Add what is new in a reported running total (a total that went down restarted from zero). */
  private add(key: string, total: number, into: keyof Collector['sums']): void {
    const last = this.lastTotals.get(key) ?? 0
    this.sums[into] += total >= last ? total - last : total
    this.lastTotals.set(key, total)
  }

  private taskTime(): Snapshot['taskTime'] {
    const n = Math.min(this.durationCount, this.durations.length)
    if (n === 0) return undefined
    const sorted = this.durations.slice(0, n).sort()
    const at = (p: number) => round(sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!)
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), samples: n }
  }

  private async sampleSource(s: Source): Promise<{ sample: SourceSample } | { error: string }> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.sampleTimeoutMs} ms`)), this.sampleTimeoutMs)
    })
    try {
      return { sample: await Promise.race([s.sample(), timeout]) }
    } catch (err) {
      return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
    } finally {
      clearTimeout(timer)
    }
  }

  /** Rates from the difference of running totals since this queue's previous sample. */
  private withRates(q: QueueStat, now: number): QueueStat {
    const key = `${q.backend}:${q.name}`
    const prev = this.lastQueue.get(key)
    const out: QueueStat = { ...q }
    if (prev && now > prev.t) {
      const dt = (now - prev.t) / 1000
      if (q.put !== undefined && prev.put !== undefined) out.inRate = round(Math.max(0, q.put - prev.put) / dt)
      if (q.got !== undefined && prev.got !== undefined) out.outRate = round(Math.max(0, q.got - prev.got) / dt)
    }
    this.lastQueue.set(key, { t: now, put: q.put, got: q.got })
    return out
  }

  private track(key: string, rep: Report, source: string, now: number, durations: number[]): void {
    const t = this.tracked.get(key)
    if (t && t.report.seq === rep.seq) {
      t.seenAt = now
      return
    }
    if (rep.kind === 'actors') this.add(`restarts:${key}`, sumRestarts(rep.roots), 'restarts')
    else {
      // A pool's workers are counted once, through the pool's own totals.
      if (rep.kind === 'pool' || !rep.pool) {
        this.add(`done:${key}`, rep.done, 'done')
        this.add(`failed:${key}`, rep.failed, 'failed')
      }
      if (rep.kind === 'pool') this.add(`restarts:${key}`, rep.restarts, 'restarts')
    }
    const busyMs = rep.kind === 'worker' ? rep.busyMs : 0
    const finished = rep.kind === 'actors' ? 0 : rep.done + rep.failed
    let nextIndex = t?.nextIndex ?? 0
    if (finished < nextIndex) nextIndex = 0 // restarted under the same id
    if (rep.kind !== 'actors' && rep.recent && Array.isArray(rep.recent.ms)) {
      const { from, ms } = rep.recent
      for (let i = Math.max(0, nextIndex - from); i < ms.length; i++) durations.push(ms[i]!)
      nextIndex = Math.max(nextIndex, from + ms.length)
    }
    let utilisation = 0
    let cpu: number | undefined
    const cpuMs = rep.kind === 'worker' ? rep.cpuMs : undefined
    if (t && rep.kind === 'worker' && now > t.busyAt) {
      utilisation = Math.min(1, Math.max(0, (busyMs - t.busyMs) / (now - t.busyAt)))
      if (cpuMs !== undefined && t.cpuMs !== undefined && cpuMs >= t.cpuMs) cpu = round((cpuMs - t.cpuMs) / (now - t.busyAt))
    } else if (rep.kind === 'worker') {
      utilisation = rep.state === 'busy' ? 1 : 0
    }
    this.tracked.set(key, { report: rep, source, seenAt: now, changedAt: now, busyMs, busyAt: now, utilisation, cpuMs, cpu, nextIndex })
  }
}

/**
 * Accept a report only in a shape the page and the metrics can use: anyone
 * holding the authkey can publish one (a Python client, an older troupe), and
 * a missing count must read as 0, not poison a counter with NaN.
 */
function normalize(r: unknown): Report | undefined {
  if (typeof r !== 'object' || r === null) return undefined
  const o = r as Record<string, unknown>
  if ((o.kind !== 'worker' && o.kind !== 'pool' && o.kind !== 'actors') || typeof o.id !== 'string' || o.id === '') return undefined
  const count = (k: string) => (typeof o[k] === 'number' && Number.isFinite(o[k]) && (o[k] as number) >= 0 ? o[k] as number : 0)
  // Without a seq, change cannot be seen: NaN never equals itself, so such a report counts as fresh while present.
  const base = { id: o.id, host: typeof o.host === 'string' ? o.host : '?', pid: count('pid'), seq: typeof o.seq === 'number' ? o.seq : NaN }
  if (o.kind === 'actors') return { ...base, kind: 'actors', roots: Array.isArray(o.roots) ? o.roots.map(node).filter((n): n is ActorNode => n !== undefined) : [] }
  const recent = o.recent as { from?: unknown; ms?: unknown } | undefined
  const ring = recent && typeof recent.from === 'number' && Array.isArray(recent.ms) && recent.ms.every((x) => typeof x === 'number' && x >= 0)
    ? { from: recent.from, ms: recent.ms as number[] } : undefined
  if (o.kind === 'pool') {
    return {
      ...o, ...base, kind: 'pool', workers: count('workers'), busy: count('busy'), queued: count('queued'),
      done: count('done'), failed: count('failed'), restarts: count('restarts'), recent: ring,
    } as PoolReport
  }
  const states = ['starting', 'idle', 'busy', 'stopping', 'exited']
  return {
    ...o, ...base, kind: 'worker', state: states.includes(o.state as string) ? o.state as WorkerReport['state'] : 'idle',
    task: typeof o.task === 'string' ? o.task : null, done: count('done'), failed: count('failed'), busyMs: count('busyMs'),
    startedAt: count('startedAt'), recent: ring,
    rssBytes: typeof o.rssBytes === 'number' ? count('rssBytes') : undefined, cpuMs: typeof o.cpuMs === 'number' ? count('cpuMs') : undefined,
  } as WorkerReport
}

function node(n: unknown): ActorNode | undefined {
  if (typeof n !== 'object' || n === null) return undefined
  const o = n as Record<string, unknown>
  if (typeof o.name !== 'string') return undefined
  const num = (k: string) => (typeof o[k] === 'number' && Number.isFinite(o[k]) ? o[k] as number : 0)
  return {
    ...o, path: typeof o.path === 'string' ? o.path : `/${o.name}`, name: o.name,
    state: (['starting', 'running', 'restarting', 'stopped', 'failed'] as const).find((s) => s === o.state) ?? 'running',
    mailbox: num('mailbox'), restarts: num('restarts'),
    children: Array.isArray(o.children) ? o.children.map(node).filter((c): c is ActorNode => c !== undefined) : [],
  } as ActorNode
}

function sumRestarts(nodes: ActorNode[]): number {
  let n = 0
  for (const a of nodes) n += a.restarts + sumRestarts(a.children)
  return n
}

function round(x: number): number {
  return Math.round(x * 100) / 100
}

export type { WorkerReport, PoolReport, ActorsReport }
