/**
 * RedisPool: a Pool whose tasks and results live in Redis, so workers on any
 * machine (`troupe worker --redis URL --tasks NAME ...`, or the pool's own
 * worker processes) serve it, and a task whose worker dies runs elsewhere.
 * Same shape as Pool: applyAsync / map / starmap / imap / imapUnordered,
 * AsyncResult, close / join / terminate.
 */
import { availableParallelism } from 'node:os'
import { randomBytes } from 'node:crypto'
import { locate, type Endpoint } from '../process/index.js'
import { fromWireError, type WireError } from '../codec/index.js'
import { TimeoutError, TroupeError, WorkerCrashedError } from '../errors.js'
import {
  Connection, Outage, transient, queueKeys, allKeys, codecFor, spawnWorker, Consumer, putEntries, defaultRedis, idMaker, checkSendable,
  type RedisTarget, type CodecName, type QueueKeys, type ValueCodec, type WorkerBoot, type Delivery,
} from '../backends/index.js'
import { AsyncResult } from './async-result.js'
import { PoolFront, abortError, earlyDeathsError, EARLY_DEATHS_LIMIT, type BaseApplyOptions, type Mode, type PoolCounters, type PoolFunction } from './front.js'
import { MODE_APPLY, MODE_MAP } from './protocol.js'
import { armWait } from '../timers.js'

/** Options of `new RedisPool()`. */
export interface RedisPoolOptions {
  /** Redis URL, options or client (default: `TROUPE_REDIS`, `REDIS_URL`, or `redis://127.0.0.1:6379`). */
  redis?: RedisTarget
  /** Task queue name that workers serve (default `troupe-pool`). */
  name?: string
  /** Worker processes this pool starts on this machine (default `os.availableParallelism()`; 0: only outside workers). */
  workers?: number
  /** Tasks each worker process runs at once when functions are async (default 1). */
  concurrency?: number
  /** Re-runs of a task after its worker died holding it, before it fails with WorkerCrashedError (default 3). */
  maxRetries?: number
  /** Re-runs of a task after it threw (default 0). */
  retries?: number
  /** Visibility timeout of a running task, ms (default 30,000); must exceed a task's longest synchronous stretch. */
  leaseMs?: number
  /** Key prefix (default `troupe`). */
  prefix?: string
  /** `v8` (default) or `json`. */
  codec?: CodecName
  /** How long a finished task's id is remembered, so a rerun (its worker died before acknowledging) records no second result (default 24 h). */
  doneRetentionMs?: number
  /** Dead letters kept in the task queue (approximately; default 10,000). */
  deadLetterMaxLen?: number
}

/** Options of `applyAsync` on a RedisPool. */
export interface RedisApplyOptions<R> extends BaseApplyOptions<R>, RedisTaskOptions {}

/** What a RedisPool task takes beyond the callbacks. */
export interface RedisTaskOptions {
  /** Stop waiting: the result rejects with AbortError (a worker that already took the task still runs it). */
  signal?: AbortSignal
  /** Milliseconds from submission (the pool cannot see when a remote worker starts); then TimeoutError. */
  timeout?: number
}

/** What `stats()` returns: the counters every pool has (`workers` counts this pool's own worker processes). */
export interface RedisPoolStats extends PoolCounters {}

interface Pending {
  result: AsyncResult<any>
  /** Ends the task's timeout and signal wait (timers.ts). */
  disarm?: () => void
}

interface Outgoing { fn: string; chunk: boolean; id: string; payload: Buffer }

/** A Pool whose tasks and results live in Redis: the Pool API, served by workers on any machine. */
export class RedisPool extends PoolFront<RedisTaskOptions> {
  /** The task queue's name. */
  readonly name: string
  /** Worker processes this pool keeps on this machine. */
  readonly size: number
  protected readonly label: string
  private readonly prefix: string
  private readonly conn: Connection
  private readonly codec: ValueCodec
  private readonly taskKeys: QueueKeys
  private readonly resultsName: string
  private readonly results: Consumer
  private readonly newId = idMaker()
  private readonly pending = new Map<string, Pending>()
  private readonly fnRefs = new Map<Function, Promise<string>>()
  private outgoing: Outgoing[] = []
  private flushing?: Promise<void>
  private sending: Promise<unknown> = Promise.resolve()
  private reading = false
  private readonly workers = new Set<Endpoint>()
  private readonly exits: Promise<unknown>[] = []
  private readonly boot: WorkerBoot
  private stopping = false
  private earlyDeaths = 0
  private broken?: Error
  private drained?: () => void
  private counts = { completed: 0, failed: 0, crashes: 0 }
  private readerError?: Error

