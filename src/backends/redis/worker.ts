/**
 * The task worker: takes tasks from a Redis queue, runs them, records each
 * result once (idempotently, keyed by task id) and only then acknowledges the
 * task. Used by `troupe worker --redis` and by RedisPool's own workers.
 */
import { pathToFileURL } from 'node:url'
import { resolve as resolvePath } from 'node:path'
import { load, Endpoint, placeLabel, type ModuleRef, type Boot } from '../../process/index.js'
import { toWireError } from '../../codec/index.js'
import { WorkerCrashedError } from '../../errors.js'
import { Connection, transient, type RedisTarget, type RedisAddress } from './connect.js'
export { transient } from './connect.js'
import { queueKeys } from './keys.js'
import { codecFor, type CodecName, type ValueCodec } from './codec.js'
import { Consumer, type Delivery, type Entry } from './consumer.js'
import { consumerName, defaultRedis } from './ids.js'
import * as scripts from './scripts.js'
import { sleep } from '../../timers.js'

/** What a worker serves and how. */
export interface TaskWorkerOptions {
  /** Redis URL, options or client (default: `TROUPE_REDIS`, `REDIS_URL`, local). */
  redis?: RedisTarget
  /** Name of the task queue. */
  tasks: string
  /** Results queue for tasks that do not name their own (pool tasks do). Without it such results are dropped. */
  results?: string
  /** The function for tasks that do not name one: called with the task's item. Pool tasks name theirs. */
  fn?: (...args: any[]) => unknown
  /** Tasks run at once when the function is async (default 1). */
  concurrency?: number
  /** Tasks fetched per round trip (default max(64, 2 x concurrency)). */
  prefetch?: number
  prefix?: string
  codec?: CodecName | ValueCodec
  group?: string
  /** Lease in ms (default 30,000); must exceed the longest synchronous stretch of a task. */
  leaseMs?: number
  /** Redeliveries after a crash or a retry before a task is dead-lettered (default 3). */
  maxRetries?: number
  /** Runs again after the function throws (default 0: the error becomes the task's result). */
  retries?: number
  /** How long a recorded result's task id is remembered, so a rerun records no second result (default 24 h; 0: forever). */
  doneRetentionMs?: number
  /** Dead letters kept in the task queue (approximately; oldest dropped first; default 10,000). */
  deadLetterMaxLen?: number
  /** Stop once no task has arrived for this many ms. */
  idleExit?: number
  /** Stop (after finishing what runs) when aborted. */
  signal?: AbortSignal
  /** Called once connected, before the first task. */
  onServing?: () => void
  /** Called after each flush with the running totals. */
  onProgress?: (stats: TaskWorkerStats) => void
  /** Called as each run of a task starts; the function it returns is called when that run ends (a dashboard's WorkerActivity). */
  onTask?: (task: TaskRun) => ((ok: boolean, error?: unknown) => void) | void
}

/** One run of a task, as `onTask` sees it. */
export interface TaskRun {
  /** Stable across redeliveries and retries. */
  taskId: string
  /** 1 the first run; more after redeliveries and retries. */
  attempt: number
  /** `url#export` for pool tasks; undefined for tasks run by the worker's own function. */
  fn?: string
  /** The decoded item (for pool tasks: the argument list, or a chunk of them). */
  input: unknown
}

/** What a worker did. */
export interface TaskWorkerStats {
  done: number
  failed: number
  retried: number
}

/** Task ids of recorded results are remembered this long by default: a rerun inside it records nothing. */
export const DONE_RETENTION_MS = 24 * 3600_000

/**
 * Record results once per task id: `pairs` is [taskId, payload, ...], all
 * errors or all values. `mustExist`: drop them if the results stream is gone
 * (the pool that wanted them has ended). A task id recorded within
 * `retentionMs` (0: ever) records nothing.
 */
export async function recordResults(conn: Connection, prefix: string, results: string, pairs: (string | Buffer)[], isError = false,
  mustExist = false, retentionMs = DONE_RETENTION_MS): Promise<void> {
  const k = queueKeys(results, prefix)
  // Lua's unpack takes a few thousand values: 1000 results per call.
  for (let i = 0; i < pairs.length; i += 2000) {
    await scripts.record.run(conn.main, [k.stream, k.done, k.count], [isError ? '1' : '0', mustExist ? '1' : '0', Math.max(0, Math.ceil(retentionMs)), ...pairs.slice(i, i + 2000)])
  }
}

/** Load `url#export`. */
function refOf(fn: string): ModuleRef {
  const at = fn.lastIndexOf('#')
  return { url: fn.slice(0, at), name: fn.slice(at + 1) }
}

