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
import { AbortError, PoolClosedError, TimeoutError, TroupeError, WorkerCrashedError } from '../errors.js'
import {
  Connection, queueKeys, allKeys, codecFor, spawnWorker,
  type RedisTarget, type CodecName, type QueueKeys, type ValueCodec, type WorkerBoot,
} from '../backends/index.js'
import { Consumer, type Delivery } from '../backends/redis/consumer.js'
import { putEntries } from '../backends/redis/queue.js'
import { defaultRedis, idMaker } from '../backends/redis/ids.js'
import { AsyncResult } from './async-result.js'
import { iterateChunks, toChunks } from './imap.js'
import type { PoolFunction, ResultOf, MapOptions, IMapOptions } from './pool.js'

const EARLY_DEATHS_LIMIT = 3

type ArgsThen<F extends PoolFunction, O> = [] extends Parameters<F>
  ? [args?: Parameters<F>, options?: O]
  : [args: Parameters<F>, options?: O]

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
}

/** Options of `applyAsync` on a RedisPool. */
export interface RedisApplyOptions<R> {
  callback?: (value: R) => void
  errorCallback?: (error: Error) => void
  /** Stop waiting: the result rejects with AbortError (a worker that already took the task still runs it). */
  signal?: AbortSignal
  /** Milliseconds from submission (the pool cannot see when a remote worker starts); then TimeoutError. */
  timeout?: number
}

/** What `stats()` returns. */
export interface RedisPoolStats {
  completed: number
  failed: number
  /** Submitted and not yet answered. */
  pending: number
  /** Local worker processes alive. */
  workers: number
  /** Local worker processes that died and were replaced. */
  crashes: number
}

interface Pending {
  result: AsyncResult<any>
  timer?: NodeJS.Timeout
  cleanup?: () => void
}

interface Outgoing { fn: string; chunk: boolean; id: string; payload: Buffer }

/** A Pool whose tasks and results live in Redis. */
export class RedisPool implements AsyncDisposable {
  readonly name: string
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
  private readonly size: number
  private closed = false
  private stopping = false
  private earlyDeaths = 0
  private broken?: Error
  private terminated = false
  private drained?: () => void
  private counts = { completed: 0, failed: 0, crashes: 0 }
  private readerError?: Error

