import { withTimeout } from '../../timers.js'
import { DashboardMetrics } from './metrics.js'
import {
  queueKey,
  type ActionResult, type ActorNode, type ActorSystemStat, type ActorsReport, type DeadLetterStat, type DelayedStat, type PoolReport,
  type PoolStat, type QueueAction, type QueueStat, type Report, type Snapshot, type SourceStat, type SourceTrouble, type TaskFailure,
  type ThroughputPoint, type WorkerReport, type WorkerStat,
} from './model.js'

/** What one source (a manager, a Redis server, an in-process registry) knows right now. */
export interface SourceSample {
  /** Queues with their depth and, when the source counts them, running put/got totals. */
  queues?: QueueStat[]
  /** The latest report of each worker, pool and actor system the source relays. */
  reports?: Report[]
  /** Newest dead letters of its queues (Redis). */
  deadLetters?: DeadLetterStat[]
  /** Delayed items due soonest (Redis). */
  delayed?: DelayedStat[]
}

/** Something the dashboard samples once per interval. */
export interface Source {
  /** Shown in the page header and the `troupe_dashboard_source_up` metric (e.g. `manager 127.0.0.1:5000`). */
  readonly name: string
  sample(): Promise<SourceSample>
  /** Carry out an operator's action on one of its queues (the page's buttons, with `--allow-actions`). */
  act?(action: QueueAction): Promise<ActionResult>
  close?(): Promise<void>
}

/** How the collector samples and what it remembers. */
export interface CollectorOptions {
  /** Sampling period. Default 1000 ms. */
  intervalMs?: number
  /** Throughput points kept for a freshly opened page. Default: 10 minutes' worth (600 at 1 s), at most 6000. */
  historySize?: number
  /** Depth points kept per queue for its sparkline. Default 120. */
  queueHistorySize?: number
  /** A worker, pool or actor system whose report stopped changing for this long is shown as lost. Default max(5 s, 5 intervals). */
  lostAfterMs?: number
  /** Exited and lost entries disappear after this long. Default 10 minutes. */
  forgetAfterMs?: number
  /** A source that does not answer within this time counts as down for that sample. Default max(2 s, 2 intervals). */
  sampleTimeoutMs?: number
  /** Rates are averaged over this window, so batched takes do not zig-zag. Default max(3 s, 3 intervals). */
  rateWindowMs?: number
  /** Task times shown on the page are those of this last window. Default 60 s. */
  taskTimeWindowMs?: number
  /** Whether sources may be asked to act (`--allow-actions`). Default false. */
  actions?: boolean
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
  /** Index of the next failure not yet in the failure list. */
  nextFailure: number
  lostSince?: number
}

/** A queue's running totals at one sample, for rates over a window. */
interface QueueMark { t: number; put?: number; got?: number }

/** Task durations of one worker's sample, with the labels they are counted under. */
export interface Durations { queue: string; fn: string; ms: number[] }

const MAX_FAILURES = 100
const MAX_LISTED = 100

/**
 * Samples every source once per interval and turns what it finds into one
 * Snapshot: rates from running totals (averaged over a few seconds),
 * utilisation from busy time, liveness from whether a report still changes.
 * The dashboard's clock is the only one used for time differences, so workers
 * on machines with skewed clocks still show the right rates. A source that
 * does not answer keeps its last queues on the page, marked stale, and the
 * chart's totals become unknown (a gap), not zero (a drain that did not happen).
 */
export class Collector {
  /** The Prometheus registry this collector feeds. */
  readonly metrics: DashboardMetrics
  readonly intervalMs: number
  /** Whether sources may be asked to act. */
  readonly actions: boolean
  private readonly historySize: number
  private readonly queueHistorySize: number
  private readonly lostAfterMs: number
  private readonly forgetAfterMs: number
  private readonly sampleTimeoutMs: number
  private readonly rateWindowMs: number
  private readonly taskTimeWindowMs: number
  private readonly tracked = new Map<string, Tracked>()
  private readonly marks = new Map<string, QueueMark[]>()
  private readonly listeners = new Set<(snap: Snapshot) => void>()
  private readonly points: ThroughputPoint[] = []
  private readonly depthHistory = new Map<string, (number | null)[]>()
  private readonly lastSample = new Map<string, { sample: SourceSample; at: number }>()
  private readonly downSince = new Map<string, number>()
  // Results queues as workers name them (source|name -> last seen), so output is not counted as backlog.
  private readonly resultsQueues = new Map<string, number>()
  private readonly taskMarks: { t: number; worker: number; pool: number }[] = []
  // Totals since the dashboard started, built from increments: a worker that leaves the page keeps its work counted.
  private readonly sums = { done: 0, failed: 0, poolDone: 0, poolFailed: 0, restarts: 0 }
  private readonly lastTotals = new Map<string, number>()
  // The most recent task durations seen, with when they were seen, for the page's p50/p90/p99 (the histogram has them all).
  private readonly durations = new Float64Array(2048)
  private readonly durationsAt = new Float64Array(2048)
  private durationCount = 0
  private failures: TaskFailure[] = []
  private timer?: NodeJS.Timeout
  private running?: Promise<Snapshot>
  private snap?: Snapshot
  private stopped = false