/** Serve tasks until aborted or idle; resolves with what was done. */
export async function serveTasks(opts: TaskWorkerOptions): Promise<TaskWorkerStats> {
  const prefix = opts.prefix ?? 'troupe'
  const codec = codecFor(opts.codec)
  const concurrency = Math.max(1, opts.concurrency ?? 1)
  const prefetch = Math.max(1, opts.prefetch ?? Math.max(64, concurrency * 2))
  const retries = opts.retries ?? 0
  const retention = opts.doneRetentionMs ?? DONE_RETENTION_MS
  const origin = `redis worker ${placeLabel()}`
  const conn = new Connection(opts.redis ?? defaultRedis())
  const stats: TaskWorkerStats = { done: 0, failed: 0, retried: 0 }
  // Results waiting to be recorded, per results queue, and the tasks to acknowledge after them.
  let pendingResults = new Map<string, { dest: string; error: boolean; mustExist: boolean; pairs: (string | Buffer)[] }>()
  let pendingAcks: string[] = []
  let flushing: Promise<void> = Promise.resolve()
  let flushError: Error | undefined

  const recordDead = (entries: Entry[]) => {
    // The reclaimer dead-lettered tasks whose workers kept dying: their callers get a WorkerCrashedError result.
    for (const e of entries) {
      const dest = e.results ?? opts.results
      if (!dest) continue
      const err = new WorkerCrashedError(`task ${e.taskId} was dead-lettered: ${e.reason ?? 'its workers kept dying'}`)
      addResult(dest, e.taskId, codec.encode(toWireError(err, origin)), true)
    }
    scheduleFlush()
  }
  const consumer = new Consumer(conn, queueKeys(opts.tasks, prefix), {
    group: opts.group ?? 'troupe', consumer: consumerName(), leaseMs: opts.leaseMs ?? 30_000,
    maxRetries: opts.maxRetries ?? 3, delayPollMs: 200, onDead: recordDead, deadMaxLen: opts.deadLetterMaxLen,
  })

  // Tasks that name their results queue come from a pool, which made that stream and deletes it when it ends.
  function addResult(dest: string, taskId: string, payload: Buffer, isError: boolean, mustExist = dest !== opts.results): void {
    const key = `${isError ? 'e' : 'v'}${mustExist ? 'x' : 'c'}${dest}`
    let group = pendingResults.get(key)
    if (!group) pendingResults.set(key, group = { dest, error: isError, mustExist, pairs: [] })
    group.pairs.push(taskId, payload)
  }

  function scheduleFlush(): Promise<void> {
    flushing = flushing.then(async () => {
      const results = pendingResults
      const acks = pendingAcks
      if (results.size === 0 && acks.length === 0) return
      pendingResults = new Map()
      pendingAcks = []
      // Results first, then the ack: a worker dying in between only causes a rerun, whose result is dropped as a duplicate.
      // Redis going away (a restart, a failover) is waited out: recording and acking are idempotent, so retrying is safe.
      for (let attempt = 0; ; attempt++) {
        try {
          for (const g of results.values()) await recordResults(conn, prefix, g.dest, g.pairs, g.error, g.mustExist, retention)
          await consumer.ack(acks)
          break
        } catch (err) {
          if (!transient(err) || attempt >= 100) { flushError = err as Error; break }
          await sleep(200)
        }
      }
      opts.onProgress?.({ ...stats })
    })
    return flushing
  }

  type Fn = (...a: unknown[]) => unknown
  const loaded = new Map<string, Fn | Error>()

  // Functions are imported once, before the first task naming them runs; tasks then call them synchronously.
  async function loadFns(batch: Delivery[]): Promise<void> {
    for (const d of batch) {
      if (!d.fn || loaded.has(d.fn)) continue
      try { loaded.set(d.fn, await load<Fn>(refOf(d.fn))) } catch (err) { loaded.set(d.fn, err as Error) }
    }
  }

  function fnOf(d: Delivery): Fn {
    if (!d.fn) {
      if (!opts.fn) throw new TypeError(`task ${d.taskId} names no function and this worker has none (--module/--export)`)
      return opts.fn as Fn
    }
    const f = loaded.get(d.fn)!
    if (f instanceof Error) throw f
    return f
  }

  async function runChunk(fn: Fn, lists: unknown[][]): Promise<unknown[]> {
    const out: unknown[] = []
    for (const args of lists) {
      let r = fn(...args)
      if (r && typeof (r as PromiseLike<unknown>).then === 'function') r = await r
      out.push(r)
    }
    return out
  }

  /** Run one task; a sync function finishes here and returns undefined, an async one returns its promise. */
  function start(d: Delivery): Promise<void> | undefined {
    let r: unknown
    let ended: ((ok: boolean, error?: unknown) => void) | void = undefined
    try {
      const fn = fnOf(d)
      const input = codec.decode(d.payload)
      ended = opts.onTask?.({ taskId: d.taskId, attempt: d.attempt, fn: d.fn, input })
      r = d.chunk ? runChunk(fn, input as unknown[][]) : d.fn ? fn(...(input as unknown[])) : fn(input)
    } catch (err) {
      return finish(d, false, err, ended)
    }
    if (r && typeof (r as PromiseLike<unknown>).then === 'function') {
      return Promise.resolve(r).then((v) => finish(d, true, v, ended), (err) => finish(d, false, err, ended))
    }
    return finish(d, true, r, ended)
  }

  function finish(d: Delivery, ok: boolean, value: unknown, ended?: ((ok: boolean, error?: unknown) => void) | void): Promise<void> | undefined {
    ended?.(ok, ok ? undefined : value)
    const dest = d.results ?? opts.results
    if (ok) {
      if (!dest) { stats.done++; pendingAcks.push(d.id); return }
      try {
        addResult(dest, d.taskId, codec.encode(value, 'result'), false)
        stats.done++
        pendingAcks.push(d.id)
        return
      } catch (err) {
        value = err
      }
    }
    if (d.attempt <= retries) {
      stats.retried++
      return consumer.retry(d).then(() => {}, (err) => { flushError ??= err as Error })
    }
    stats.failed++
    if (dest) addResult(dest, d.taskId, codec.encode(toWireError(value, origin)), true)
    pendingAcks.push(d.id)
    return undefined
  }

  await consumer.ensureGroup()
  opts.onServing?.()
  let lastTask = Date.now()
  const running = new Set<Promise<void>>()
  const onAbort = () => void conn.unblock()
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    while (!opts.signal?.aborted) {
      if (flushError) throw flushError
      const wait = opts.idleExit !== undefined ? Math.max(1, Math.min(1000, lastTask + opts.idleExit - Date.now())) : 1000
      let batch: Delivery[]
      try {
        batch = await consumer.read(prefetch, wait)
      } catch (err) {
        if (!transient(err)) throw err
        // Redis is restarting or unreachable for a moment: ioredis reconnects; try again shortly.
        await sleep(200)
        continue
      }
      if (batch.length === 0) {
        if (opts.idleExit !== undefined && running.size === 0 && Date.now() - lastTask >= opts.idleExit) break
        continue
      }
      lastTask = Date.now()
      await loadFns(batch)
      for (const d of batch) {
        if (opts.signal?.aborted) { await consumer.release([d.id]); continue }
        const p = start(d)
        if (!p) continue
        // Sync functions finished inside start(); only async ones occupy a slot.
        running.add(p)
        void p.finally(() => running.delete(p))
        if (running.size >= concurrency) await Promise.race(running)
      }
      if (running.size === 0) void scheduleFlush()
      else void Promise.all(running).then(scheduleFlush)
      // Keep at most a couple of batches unrecorded, so a crash redoes little.
      if (consumer.held.size > prefetch * 4) await flushing
    }
    await Promise.all(running)
    await scheduleFlush()
    if (flushError) throw flushError
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    await consumer.close()
    await conn.close()
  }
  return stats
}