  constructor(options: RedisPoolOptions = {}) {
    super()
    this.name = options.name ?? 'troupe-pool'
    this.label = `the Redis pool '${this.name}'`
    const prefix = this.prefix = options.prefix ?? 'troupe'
    this.size = options.workers ?? availableParallelism()
    if (!(Number.isInteger(this.size) && this.size >= 0)) throw new RangeError(`workers must be an integer >= 0, got ${options.workers}`)
    this.conn = new Connection(options.redis ?? defaultRedis())
    this.codec = codecFor(options.codec)
    this.taskKeys = queueKeys(this.name, prefix)
    this.resultsName = `${this.name}.results.${randomBytes(6).toString('hex')}`
    this.results = new Consumer(this.conn, queueKeys(this.resultsName, prefix), {
      group: 'pool', consumer: 'pool', leaseMs: 60_000, maxRetries: 1_000_000, delayPollMs: 60_000,
    })
    this.boot = {
      redis: this.conn.address, tasks: this.name, prefix, codec: options.codec, concurrency: options.concurrency,
      leaseMs: options.leaseMs, maxRetries: options.maxRetries, retries: options.retries,
      doneRetentionMs: options.doneRetentionMs, deadLetterMaxLen: options.deadLetterMaxLen,
    }
    if (this.size > 0) checkSendable(this.boot.redis, 'worker processes')
    for (let i = 0; i < this.size; i++) this.spawn(i)
  }

  private spawn(i: number): void {
    const w = spawnWorker(this.boot, `redis-pool-worker-${i + 1}`)
    let served = false
    let bootError: string | undefined
    w.onMessage((m: { t?: string; error?: WireError }) => {
      // A worker still booting when join() said stop did not hear it; tell it again once it listens.
      if (m?.t === 'ready' && this.stopping) w.send({ t: 'stop' })
      else if (m?.t === 'serving') { served = true; this.earlyDeaths = 0 }
      else if (m?.t === 'boot-error') bootError = m.error?.message
    })
    this.workers.add(w)
    this.exits.push(w.exited.then((info) => {
      this.workers.delete(w)
      if (this.closed || info.exitCode === 0) return
      this.counts.crashes++
      // Workers that die before they serve (Redis unreachable from them, a module that exits on import) are not respawned forever.
      if (!served && ++this.earlyDeaths >= EARLY_DEATHS_LIMIT) {
        const how = `${info.signal ? `was killed by ${info.signal}` : `exited with code ${info.exitCode}`}${bootError ? `: ${bootError}` : ''}`
        const err = earlyDeathsError(WorkerCrashedError, this.label, how)
        err.exitCode = info.exitCode
        err.signal = info.signal
        this.broken = err
        for (const id of [...this.pending.keys()]) this.settle(id, false, err)
        return
      }
      // A worker that died while the pool runs is replaced; its tasks go to others when their lease expires.
      this.spawn(i)
    }))
  }

  protected chunkWorkers(): number {
    return this.size
  }

  protected defaultInflight(): number {
    return Math.max(2, this.size) * 4
  }

