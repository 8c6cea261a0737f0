/**
 * How a worker, pool or actor system tells the dashboard about itself: it
 * keeps its numbers in a `WorkerActivity` (or builds a report however it likes)
 * and `startReporting()` publishes the latest report about once a second to a
 * `ReportBoard` served by the manager (typeid `troupe.reports`), or to a Redis
 * hash. The dashboard reads the board; the latest report per id wins, so a
 * missed publish costs nothing.
 */
import { hostname } from 'node:os'
import { threadId } from 'node:worker_threads'
import type { Report, TaskFailure, WorkerReport } from '../model.js'

/** The Redis hash where reports are published when the cluster reports through Redis (`<prefix>:dashboard:reports`). */
export function redisReportsKey(prefix = 'troupe'): string {
  return `${prefix}:dashboard:reports`
}

/** The typeid under which a manager serves its ReportBoard. */
export const REPORTS_TYPEID = 'troupe.reports'

/** How many recent task durations a report carries at most (see WorkerReport.recent). */
export const RECENT_DURATIONS = 256

/** A duration older than this (ms) leaves the report's ring. */
export const RECENT_MAX_AGE_MS = 30_000

/** Latest report per id, held by the manager server. */
export class ReportBoard {
  private readonly reports = new Map<string, { report: Report; at: number }>()
  private prunedAt = 0

  /**
   * @param maxAgeMs reports not refreshed for this long are dropped (default 15 minutes), so
   *   workers that come and go under new ids do not grow the manager's memory forever.
   */
  constructor(private readonly maxAgeMs = 15 * 60_000) {}

  /** Store (replace) the report of `report.id`. */
  publish(report: Report): void {
    if (typeof report !== 'object' || report === null || typeof (report as { id?: unknown }).id !== 'string') {
      throw new TypeError('a report needs a string id')
    }
    const now = Date.now()
    this.reports.set(`${report.kind}:${report.id}`, { report, at: now })
    if (now - this.prunedAt > 60_000) this.prune(now)
  }

  /** Remove a report (a worker that shut down cleanly). */
  withdraw(kind: Report['kind'], id: string): boolean {
    return this.reports.delete(`${kind}:${id}`)
  }

  /** Every report. */
  all(): Report[] {
    this.prune(Date.now())
    return [...this.reports.values()].map((e) => e.report)
  }

  private prune(now: number): void {
    this.prunedAt = now
    for (const [key, e] of this.reports) if (now - e.at > this.maxAgeMs) this.reports.delete(key)
  }
}

let board: ReportBoard | undefined

/** The ReportBoard of this process: the factory a manager registers as `troupe.reports` (exported so a manager started in a child process can import it). */
export function reportBoard(): ReportBoard {
  board ??= new ReportBoard()
  return board
}

/** Anything with `register(typeid, factory)`: a BaseManager before it serves. */
export interface Registers {
  register(typeid: string, factory: () => unknown, opts?: { exposed?: string[] }): unknown
}

/** Let workers report to this manager: register the `troupe.reports` typeid. Call before `serve()`/`start()`. */
export function enableReports<M extends Registers>(manager: M): M {
  // Only these three: a client holding the authkey may publish and read, nothing else.
  manager.register(REPORTS_TYPEID, reportBoard, { exposed: ['publish', 'withdraw', 'all'] })
  return manager
}

function cpuMs(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** Failures a report carries at most (see WorkerReport.failures). */
export const RECENT_FAILURES = 16

/** A failure older than this (ms) leaves the report. */
export const FAILURE_MAX_AGE_MS = 10 * 60_000

/** Stacks are cut to this many characters in reports. */
const STACK_CHARS = 4000

/** One task in progress, from `WorkerActivity.begin`. */
export interface TaskHandle {
  /** The task finished (`ok` false when it threw; give the error to list it on the dashboard). Idempotent. */
  end(ok: boolean, error?: unknown): void
}

/** What the dashboard lists about a task that fails, besides its description (see `WorkerActivity.begin`). */
export interface TaskInfo {
  /** Which run this is (1 the first; more after a redelivery or a retry). */
  attempt?: number
}

/** Describe a task for the page: `fn(args)`, the arguments as JSON cut to `max` characters. */
export function describeTask(fn: string, args: unknown, max = 200): string {
  let text: string
  try { text = JSON.stringify(args) ?? String(args) } catch { text = String(args) }
  if (text.length > max) text = `${text.slice(0, max - 1)}…`
  return `${fn}(${text})`
}

/** The error part of a TaskFailure, from anything thrown (remote stacks kept as they arrived). */
export function failureError(err: unknown): TaskFailure['error'] {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; remoteStack?: string }
    const stack = e.remoteStack ?? e.stack
    return {
      name: e.name || 'Error', message: e.message,
      ...(stack ? { stack: stack.length > STACK_CHARS ? `${stack.slice(0, STACK_CHARS)}\n    …` : stack } : {}),
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
    }
  }
  let text: string
  try { text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) } catch { text = String(err) }
  return { name: 'Error', message: `non-Error value thrown: ${text}` }
}

