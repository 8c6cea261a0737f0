/**
 * What the dashboard knows, as plain JSON: the reports that workers, pools and
 * actor systems publish about themselves, and the snapshot the server streams
 * to the browser. The web front-end imports these types too (type-only), so
 * this file must stay free of Node imports.
 */

/** Where a queue lives. */
export type QueueBackend = 'manager' | 'redis' | 'local'

/** One queue as the page shows it. */
export interface QueueStat {
  name: string
  backend: QueueBackend
  /** The source that reported it (`manager 127.0.0.1:50000`, `redis redis://…`); set by the dashboard. */
  source?: string
  /** Items waiting now. */
  depth: number
  /** Items put since the queue was created, when the source counts them. */
  put?: number
  /** Items taken since the queue was created, when the source counts them. */
  got?: number
  /** Items per second put, over the last few seconds. */
  inRate?: number
  /** Items per second taken, over the last few seconds. */
  outRate?: number
  /** Items put and not yet finished (`taskDone()` / acknowledged), waiting ones included. */
  unfinished?: number
  /** Capacity (0 = unbounded). */
  maxsize?: number
  /** Items taken and not yet finished: without `taskDone()` (JoinableQueue), unacknowledged (Redis). */
  pending?: number
  /** Readers: Redis consumers in the group; for manager queues, the live workers reporting that they take from it. */
  consumers?: number
  /** Items scheduled for later (Redis `put({ delay })`). */
  delayed?: number
  /** Items that ran out of retries (Redis dead-letter stream). */
  dead?: number
  /** Age of the oldest item not yet finished (waiting or taken), ms; 0 when there is none. */
  oldestAgeMs?: number
  /** Sealed (Redis) or closed (manager): no more puts are expected. */
  sealed?: boolean
  /** 'results' when workers put their results here: output, not backlog (not counted as queued). */
  role?: 'results'
  /** Its source did not answer the last sample: these are the last numbers it gave. */
  stale?: boolean
}

/** A task that failed, as a worker reports it and the page lists it. */
export interface TaskFailure {
  /** Index of this failure among the worker's failures (0, 1, 2, ...): how the dashboard sees each one once. */
  n: number
  /** When it failed: ms since the epoch, the worker's clock. */
  at: number
  /** The task: its function and a short preview of its arguments, e.g. `square(7)`. */
  task: string
  /** The queue it came from, when known. */
  queue?: string
  /** Which run this was: 1 the first, more after redeliveries or retries (Redis). */
  attempt?: number
  /** The error's class name, message and stack (the stack as it was where the task ran). */
  error: { name: string; message: string; stack?: string; code?: string }
  /** Set by the dashboard: the worker that reported it. */
  worker?: string
}

/** A dead letter of a Redis queue: a task that ran out of retries, with why. */
export interface DeadLetterStat {
  /** Stream entry id in the dead-letter stream (what actions name). */
  id: string
  queue: string
  source?: string
  taskId: string
  /** When it was dead-lettered (ms since the epoch, from the entry id). */
  at: number
  /** Why: `lease expired 4 times`, `failed: ValueError: ...`, `undecodable: ...`. */
  reason: string
  /** Runs made. */
  attempts: number
  /** A short preview of the task's value. */
  task: string
  /** The last error, when it failed by throwing. */
  error?: { name: string; message: string; stack?: string }
}

/** What a worker (`troupe worker`, a pool worker, anything that runs tasks) says about itself. */
export interface WorkerReport {
  kind: 'worker'
  /** Stable id, unique across the cluster (e.g. `host:pid` or `host:pid:3`). */
  id: string
  host: string
  pid: number
  state: 'starting' | 'idle' | 'busy' | 'stopping' | 'exited'
  /** A short description of the task being run now. */
  task?: string | null
  /** Tasks finished successfully / with an error since the worker started. */
  done: number
  failed: number
  /** Milliseconds spent running tasks since the worker started. */
  busyMs: number
  /** Wall-clock ms (the worker's clock) when it started; only used as a fallback for utilisation. */
  startedAt: number
  /** Incremented on every report; the dashboard marks a worker lost when it stops changing. */
  seq: number
  /**
   * Durations (ms) of the most recently finished tasks: `ms[i]` is the task
   * with index `from + i` counting from 0 over `done + failed`. A ring of at
   * most 256 entries no older than 30 s lets the dashboard feed its histogram
   * without a per-task message; tasks that left the ring before the dashboard
   * looked are counted but not timed.
   */
  recent?: { from: number; ms: number[] }
  /** Where this worker takes its tasks from (queue name), for the page. */
  queue?: string
  /** Where it puts results (queue name): such a queue is output, not backlog. */
  results?: string
  /** The function it runs (export name), for the page and the metrics' `function` label. */
  fn?: string
  /** Where the queue lives: 'manager' or 'redis'. */
  backend?: QueueBackend
  /** The most recent failures (at most 16, no older than 10 minutes), oldest first. */
  failures?: TaskFailure[]
  /** Pool id when the worker belongs to a pool. */
  pool?: string
  /** Resident memory of the worker's process, bytes. */
  rssBytes?: number
  /** CPU time (user + system) of the worker's process since it started, ms. */
  cpuMs?: number
}

/** What a Pool says about itself. */
export interface PoolReport {
  kind: 'pool'
  id: string
  host: string
  pid: number
  /** 'thread' or 'process'. */
  workerKind?: string
  workers: number
  busy: number
  /** Tasks submitted and not yet started. */
  queued: number
  done: number
  failed: number
  /** Workers replaced after a crash. */
  restarts: number
  seq: number
  recent?: { from: number; ms: number[] }
  closed?: boolean
}