  protected submit<R>(fn: PoolFunction, mode: Mode, args: unknown[], o: RedisApplyOptions<R> | undefined): AsyncResult<R> {
    if (typeof fn !== 'function') throw new TypeError(`expected a function to run, got ${typeof fn}`)
    const result = new AsyncResult<R>(o?.callback, o?.errorCallback)
    if (this.broken && this.workers.size === 0) { this.counts.failed++; result.reject(this.broken); return result }
    const chunk = mode !== MODE_APPLY
    let payload: Buffer
    try {
      // One Redis task per chunk: a list of argument lists, answered by a list of results.
      const lists = !chunk ? args : mode === MODE_MAP ? (args[0] as unknown[]).map((x) => [x]) : args[0] as unknown[][]
      // Encoding here (not later) reports an unsendable argument right away, by path.
      payload = this.codec.encode(lists, chunk ? 'items' : 'args')
    } catch (err) {
      this.counts.failed++
      result.reject(err as Error)
      return result
    }
    const id = this.newId()
    const p: Pending = { result }
    this.pending.set(id, p)
    if (o?.signal?.aborted) { this.settle(id, false, abortError(o.signal)); return result }
    if (o?.timeout !== undefined || o?.signal) {
      const signal = o.signal
      p.disarm = armWait({ timeout: o.timeout, signal },
        () => this.settle(id, false, new TimeoutError(`task ${id} got no result within ${o.timeout} ms`)),
        () => this.settle(id, false, abortError(signal!)))
    }
    let ref = this.fnRefs.get(fn)
    if (!ref) this.fnRefs.set(fn, ref = locate(fn).then((r) => `${r.url}#${r.name}`))
    ref.then((fnRef) => {
      this.outgoing.push({ fn: fnRef, chunk, id, payload })
      this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush())
    }, (err: Error) => this.settle(id, false, err))
    this.startReader()
    return result
  }
  /** Send what was submitted this tick: one Lua call per thousand tasks of the same function. */
  private async flush(): Promise<void> {
    this.flushing = undefined
    const batch = this.outgoing.filter((t) => this.pending.has(t.id))
    this.outgoing = []
    const groups = new Map<string, Outgoing[]>()
    for (const t of batch) {
      const key = `${t.chunk ? 'c' : 'a'}${t.fn}`
      let g = groups.get(key)
      if (!g) groups.set(key, g = [])
      g.push(t)
    }
    const prev = this.sending
    this.sending = (async () => {
      await prev
      try {
        await this.conn.open()
        // The results stream exists before any task does: workers record pool results only into a stream that exists.
        await this.results.ensureGroup()
        for (const g of groups.values()) {
          await putEntries(this.conn, this.taskKeys, g, (t) => [t.id, t.payload], { fn: g[0]!.fn, results: this.resultsName, chunk: g[0]!.chunk })
        }
      } catch (err) {
        for (const t of batch) this.settle(t.id, false, err as Error)
      }
    })()
    await this.sending
  }

  private startReader(): void {
    if (this.reading) return
    this.reading = true
    void this.readLoop()
  }

  private async readLoop(): Promise<void> {
    const outage = new Outage()
    try {
      while (this.pending.size > 0) {
        let got: Delivery[]
        try {
          got = await this.results.read(1000, 1000)
          outage.ok()
        } catch (err) {
          // Redis restarting or a Cluster failing over: results wait in their stream meanwhile.
          if (await outage.waitOut(err)) continue
          throw err
        }
        if (got.length === 0) continue
        for (const d of got) this.answer(d)
        // A lost ack only means these results come again after the lease (answer() ignores ids already settled).
        await this.results.ack(got.map((d) => d.id)).catch((err) => {
          if (!transient(err)) throw err
          for (const d of got) this.results.held.delete(d.id)
        })
      }
    } catch (err) {
      // Redis gone for good (ioredis gave up reconnecting): every caller hears about it.
      this.readerError = err as Error
      for (const id of [...this.pending.keys()]) this.settle(id, false, new TroupeError(`lost the results of Redis pool '${this.name}': ${(err as Error).message}`, { cause: err }))
    } finally {
      this.reading = false
    }
    if (this.pending.size > 0 && !this.readerError) this.startReader()
    else this.drained?.()
  }

  private answer(d: Delivery): void {
    if (!this.pending.has(d.taskId)) return
    let value: unknown
    try {
      value = this.codec.decode(d.payload)
    } catch (err) {
      this.settle(d.taskId, false, err as Error)
      return
    }
    if (d.error) this.settle(d.taskId, false, fromWireError(value as WireError))
    else this.settle(d.taskId, true, value)
  }

  private settle(id: string, ok: boolean, value: unknown): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    p.disarm?.()
    if (ok) { this.counts.completed++; p.result.fulfill(value) } else { this.counts.failed++; p.result.reject(value as Error) }
    if (this.pending.size === 0) this.drained?.()
  }

  protected closing(): void {}

  protected async terminating(): Promise<void> {
    for (const id of [...this.pending.keys()]) this.settle(id, false, this.terminatedError())
    await Promise.all([...this.workers].map((w) => w.kill()))
  }

  protected async joining(): Promise<void> {
    if (this.pending.size > 0) {
      await new Promise<void>((resolve) => { const prev = this.drained; this.drained = () => { if (this.pending.size === 0) { this.drained = prev; prev?.(); resolve() } } })
    }
    this.stopping = true
    for (const w of this.workers) w.send({ t: 'stop' })
    await Promise.all(this.exits)
    await this.sending
    if (this.conn.main.status === 'ready') {
      await this.results.close()
      await this.conn.main.call('DEL', ...allKeys(queueKeys(this.resultsName, this.prefix))).catch(() => {})
    }
    await this.conn.close()
  }

  /** Counters and local worker count. */
  stats(): RedisPoolStats {
    return { workers: this.workers.size, ...this.counts, pending: this.pending.size }
  }
}