  constructor(options: RedisPoolOptions = {}) {
    this.name = options.name ?? 'troupe-pool'
    const prefix = this.prefix = options.prefix ?? 'troupe'
    const target = options.redis ?? defaultRedis()
    this.conn = new Connection(target)
    this.codec = codecFor(options.codec)
    this.taskKeys = queueKeys(this.name, prefix)
    this.resultsName = `${this.name}.results.${randomBytes(6).toString('hex')}`
    this.results = new Consumer(this.conn, queueKeys(this.resultsName, prefix), {
      group: 'pool', consumer: 'pool', leaseMs: 60_000, maxRetries: 1_000_000, delayPollMs: 60_000,
    })
    this.size = options.workers ?? availableParallelism()
    if (!(Number.isInteger(this.size) && this.size >= 0)) throw new RangeError(`workers must be an integer >= 0, got ${options.workers}`)
    this.boot = {
      redis: this.conn.address, tasks: this.name, prefix, codec: options.codec, concurrency: options.concurrency,
      leaseMs: options.leaseMs, maxRetries: options.maxRetries, retries: options.retries,
    }
    if (typeof this.boot.redis !== 'string' && this.size > 0) {
      for (const [k, v] of Object.entries(this.boot.redis)) if (typeof v === 'function') throw new TypeError(`redis option '${k}' is a function and cannot be sent to worker processes; pass a URL`)
    }
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
        const err = new WorkerCrashedError(`Redis pool '${this.name}': ${EARLY_DEATHS_LIMIT} worker processes in a row died before serving (last: exit ${info.exitCode}${bootError ? `, ${bootError}` : ''})`)
        err.exitCode = info.exitCode
        err.signal = info.signal
        for (const id of [...this.pending.keys()]) this.settle(id, false, err)
        this.broken = err
        return
      }
      // A worker that died while the pool runs is replaced; its tasks go to others when their lease expires.
      this.spawn(i)
    }))
  }

  /** Run `fn(...args)` on a worker and resolve with its result. */
  apply<F extends PoolFunction>(fn: F, ...rest: ArgsThen<F, RedisApplyOptions<ResultOf<F>>>): Promise<ResultOf<F>> {
    try { return this.applyAsync(fn, ...rest).get() } catch (err) { return Promise.reject(err) }
  }

  /** Submit `fn(...args)`; the AsyncResult is awaitable. Throws PoolClosedError after close(). */
  applyAsync<F extends PoolFunction>(fn: F, ...rest: ArgsThen<F, RedisApplyOptions<ResultOf<F>>>): AsyncResult<ResultOf<F>> {
    const args = (rest[0] ?? []) as unknown[]
    if (!Array.isArray(args)) throw new TypeError(`args must be an array of arguments, got ${typeof args}`)
    return this.submit<ResultOf<F>>(fn, args, false, rest[1] as RedisApplyOptions<ResultOf<F>> | undefined)
  }

  /** Apply `fn` to every item; results in order (chunked: one Redis task per chunk). */
  map<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]>, options?: MapOptions<ResultOf<F>>): Promise<ResultOf<F>[]> {
    try { return this.mapAsync(fn, iterable, options).get() } catch (err) { return Promise.reject(err) }
  }

  /** `map`, as one AsyncResult. */
  mapAsync<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]>, options?: MapOptions<ResultOf<F>>): AsyncResult<ResultOf<F>[]> {
    return this.mapChunks<ResultOf<F>>(fn, [...iterable].map((x) => [x]), options)
  }

  /** Like `map`, but each item is an argument list. */
  starmap<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>>, options?: MapOptions<ResultOf<F>>): Promise<ResultOf<F>[]> {
    try { return this.starmapAsync(fn, iterable, options).get() } catch (err) { return Promise.reject(err) }
  }

  /** `starmap`, as one AsyncResult. */
  starmapAsync<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>>, options?: MapOptions<ResultOf<F>>): AsyncResult<ResultOf<F>[]> {
    return this.mapChunks<ResultOf<F>>(fn, [...iterable] as unknown[][], options)
  }

  /** Results in input order as they come; the input is read lazily (at most `inflight` chunks out). */
  imap<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>, options: IMapOptions = {}): AsyncIterableIterator<ResultOf<F>> {
    return this.imapWith<ResultOf<F>>(fn, iterable, options, true)
  }

  /** Like `imap`, in the order results finish. */
  imapUnordered<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>, options: IMapOptions = {}): AsyncIterableIterator<ResultOf<F>> {
    return this.imapWith<ResultOf<F>>(fn, iterable, options, false)
  }

  private imapWith<R>(fn: PoolFunction, iterable: Iterable<unknown> | AsyncIterable<unknown>, options: IMapOptions, ordered: boolean): AsyncIterableIterator<R> {
    this.checkOpen()
    const chunksize = options.chunksize ?? 1
    if (!(Number.isInteger(chunksize) && chunksize >= 1)) throw new RangeError(`chunksize must be a positive integer, got ${chunksize}`)
    const window = options.inflight ?? Math.max(2, this.size) * 4
    return iterateChunks<R>((chunk) => this.submit<R[]>(fn, chunk.map((x) => [x]), true, undefined), iterable, chunksize, window, ordered)
  }

  private mapChunks<R>(fn: PoolFunction, argLists: unknown[][], options: MapOptions<R> = {}): AsyncResult<R[]> {
    this.checkOpen()
    const chunksize = options.chunksize ?? Math.max(1, Math.ceil(argLists.length / (Math.max(1, this.size) * 4)))
    if (!(Number.isInteger(chunksize) && chunksize >= 1)) throw new RangeError(`chunksize must be a positive integer, got ${chunksize}`)
    const whole = new AsyncResult<R[]>(options.callback, options.errorCallback)
    const chunks = toChunks(argLists, chunksize)
    if (chunks.length === 0) { whole.fulfill([]); return whole }
    const parts: R[][] = new Array(chunks.length)
    let left = chunks.length
    chunks.forEach((chunk, i) => {
      this.submit<R[]>(fn, chunk, true, undefined).then((v) => {
        parts[i] = v
        if (--left === 0) whole.fulfill(parts.flat() as R[])
      }, (err: Error) => whole.reject(err))
    })
    return whole
  }

  private submit<R>(fn: PoolFunction, args: unknown[], chunk: boolean, o: RedisApplyOptions<R> | undefined): AsyncResult<R> {
    this.checkOpen()
    if (typeof fn !== 'function') throw new TypeError(`expected a function to run, got ${typeof fn}`)
    const result = new AsyncResult<R>(o?.callback, o?.errorCallback)
    // Encoding here (not later) reports an unsendable argument to the caller right away, by path.
    const payload = this.codec.encode(args, chunk ? 'items' : 'args')
    const id = this.newId()
    const p: Pending = { result }
    this.pending.set(id, p)
    if (o?.timeout !== undefined) {
      p.timer = setTimeout(() => this.settle(id, false, new TimeoutError(`task ${id} got no result within ${o.timeout} ms`)), o.timeout)
    }
    if (o?.signal) {
      const signal = o.signal
      if (signal.aborted) { this.settle(id, false, abortError(signal)); return result }
      const onAbort = () => this.settle(id, false, abortError(signal))
      signal.addEventListener('abort', onAbort, { once: true })
      p.cleanup = () => signal.removeEventListener('abort', onAbort)
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
    try {
      while (this.pending.size > 0) {
        const got = await this.results.read(1000, 1000)
        if (got.length === 0) continue
        for (const d of got) this.answer(d)
        await this.results.ack(got.map((d) => d.id))
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
    if (p.timer) clearTimeout(p.timer)
    p.cleanup?.()
    if (ok) { this.counts.completed++; p.result.fulfill(value) } else { this.counts.failed++; p.result.reject(value as Error) }
    if (this.pending.size === 0) this.drained?.()
  }

  private checkOpen(): void {
    if (this.broken && this.workers.size === 0) throw this.broken
    if (this.closed) throw new PoolClosedError(this.terminated ? 'the Redis pool was terminated' : 'the Redis pool is closed: no new tasks after close()')
  }

  /** Accept no more tasks; `join()` then waits for the submitted ones. */
  close(): void {
    this.closed = true
  }

  /** Stop waiting for anything: pending results reject with PoolClosedError, local workers are killed. */
  async terminate(): Promise<void> {
    this.closed = true
    if (!this.terminated) {
      this.terminated = true
      for (const id of [...this.pending.keys()]) this.settle(id, false, new PoolClosedError('the Redis pool was terminated before this task finished'))
      await Promise.all([...this.workers].map((w) => w.kill()))
    }
    await this.join()
  }

  /** Wait for every submitted task, stop the local workers and clean up; call close() or terminate() first. */
  async join(): Promise<void> {
    if (!this.closed) throw new TroupeError('join() waits for a pool to finish: call close() or terminate() first')
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

  /** `await using pool = new RedisPool(...)`: close, then wait for submitted work. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.join()
  }

  /** Counters and local worker count. */
  stats(): RedisPoolStats {
    return { ...this.counts, pending: this.pending.size, workers: this.workers.size }
  }
}

function abortError(signal: AbortSignal): Error {
  return new AbortError(signal.reason instanceof Error ? signal.reason.message : 'the task was aborted', { cause: signal.reason })
}