  constructor(private readonly sources: Source[], options: CollectorOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000
    this.historySize = options.historySize ?? Math.min(6000, Math.max(60, Math.ceil(600_000 / this.intervalMs)))
    this.queueHistorySize = options.queueHistorySize ?? 120
    this.lostAfterMs = options.lostAfterMs ?? Math.max(5000, 5 * this.intervalMs)
    this.forgetAfterMs = options.forgetAfterMs ?? 10 * 60_000
    this.sampleTimeoutMs = options.sampleTimeoutMs ?? Math.max(2000, 2 * this.intervalMs)
    this.rateWindowMs = options.rateWindowMs ?? Math.max(3000, 3 * this.intervalMs)
    this.taskTimeWindowMs = options.taskTimeWindowMs ?? 60_000
    this.actions = options.actions ?? false
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

  /** Depth history of each queue (key `source|name`), oldest first. */
  queueHistory(): Record<string, (number | null)[]> {
    return Object.fromEntries([...this.depthHistory].map(([k, v]) => [k, v.slice()]))
  }

  /** Carry out an operator's action through the source that holds the queue, then sample again. */
  async act(action: QueueAction): Promise<ActionResult> {
    if (!this.actions) throw new ActionRefused(403, 'actions are off: start the dashboard with --allow-actions to enable them')
    const source = this.sources.find((s) => s.name === action.source)
    if (!source) throw new ActionRefused(404, `no source named '${action.source}' (sources: ${this.sources.map((s) => s.name).join(', ')})`)
    if (!source.act) throw new ActionRefused(400, `${source.name} takes no actions`)
    const result = await source.act(action)
    // The page sees the effect at once, not a second later: a sample that began before the action does not count.
    await this.running?.catch(() => undefined)
    void this.tick().catch(() => undefined)
    return result
  }

  /** Sample every source once (concurrent calls share one sample). */
  tick(): Promise<Snapshot> {
    this.running ??= this.sampleOnce().finally(() => { this.running = undefined })
    return this.running
  }

  private async sampleOnce(): Promise<Snapshot> {
    const results = await Promise.all(this.sources.map((s) => this.sampleSource(s)))
    const now = Date.now()
    const sources: SourceStat[] = []
    const queues: QueueStat[] = []
    const present = new Map<string, Set<string>>()
    const durations: Durations[] = []
    const deadLetters: DeadLetterStat[] = []
    const delayed: DelayedStat[] = []
    let anyDown = false
    for (let i = 0; i < this.sources.length; i++) {
      const source = this.sources[i]!
      const r = results[i]!
      let sample: SourceSample
      if ('error' in r) {
        // Only a source that answered before leaves a hole in the totals; one that never did (a wrong authkey
        // from the start) is named in the header, and the totals are those of the sources that answer.
        if (this.lastSample.has(source.name)) anyDown = true
        const since = this.downSince.get(source.name) ?? now
        this.downSince.set(source.name, since)
        sources.push({ name: source.name, ok: false, error: r.error, trouble: r.trouble, since })
        // Its last queues stay on the page, marked stale; its reports are left to go lost by themselves.
        const last = this.lastSample.get(source.name)
        if (!last) continue
        sample = { queues: last.sample.queues?.map((q) => ({ ...q, source: source.name, stale: true })), deadLetters: last.sample.deadLetters, delayed: last.sample.delayed }
      } else {
        this.downSince.delete(source.name)
        sources.push({ name: source.name, ok: true })
        sample = r.sample
        this.lastSample.set(source.name, { sample: { queues: sample.queues, deadLetters: sample.deadLetters, delayed: sample.delayed }, at: now })
        const keys = new Set<string>()
        for (const raw of sample.reports ?? []) {
          const rep = normalize(raw)
          if (!rep) continue
          const key = `${rep.kind}:${rep.id}`
          keys.add(key)
          this.track(key, rep, source.name, now, durations)
        }
        present.set(source.name, keys)
      }
      for (const q of sample.queues ?? []) queues.push(q.stale ? q : this.withRates({ ...q, source: source.name }, now))
      for (const d of sample.deadLetters ?? []) deadLetters.push({ ...d, source: source.name })
      for (const d of sample.delayed ?? []) delayed.push({ ...d, source: source.name })
    }
    // A report its (answering) source no longer holds was withdrawn: the worker said goodbye.
    for (const [key, t] of this.tracked) {
      const keys = present.get(t.source)
      if (keys && !keys.has(key)) this.tracked.delete(key)
    }

    const workers: WorkerStat[] = []
    const pools: PoolStat[] = []
    const actors: ActorSystemStat[] = []
    const readers = new Map<string, number>()
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
        const { recent: _recent, failures: _failures, ...rest } = rep
        workers.push({
          ...rest, source: t.source, state: lost ? 'lost' : rep.state, utilisation: lost || ended ? 0 : t.utilisation, silentFor: Math.round(silent / 1000),
          ...(t.cpu !== undefined && !lost && !ended ? { cpu: t.cpu } : {}),
        })
        if (rep.results) this.resultsQueues.set(`${t.source}|${rep.results}`, now)
        if (rep.queue && !lost && !ended) readers.set(`${t.source}|${rep.queue}`, (readers.get(`${t.source}|${rep.queue}`) ?? 0) + 1)
      } else if (rep.kind === 'pool') {
        const { recent: _recent, ...rest } = rep
        pools.push({ ...rest, lost })
      } else {
        actors.push({ ...rep, lost })
      }
    }
    for (const [k, at] of this.resultsQueues) if (now - at > this.forgetAfterMs) this.resultsQueues.delete(k)
    workers.sort((a, b) => byName(a.id, b.id))
    pools.sort((a, b) => byName(a.id, b.id))
    actors.sort((a, b) => byName(a.id, b.id))
    queues.sort((a, b) => byName(a.source ?? '', b.source ?? '') || byName(a.backend, b.backend) || byName(a.name, b.name))