/**
 * Running numbers of one worker: call `begin(task)` when a task starts and
 * `end(ok)` when it finishes (or `end` on the handle `begin` returns, when
 * several run at once); `report()` gives the WorkerReport to publish.
 */
export class WorkerActivity {
  readonly id: string
  private state: WorkerReport['state'] = 'starting'
  private readonly running = new Map<number, { description: string; start: number; attempt?: number }>()
  private readonly failures: TaskFailure[] = []
  private nextTask = 0
  private done = 0
  private failed = 0
  private busyMs = 0
  // Busy time is wall-clock time with at least one task running, so utilisation stays within 0..1 with concurrency.
  private busySince = 0
  private seq = 0
  private readonly startedAt = Date.now()
  private readonly ring: number[] = []
  private readonly ringAt: number[] = []
  private ringFrom = 0

  /**
   * @param options.queue where tasks come from, `results` where results go (shown as output, not backlog),
   *   `fn` the function's name, `backend` 'manager' or 'redis': all shown on the page and used as metric labels.
   */
  constructor(private readonly options: { id?: string; queue?: string; results?: string; fn?: string; backend?: WorkerReport['backend']; pool?: string } = {}) {
    this.id = options.id ?? `${hostname()}:${process.pid}${threadId ? `:${threadId}` : ''}`
  }

  /** Ready and waiting for work. */
  idle(): void {
    if (this.running.size === 0 && this.state !== 'stopping' && this.state !== 'exited') this.state = 'idle'
  }

  /**
   * A task started; `description` is shown as the current task (keep it short, e.g. `square(7)`;
   * `describeTask` makes one) and, if it fails, in the failure list with `info.attempt`.
   */
  begin(description: string, info: TaskInfo = {}): TaskHandle {
    const now = performance.now()
    if (this.running.size === 0) this.busySince = now
    const n = this.nextTask++
    this.running.set(n, { description: description.length > 200 ? `${description.slice(0, 199)}…` : description, start: now, attempt: info.attempt })
    if (this.state !== 'stopping') this.state = 'busy'
    return { end: (ok, error) => this.finish(n, ok, error) }
  }

  /** The oldest task in progress finished (`ok` false when it threw; `error` lists it on the dashboard). */
  end(ok: boolean, error?: unknown): void {
    const oldest = this.running.keys().next()
    if (!oldest.done) this.finish(oldest.value, ok, error)
  }

  /** Shutting down (`final`: gone for good; the dashboard greys it out). */
  stopping(final = false): void {
    this.state = final ? 'exited' : 'stopping'
  }

  /** The report to publish now. Busy time includes tasks in progress, so utilisation is right during long tasks. */
  report(): WorkerReport {
    const now = performance.now()
    // Durations older than RECENT_MAX_AGE_MS have been seen by any dashboard sampling at a sane period; an idle worker's report stays small.
    while (this.ringAt.length && now - this.ringAt[0]! > RECENT_MAX_AGE_MS) this.dropOldest()
    const wall = Date.now()
    while (this.failures.length && wall - this.failures[0]!.at > FAILURE_MAX_AGE_MS) this.failures.shift()
    const tasks = [...this.running.values()]
    const task = tasks.length === 0 ? null : tasks.length === 1 ? tasks[0]!.description : `${tasks[tasks.length - 1]!.description} (+${tasks.length - 1} more)`
    return {
      kind: 'worker', id: this.id, host: hostname(), pid: process.pid,
      state: this.state, task, done: this.done, failed: this.failed,
      busyMs: Math.round(this.busyMs + (this.running.size ? now - this.busySince : 0)), startedAt: this.startedAt, seq: ++this.seq,
      recent: { from: this.ringFrom, ms: this.ring.slice() },
      rssBytes: process.memoryUsage.rss(),
      cpuMs: Math.round(cpuMs()),
      ...(this.options.queue ? { queue: this.options.queue } : {}),
      ...(this.options.results ? { results: this.options.results } : {}),
      ...(this.options.fn ? { fn: this.options.fn } : {}),
      ...(this.options.backend ? { backend: this.options.backend } : {}),
      ...(this.options.pool ? { pool: this.options.pool } : {}),
      ...(this.failures.length ? { failures: this.failures.slice() } : {}),
    }
  }

  private dropOldest(): void {
    this.ring.shift()
    this.ringAt.shift()
    this.ringFrom++
  }