/** What a worker child process gets: serve options without the parts that cannot travel. */
export interface WorkerBoot {
  redis: RedisAddress
  tasks: string
  results?: string
  fn?: ModuleRef
  concurrency?: number
  prefetch?: number
  prefix?: string
  codec?: CodecName
  group?: string
  leaseMs?: number
  maxRetries?: number
  retries?: number
  idleExit?: number
  doneRetentionMs?: number
  deadLetterMaxLen?: number
}

/** Runtime of a worker child process (started through Endpoint): serve until told to stop or idle. */
export async function redisWorkerRuntime(boot: Boot): Promise<void> {
  const o = boot.data as WorkerBoot
  const stop = new AbortController()
  boot.link.onMessage((m: { t?: string }) => { if (m?.t === 'stop') stop.abort() })
  // A 'stop' sent before this handler existed was lost: the parent resends it when it hears 'ready'.
  boot.link.send({ t: 'ready' })
  const fn = o.fn ? await load<(...a: unknown[]) => unknown>(o.fn) : undefined
  const stats = await serveTasks({
    ...o, fn, signal: stop.signal,
    onServing: () => boot.link.send({ t: 'serving' }),
    onProgress: (s) => boot.link.send({ t: 'progress', stats: s }),
  })
  boot.link.send({ t: 'done', stats })
  boot.link.unref()
}

/** The ModuleRef of a module path + export given on a command line (relative to the working directory). */
export function moduleRef(path: string, name: string): ModuleRef {
  const url = /^(file|data):/.test(path) ? path : pathToFileURL(resolvePath(path)).href
  return { url, name }
}