    let depth = 0
    let output = 0
    for (const q of queues) {
      const key = queueKey(q)
      if (this.resultsQueues.has(key)) q.role = 'results'
      // Manager queues do not know their readers; the workers that report taking from them do.
      if (q.consumers === undefined && q.backend === 'manager') q.consumers = readers.get(key) ?? 0
      if (q.role === 'results') output += q.depth
      else depth += q.depth
    }

    const { done, failed, poolDone, poolFailed, restarts } = this.sums
    const rates = this.taskRates(now)
    const point: ThroughputPoint = anyDown
      ? { t: now, in: null, out: null, tasks: null, poolTasks: null, depth: null }
      : {
        t: now,
        in: round(queues.reduce((s, q) => s + (q.inRate ?? 0), 0)),
        out: round(queues.reduce((s, q) => s + (q.outRate ?? 0), 0)),
        tasks: rates.worker, poolTasks: rates.pool, depth,
      }
    this.points.push(point)
    if (this.points.length > this.historySize) this.points.splice(0, this.points.length - this.historySize)
    this.recordDepths(queues, now)

    for (const d of durations) for (const ms of d.ms) {
      const i = this.durationCount++ % this.durations.length
      this.durations[i] = ms
      this.durationsAt[i] = now
    }
    deadLetters.sort((a, b) => b.at - a.at)
    delayed.sort((a, b) => a.due - b.due)
    const snap: Snapshot = {
      t: now, sources, queues, workers, pools, actors, point,
      totals: { done, failed, poolDone, poolFailed, restarts, depth: anyDown ? null : depth, results: output },
      taskTime: this.taskTime(now), failures: this.failures.slice(), deadLetters: deadLetters.slice(0, MAX_LISTED), delayed: delayed.slice(0, MAX_LISTED),
      actions: this.actions,
    }
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