  private finish(n: number, ok: boolean, error: unknown): void {
    const t = this.running.get(n)
    if (!t) return
    const now = performance.now()
    this.running.delete(n)
    if (this.running.size === 0) this.busyMs += now - this.busySince
    if (ok) this.done++
    else {
      this.failures.push({
        n: this.failed, at: Date.now(), task: t.description,
        error: error === undefined ? { name: 'Error', message: '(no error given to end())' } : failureError(error),
        ...(this.options.queue ? { queue: this.options.queue } : {}), ...(t.attempt !== undefined ? { attempt: t.attempt } : {}),
      })
      if (this.failures.length > RECENT_FAILURES) this.failures.shift()
      this.failed++
    }
    this.ring.push(Math.round((now - t.start) * 1000) / 1000)
    this.ringAt.push(now)
    if (this.ring.length > RECENT_DURATIONS) this.dropOldest()
    if (this.running.size === 0 && this.state === 'busy') this.state = 'idle'
  }
}

/** Something that can create the manager's `troupe.reports` object: a connected BaseManager. */
export interface CreatesObjects {
  create(typeid: string, ...args: unknown[]): Promise<unknown>
}

/** Where reports go: a connected manager, or a Redis URL. */
export type ReportTarget = CreatesObjects | { redis: string; prefix?: string }

/** Options of `startReporting`. */
export interface ReportingOptions {
  /** Publish period. Default 1000 ms. */
  intervalMs?: number
  /** Called once when publishing fails (e.g. the manager has no `troupe.reports`); reporting keeps trying quietly. */
  onError?: (err: Error) => void
}

/** A running reporter. */
export interface Reporting {
  /** Publish right now (e.g. after the last task) and wait for it. */
  flush(): Promise<void>
  /** Publish a last report (or withdraw it with `{ withdraw: true }`) and stop. */
  stop(opts?: { withdraw?: boolean }): Promise<void>
}

/**
 * Publish `makeReport()` every interval until `stop()`. Never throws into the
 * worker: a dashboard is an observer, and a manager or Redis that cannot take
 * reports must not stop work.
 */
export function startReporting(target: ReportTarget, makeReport: () => Report, options: ReportingOptions = {}): Reporting {
  const intervalMs = options.intervalMs ?? 1000
  let publisher: Promise<Publisher> | undefined
  let warned = false
  let stopped = false
  let inFlight: Promise<void> = Promise.resolve()

  const getPublisher = (): Promise<Publisher> => {
    publisher ??= openPublisher(target).catch((err: unknown) => { publisher = undefined; throw err })
    return publisher
  }
  const publishNow = (): Promise<void> => {
    inFlight = inFlight.then(async () => {
      try {
        await (await getPublisher()).publish(makeReport())
      } catch (err) {
        if (!warned) { warned = true; options.onError?.(err as Error) }
      }
    })
    return inFlight
  }
  const timer = setInterval(() => { if (!stopped) void publishNow() }, intervalMs)
  // Reporting alone must not keep a finished worker alive.
  timer.unref()
  void publishNow()

  return {
    flush: publishNow,
    async stop(opts = {}) {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      await inFlight
      try {
        const p = await getPublisher()
        if (opts.withdraw) {
          const r = makeReport()
          await p.withdraw(r.kind, r.id)
        } else await p.publish(makeReport())
        await p.close()
      } catch (err) {
        if (!warned) { warned = true; options.onError?.(err as Error) }
      }
    },
  }
}

interface Publisher {
  publish(r: Report): Promise<void>
  withdraw(kind: Report['kind'], id: string): Promise<void>
  close(): Promise<void>
}

async function openPublisher(target: ReportTarget): Promise<Publisher> {
  if ('redis' in target) {
    const key = redisReportsKey(target.prefix)
    // Loaded only when reporting to Redis: this module is part of troupe's root face and must stay light.
    const { makeClient, connectClient, describeTarget } = await import('../../../backends/index.js')
    const client = makeClient(target.redis, { maxRetriesPerRequest: 1 })
    client.on('error', () => { /* reported through publish */ })
    await connectClient(client, describeTarget(target.redis))
    return {
      async publish(r) { await client.hset(key, `${r.kind}:${r.id}`, JSON.stringify(r)) },
      async withdraw(kind, id) { await client.hdel(key, `${kind}:${id}`) },
      async close() { client.disconnect() },
    }
  }
  const proxy = (await target.create(REPORTS_TYPEID)) as {
    publish(r: Report): Promise<void>
    withdraw(kind: string, id: string): Promise<boolean>
    [Symbol.asyncDispose]?(): Promise<void>
  }
  return {
    async publish(r) { await proxy.publish(r) },
    async withdraw(kind, id) { await proxy.withdraw(kind, id) },
    async close() { await proxy[Symbol.asyncDispose]?.() },
  }
}