/** One actor in a supervision tree. */
export interface ActorNode {
  /** Path from the root, like `/root/pinger`. */
  path: string
  name: string
  /** The actor class name. */
  type?: string
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed'
  /** Messages waiting in the mailbox. */
  mailbox: number
  /** Times this actor was restarted by its supervisor. */
  restarts: number
  /** Messages handled since it started. */
  processed?: number
  /** Where it runs: 'local', 'thread', 'process'. */
  place?: string
  pid?: number
  children: ActorNode[]
}

/** What an actor system (all actors of one process tree) says about itself. */
export interface ActorsReport {
  kind: 'actors'
  id: string
  host: string
  pid: number
  seq: number
  roots: ActorNode[]
}

/** Anything published to the dashboard's report channel. */
export type Report = WorkerReport | PoolReport | ActorsReport

/** A worker as the page shows it. */
export interface WorkerStat extends Omit<WorkerReport, 'recent' | 'state' | 'failures'> {
  state: WorkerReport['state'] | 'lost'
  /** The source its report came through (its queues are that source's). */
  source?: string
  /** Busy fraction 0..1 over the last interval. */
  utilisation: number
  /** Seconds since the dashboard last saw this worker's report change. */
  silentFor: number
  /** CPU used by the worker's process over the last interval, in cores (1 = one core busy). */
  cpu?: number
}

/** A pool as the page shows it. */
export interface PoolStat extends Omit<PoolReport, 'recent'> {
  /** No report for a while: its numbers are the last it gave (busy shown as unknown). */
  lost: boolean
}

/** An actor system as the page shows it. */
export interface ActorSystemStat extends ActorsReport {
  lost: boolean
}

/** One point of the throughput chart; `null` where a source did not answer (drawn as a gap, not a drop to 0). */
export interface ThroughputPoint {
  /** Dashboard time, ms since the epoch. */
  t: number
  /** Items/s put into all queues (smoothed over a few seconds). */
  in: number | null
  /** Items/s taken from all queues (smoothed over a few seconds). */
  out: number | null
  /** Tasks/s finished by queue workers (`troupe worker`, manager or Redis). */
  tasks: number | null
  /** Tasks/s finished by pools. */
  poolTasks: number | null
  /** Items waiting in all queues but results queues (the backlog). */
  depth: number | null
}

/** Why a source is not answering, for the page's words. */
export type SourceTrouble = 'auth' | 'unreachable' | 'timeout' | 'error'

/** A source in the page header. */
export interface SourceStat {
  name: string
  ok: boolean
  /** What went wrong, as the error said it. */
  error?: string
  /** What kind of trouble: a refused authkey reads differently from a stopped manager. */
  trouble?: SourceTrouble
  /** Since when it has not answered (dashboard clock, ms since the epoch). */
  since?: number
}

/** Everything the page shows at one moment. */
export interface Snapshot {
  t: number
  /** What the dashboard is connected to, for the header. */
  sources: SourceStat[]
  queues: QueueStat[]
  workers: WorkerStat[]
  pools: PoolStat[]
  actors: ActorSystemStat[]
  /**
   * Tasks and restarts since the dashboard started (workers that left stay counted); items queued now
   * (the backlog: results queues left out; null while a source does not answer) and items in results queues.
   */
  totals: { done: number; failed: number; poolDone: number; poolFailed: number; restarts: number; depth: number | null; results: number }
  /** Run time of the tasks of the last minute (up to 2048 of them), ms; absent when none ran. */
  taskTime?: { p50: number; p90: number; p99: number; samples: number; windowMs: number }
  /** The most recent task failures (newest first, at most 100), with the worker that reported each. */
  failures: TaskFailure[]
  /** The newest dead letters of every Redis queue that has some (newest first, at most 100). */
  deadLetters: DeadLetterStat[]
  /** Delayed items due soonest, per Redis queue that has some (at most 100). */
  delayed: DelayedStat[]
  /** Whether the page may offer actions (`--allow-actions`). */
  actions: boolean
  /** The newest throughput point (the page keeps its own history). */
  point: ThroughputPoint
}

/** A delayed item of a Redis queue. */
export interface DelayedStat {
  queue: string
  source?: string
  taskId: string
  /** Due at, ms since the epoch. */
  due: number
}

/** The first message on the event stream: the current snapshot plus history. */
export interface Hello {
  version: string
  intervalMs: number
  history: ThroughputPoint[]
  /** Depth history of each queue (key `source|name`), oldest first, aligned with the end of `history`. */
  queueHistory: Record<string, (number | null)[]>
  snapshot: Snapshot
}

/** Something the page asks the dashboard to do (POST /api/actions, with `--allow-actions` and the token). */
export type QueueAction =
  | { kind: 'retry-dead'; source: string; queue: string; ids?: string[] }
  | { kind: 'drop-dead'; source: string; queue: string; ids?: string[] }
  | { kind: 'purge'; source: string; queue: string }
  | { kind: 'promote-delayed'; source: string; queue: string; ids?: string[] }
  | { kind: 'drop-delayed'; source: string; queue: string; ids?: string[] }
  | { kind: 'seal'; source: string; queue: string }

/** What an action did. */
export interface ActionResult {
  ok: boolean
  /** Items it touched. */
  count?: number
  /** Said on the page: `3 dead letters put back on 'tasks'`. */
  message: string
}

/** The key of a queue across sources: `source|name`. */
export function queueKey(q: { source?: string; name: string }): string {
  return `${q.source ?? ''}|${q.name}`
}