  /** Tasks/s of queue workers and of pools, over the rate window. */
  private taskRates(now: number): { worker: number; pool: number } {
    const s = this.sums
    this.taskMarks.push({ t: now, worker: s.done + s.failed, pool: s.poolDone + s.poolFailed })
    while (this.taskMarks.length > 2 && now - this.taskMarks[1]!.t >= this.rateWindowMs) this.taskMarks.shift()
    const a = this.taskMarks[0]!
    const dt = (now - a.t) / 1000
    if (dt <= 0) return { worker: 0, pool: 0 }
    return { worker: round(Math.max(0, s.done + s.failed - a.worker) / dt), pool: round(Math.max(0, s.poolDone + s.poolFailed - a.pool) / dt) }
  }

  private recordDepths(queues: QueueStat[], _now: number): void {
    const seen = new Set<string>()
    for (const q of queues) {
      const key = queueKey(q)
      seen.add(key)
      let h = this.depthHistory.get(key)
      if (!h) this.depthHistory.set(key, h = [])
      h.push(q.stale ? null : q.depth)
      if (h.length > this.queueHistorySize) h.shift()
    }
    for (const key of this.depthHistory.keys()) if (!seen.has(key)) this.depthHistory.delete(key)
  }

  private taskTime(now: number): Snapshot['taskTime'] {
    const n = Math.min(this.durationCount, this.durations.length)
    const picked = new Float64Array(n)
    let k = 0
    for (let i = 0; i < n; i++) if (now - this.durationsAt[i]! <= this.taskTimeWindowMs) picked[k++] = this.durations[i]!
    if (k === 0) return undefined
    // A typed array sorts numerically without a comparator.
    const recent = picked.subarray(0, k).sort()
    const at = (p: number) => round(recent[Math.min(k - 1, Math.max(0, Math.ceil(p * k) - 1))]!)
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), samples: k, windowMs: this.taskTimeWindowMs }
  }

  private async sampleSource(s: Source): Promise<{ sample: SourceSample } | { error: string; trouble: SourceTrouble }> {
    try {
      return { sample: await withTimeout(s.sample(), { timeout: this.sampleTimeoutMs }, () => new SampleTimeout(`no answer within ${this.sampleTimeoutMs} ms`)) }
    } catch (err) {
      return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), trouble: troubleOf(err) }
    }
  }

  /** Rates from the difference of running totals over the rate window (so a take every few seconds reads as a steady rate). */
  private withRates(q: QueueStat, now: number): QueueStat {
    const key = queueKey(q)
    let marks = this.marks.get(key)
    if (!marks) this.marks.set(key, marks = [])
    marks.push({ t: now, put: q.put, got: q.got })
    while (marks.length > 2 && now - marks[1]!.t >= this.rateWindowMs) marks.shift()
    const a = marks[0]!
    const out: QueueStat = { ...q }
    if (marks.length > 1 && now > a.t) {
      const dt = (now - a.t) / 1000
      if (q.put !== undefined && a.put !== undefined) out.inRate = round(Math.max(0, q.put - a.put) / dt)
      if (q.got !== undefined && a.got !== undefined) out.outRate = round(Math.max(0, q.got - a.got) / dt)
    }
    return out
  }

  private track(key: string, rep: Report, source: string, now: number, durations: Durations[]): void {
    const t = this.tracked.get(key)
    if (t && t.report.seq === rep.seq) {
      t.seenAt = now
      return
    }
    if (rep.kind === 'actors') this.add(`restarts:${key}`, sumRestarts(rep.roots), 'restarts')
    else if (rep.kind === 'pool') {
      this.add(`done:${key}`, rep.done, 'poolDone')
      this.add(`failed:${key}`, rep.failed, 'poolFailed')
      this.add(`restarts:${key}`, rep.restarts, 'restarts')
    } else if (!rep.pool) {
      // A pool's workers are counted once, through the pool's own totals.
      this.add(`done:${key}`, rep.done, 'done')
      this.add(`failed:${key}`, rep.failed, 'failed')
    }
    const busyMs = rep.kind === 'worker' ? rep.busyMs : 0
    const finished = rep.kind === 'actors' ? 0 : rep.done + rep.failed
    let nextIndex = t?.nextIndex ?? 0
    let nextFailure = t?.nextFailure ?? 0
    if (finished < nextIndex) nextIndex = 0 // restarted under the same id
    if (rep.kind !== 'actors' && rep.recent && Array.isArray(rep.recent.ms)) {
      const { from, ms } = rep.recent
      const fresh = ms.slice(Math.max(0, nextIndex - from))
      if (fresh.length) durations.push({ queue: rep.kind === 'worker' ? rep.queue ?? '' : '', fn: rep.kind === 'worker' ? rep.fn ?? '' : '', ms: fresh })
      nextIndex = Math.max(nextIndex, from + ms.length)
    }
    if (rep.kind === 'worker') {
      if (rep.failed < nextFailure) nextFailure = 0
      for (const f of rep.failures ?? []) {
        if (f.n < nextFailure) continue
        this.failures.unshift({ ...f, worker: rep.id })
        nextFailure = f.n + 1
      }
      if (this.failures.length > MAX_FAILURES) this.failures.length = MAX_FAILURES
      // Failures from several workers arrive in sample order; the list reads newest first.
      this.failures.sort((a, b) => b.at - a.at)
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
    this.tracked.set(key, { report: rep, source, seenAt: now, changedAt: now, busyMs, busyAt: now, utilisation, cpuMs, cpu, nextIndex, nextFailure })
  }
}