/** Start one worker child process serving `boot`. */
export function spawnWorker(boot: WorkerBoot, name: string, stdio: 'inherit' | 'pipe' = 'inherit'): Endpoint {
  return new Endpoint({ kind: 'process', runtime: { url: import.meta.url, name: 'redisWorkerRuntime' }, data: boot, name, stdio })
}

/** Options of `runRedisWorker`: what `troupe worker --redis URL ...` takes, flag for flag. */
export interface RedisWorkerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string
  /** Name of the task queue. */
  tasks: string
  /** Results queue for plain items (pool tasks name their own). */
  results?: string
  /** Path of the module that exports the task function. */
  module: string
  /** Name of the export. */
  export: string
  /** Tasks in flight at once in each process when the function is async (default 1). */
  concurrency?: number
  /** Worker processes to run (default 1: this one). */
  processes?: number
  /** Exit once no task has arrived for this many seconds. */
  idleExit?: number
  /** Show a progress line (default: when stderr is a TTY). */
  progress?: boolean
  /** Key prefix (default `troupe`). */
  prefix?: string
  /** Lease of a running task in ms (default 30,000): a killed worker's tasks run elsewhere after about 1.5 x leaseMs. */
  leaseMs?: number
  /** Redeliveries after a worker died holding a task, before it is dead-lettered (default 3). */
  maxRetries?: number
  /** Runs again after the function throws (default 0). */
  retries?: number
  /** Tasks fetched per round trip (default max(64, 2 x concurrency)). */
  prefetch?: number
  /** Told as each task runs and ends, in this process (`processes` 1 only): what the CLI reports to the dashboard. */
  onTask?: TaskWorkerOptions['onTask']
  /** Told the running totals after each flush instead of the built-in progress line. */
  onProgress?: TaskWorkerOptions['onProgress']
  /** Told once connected, before the first task. */
  onServing?: TaskWorkerOptions['onServing']
}

/** Serve until SIGINT/SIGTERM or `idleExit`, in this process or `processes` children; resolves with the totals. */
export async function runRedisWorker(opts: RedisWorkerOptions): Promise<TaskWorkerStats> {
  const ref = moduleRef(opts.module, opts.export)
  const boot: WorkerBoot = {
    redis: opts.redis, tasks: opts.tasks, results: opts.results, fn: ref, concurrency: opts.concurrency,
    idleExit: opts.idleExit === undefined ? undefined : opts.idleExit * 1000,
    prefix: opts.prefix, leaseMs: opts.leaseMs, maxRetries: opts.maxRetries, retries: opts.retries, prefetch: opts.prefetch,
  }
  let showProgress = opts.progress ?? Boolean(process.stderr.isTTY)
  const progress = opts.onProgress ?? ((s: TaskWorkerStats) => { if (showProgress) process.stderr.write(`\rtroupe worker: ${s.done} done, ${s.failed} failed`) })
  if (opts.onProgress) showProgress = false
  const processes = Math.max(1, opts.processes ?? 1)
  if (processes === 1) {
    const fn = await load<(...a: unknown[]) => unknown>(ref)
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      const stats = await serveTasks({ ...boot, fn, signal: stop.signal, onProgress: progress, onTask: opts.onTask, onServing: opts.onServing })
      if (showProgress) process.stderr.write('\n')
      return stats
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
  const totals = new Map<number, TaskWorkerStats>()
  let stopping = false
  const workers = Array.from({ length: processes }, (_, i) => {
    const w = spawnWorker(boot, `redis-worker-${i + 1}`)
    w.onMessage((m: { t: string; stats?: TaskWorkerStats; error?: { message: string } }) => {
      // A stop sent while this child was still booting was lost: repeat it once it listens.
      if (m.t === 'ready' && stopping) w.send({ t: 'stop' })
      if ((m.t === 'progress' || m.t === 'done') && m.stats) {
        totals.set(i, m.stats)
        progress(sumStats(totals.values()))
      }
      // A module that fails to load reports once and ends the child; say why here.
      if (m.t === 'boot-error') console.error(`troupe worker ${i + 1}: ${m.error?.message}`)
    })
    return w
  })
  const stopAll = () => { stopping = true; for (const w of workers) w.send({ t: 'stop' }) }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  try {
    const exits = await Promise.all(workers.map((w) => w.exited))
    if (showProgress) process.stderr.write('\n')
    if (exits.some((e) => e.exitCode !== 0)) process.exitCode = 1
    return sumStats(totals.values())
  } finally {
    process.off('SIGINT', stopAll)
    process.off('SIGTERM', stopAll)
  }
}

function sumStats(all: Iterable<TaskWorkerStats>): TaskWorkerStats {
  const s = { done: 0, failed: 0, retried: 0 }
  for (const v of all) { s.done += v.done; s.failed += v.failed; s.retried += v.retried }
  return s
}