/** An action the dashboard will not carry out, with the HTTP status that says why. */
export class ActionRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
    this.name = 'ActionRefused'
  }
}

class SampleTimeout extends Error {
  override name = 'TimeoutError'
}

/** A refused authkey, an unreachable source and a slow one read differently on the page. */
function troubleOf(err: unknown): SourceTrouble {
  if (err instanceof SampleTimeout) return 'timeout'
  const e = err as { name?: string; code?: string; cause?: { code?: string }; message?: string }
  if (e?.name === 'AuthenticationError' || /NOAUTH|WRONGPASS|invalid password/i.test(e?.message ?? '')) return 'auth'
  const code = e?.cause?.code ?? e?.code
  if (e?.name === 'ConnectionClosedError' || ['ECONNREFUSED', 'ENOENT', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET'].includes(code ?? '')) return 'unreachable'
  if (e?.name === 'TimeoutError') return 'timeout'
  return 'error'
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
  const text = (k: string) => (typeof o[k] === 'string' ? o[k] as string : undefined)
  return {
    ...o, ...base, kind: 'worker', state: states.includes(o.state as string) ? o.state as WorkerReport['state'] : 'idle',
    task: typeof o.task === 'string' ? o.task : null, done: count('done'), failed: count('failed'), busyMs: count('busyMs'),
    startedAt: count('startedAt'), recent: ring, queue: text('queue'), results: text('results'), fn: text('fn'),
    backend: o.backend === 'manager' || o.backend === 'redis' ? o.backend : undefined,
    failures: Array.isArray(o.failures) ? o.failures.map(failure).filter((f): f is TaskFailure => f !== undefined) : undefined,
    rssBytes: typeof o.rssBytes === 'number' ? count('rssBytes') : undefined, cpuMs: typeof o.cpuMs === 'number' ? count('cpuMs') : undefined,
  } as WorkerReport
}

function failure(f: unknown): TaskFailure | undefined {
  if (typeof f !== 'object' || f === null) return undefined
  const o = f as Record<string, unknown>
  const e = o.error as Record<string, unknown> | undefined
  if (typeof o.n !== 'number' || typeof o.at !== 'number' || typeof e !== 'object' || e === null) return undefined
  const str = (v: unknown, max: number) => (typeof v === 'string' ? v.slice(0, max) : undefined)
  return {
    n: o.n, at: o.at, task: str(o.task, 300) ?? '?',
    ...(typeof o.queue === 'string' ? { queue: o.queue } : {}), ...(typeof o.attempt === 'number' ? { attempt: o.attempt } : {}),
    error: {
      name: str(e.name, 200) ?? 'Error', message: str(e.message, 2000) ?? '',
      ...(typeof e.stack === 'string' ? { stack: e.stack.slice(0, 8000) } : {}), ...(typeof e.code === 'string' ? { code: e.code } : {}),
    },
  }
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

/** Names in natural order (`w2` before `w10`), with one collator for every comparison. */
const byName = new Intl.Collator(undefined, { numeric: true }).compare

function round(x: number): number {
  return Math.round(x * 100) / 100
}

export type { WorkerReport, PoolReport, ActorsReport }
