/**
 * RedisQueue and RedisJoinableQueue: troupe's Queue and JoinableQueue whose
 * items live in a Redis stream, so producers and consumers on any machine
 * share them and nothing is lost when one of them dies.
 */
import { Empty, Full, ClosedError, AbortError, TimeoutError, TaskDoneError, DecodeError } from '../../errors.js'
import { portable, registerPortable, fromWireError, type WireError } from '../../codec/index.js'
import { Connection, Outage, transient, type RedisTarget, type RedisAddress } from './connect.js'
import { queueKeys, allKeys, type QueueKeys } from './keys.js'
import { codecFor, type CodecName, type ValueCodec } from './codec.js'
import { Consumer, entryFields, parseEntry, DEAD_MAX_LEN, type Delivery } from './consumer.js'
import { idMaker, consumerName, defaultRedis } from './ids.js'
import * as scripts from './scripts.js'
import { armWait, optionsError, sleep } from '../../timers.js'

/** Options of a Redis queue; every consumer of one queue should use the same `group`, `leaseMs` and `maxRetries`. */
export interface RedisQueueOptions {
  /** Redis URL, ioredis options or client. Default: `TROUPE_REDIS`, `REDIS_URL`, or `redis://127.0.0.1:6379`. */
  redis?: RedisTarget
  /** Key prefix (default `troupe`): keys are `<prefix>:{<name>}:...`. */
  prefix?: string
  /** Most unfinished items (put and not yet done, delayed ones included) before `put` waits (0, the default: unbounded). */
  maxsize?: number
  /** `v8` (default) or `json`, or your own `{ encode, decode }`. */
  codec?: CodecName | ValueCodec
  /** Consumer group (default `troupe`). Consumers in one group share the items; each group sees every item. */
  group?: string
  /** This consumer's name (default `host:pid:thread:random`). */
  consumer?: string
  /** Visibility timeout in ms (default 30,000): an item held this long without a heartbeat goes to another consumer. */
  leaseMs?: number
  /** Redeliveries after the first run before an item goes to the dead-letter stream (default 3). */
  maxRetries?: number
  /** Items fetched per round trip (default 1). More is faster; fetched items stay leased to this consumer. */
  prefetch?: number
  /** How often consumers look for due delayed items, in ms (default 200). */
  delayPollMs?: number
  /** Dead letters kept (approximately: whole stream nodes are trimmed, oldest first; default 10,000). */
  deadLetterMaxLen?: number
}

/** Options of `get`. */
export interface GetOptions {
  /** Wait at most this many ms, then reject with `Empty`. */
  timeout?: number
  signal?: AbortSignal
}

/** Options of `put`. */
export interface PutOptions {
  /** When the queue is full, wait at most this many ms, then reject with `Full`. */
  timeout?: number
  signal?: AbortSignal
  /** Deliver no sooner than this many ms from now. */
  delay?: number
  /** Your own task id (default: generated). Results are recorded once per id. */
  id?: string
}

/** A dead letter: an item that ran out of retries. */
export interface DeadLetter<T> {
  taskId: string
  value: T | undefined
  /** Why it was dead-lettered. */
  reason: string
  /** The last error, when the item failed by throwing. */
  error?: Error
  /** Runs made. */
  attempts: number
}

/** A received item with its lease: settle it with `done`, `retry` or `fail`. */
export interface RedisTask<T> {
  value: T
  /** The task id (stable across redeliveries). */
  id: string
  /** 1 on the first run; more after a consumer died holding it or it was retried. */
  attempt: number
  /** Finished: acknowledge it (counts as `taskDone`). */
  done(): Promise<void>
  /** Run it again (after `delayMs`); past `maxRetries` it is dead-lettered instead. */
  retry(delayMs?: number): Promise<void>
  /** Give up on it: move it to the dead-letter stream. */
  fail(reason: string): Promise<void>
}

interface Waiter {
  resolve(d: Delivery): void
  reject(err: Error): void
  cleanup(): void
}

const DEFAULTS = { prefix: 'troupe', maxsize: 0, group: 'troupe', leaseMs: 30_000, maxRetries: 3, prefetch: 1, delayPollMs: 200, deadLetterMaxLen: DEAD_MAX_LEN }
// Blocking reads come back at least this often, so closing never waits on Redis for long.
const BLOCK_SLICE_MS = 2000

/**
 * A FIFO queue in Redis (a stream and a consumer group). Same interface as
 * troupe's Queue, but every method is async: `put`, `get({ timeout, signal })`,
 * `putNowait`, `getNowait`, `qsize`, `empty`, `full`, `close`, `for await`.
 * An item leaves Redis when `get` hands it out; use RedisJoinableQueue to keep
 * it leased until `taskDone`.
 */
export class RedisQueue<T = unknown> implements AsyncIterable<T> {
  readonly name: string
  readonly keys: QueueKeys
  protected readonly conn: Connection
  protected readonly consumer: Consumer
  protected readonly codec: ValueCodec
  protected readonly opts: Required<Omit<RedisQueueOptions, 'redis' | 'codec' | 'consumer'>> & { codec?: CodecName | ValueCodec }
  private readonly newId = idMaker()
  private readonly buffer: Delivery[] = []
  private readonly waiters: Waiter[] = []
  private pumping = false
  private pendingAcks: string[] = []
  private ackFlush?: Promise<void>
  protected closed = false

  constructor(name: string, options: RedisQueueOptions = {}) {
    this.name = name
    this.opts = { ...DEFAULTS, ...stripUndefined(options) } as RedisQueue<T>['opts']
    this.keys = queueKeys(name, this.opts.prefix)
    if (!(this.opts.maxsize >= 0)) throw new RangeError(`maxsize must be >= 0, got ${this.opts.maxsize}`)
    if (!(this.opts.leaseMs > 0)) throw new RangeError(`leaseMs must be > 0, got ${this.opts.leaseMs}`)
    if (!(this.opts.prefetch >= 1)) throw new RangeError(`prefetch must be >= 1, got ${this.opts.prefetch}`)
    this.codec = codecFor(options.codec)
    this.conn = new Connection(options.redis ?? defaultRedis())
    this.consumer = new Consumer(this.conn, this.keys, {
      group: this.opts.group, consumer: options.consumer ?? consumerName(), leaseMs: this.opts.leaseMs,
      maxRetries: this.opts.maxRetries, delayPollMs: this.opts.delayPollMs, deadMaxLen: this.opts.deadLetterMaxLen,
    })
  }

  /** Connect and create the consumer group; methods do this themselves, call it to fail early. */
  async ready(): Promise<this> {
    await this.consumer.ensureGroup()
    return this
  }

  /** Put an item; waits while the queue is full (`maxsize`). Resolves with the task id once Redis has it. */
  async put(item: T, opts: PutOptions = {}): Promise<string> {
    const bad = optionsError('RedisQueue.put()', opts, '{ timeout?, signal?, delay?, id? }', 2)
    if (bad) throw bad
    return this.putItem(item, opts, false)
  }

  /** Put without waiting: rejects with `Full` when the queue is full. */
  async putNowait(item: T, opts: Omit<PutOptions, 'timeout' | 'signal'> = {}): Promise<string> {
    return this.putItem(item, opts, true)
  }

  /** Put many items at once (ignores `maxsize`), a thousand per Lua call; resolves with their task ids. */
  async putMany(items: Iterable<T>): Promise<string[]> {
    this.checkOpen()
    await this.conn.open()
    return putEntries(this.conn, this.keys, items, (item, i) => [this.newId(), this.codec.encode(item, `items[${i}]`)])
  }

  private async putItem(item: T, opts: PutOptions, nowait: boolean): Promise<string> {
    this.checkOpen()
    const payload = this.codec.encode(item, 'item')
    const id = opts.id ?? this.newId()
    if (typeof id !== 'string' || id.length === 0) throw new TypeError('a task id must be a non-empty string')
    await this.conn.open()
    const fields = entryFields(id, payload)
    if (opts.delay && opts.delay > 0) {
      await scripts.delay.run(this.conn.main, [this.keys.delayed, this.keys.delayedData, this.keys.count], [Math.ceil(opts.delay), id, ...fields])
      return id
    }
    // Redis cannot tell us when a stream shrinks: a full queue is polled.
    return pollWithBackoff(async () => {
      this.checkOpen()
      const r = await scripts.put.run(this.conn.main, [this.keys.stream, this.keys.count], [this.opts.maxsize, ...fields])
      if (r) return id
      if (nowait) throw new Full(`Redis queue '${this.name}' is full (maxsize ${this.opts.maxsize})`)
      return undefined
    }, { timeout: opts.timeout, signal: opts.signal, maxPause: 200 },
    () => new Full(`Redis queue '${this.name}' stayed full for ${opts.timeout} ms (maxsize ${this.opts.maxsize})`))
  }

  /** Take the next item, waiting for one (`timeout` -> `Empty`, `signal` -> `AbortError`). */
  async get(opts: GetOptions = {}): Promise<T> {
    const bad = optionsError('RedisQueue.get()', opts)
    if (bad) throw bad
    return this.open(await this.nextDelivery(opts))
  }

  /**
   * Take up to `max` items in one go: waits for the first like `get`, then
   * adds what is there without waiting (one round trip for a batch).
   */
  async getMany(max: number, opts: GetOptions = {}): Promise<T[]> {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`max must be a positive integer, got ${max}`)
    const bad = optionsError('RedisQueue.getMany()', opts, undefined, 2)
    if (bad) throw bad
    const ds = [await this.nextDelivery(opts)]
    while (ds.length < max && this.buffer.length && this.waiters.length === 0) ds.push(this.buffer.shift()!)
    if (ds.length < max && !this.closed) ds.push(...await this.consumer.read(max - ds.length, 0))
    const out: T[] = []
    let firstError: unknown
    // An undecodable item is dead-lettered by open(); the others are still handed out.
    for (const d of ds) { try { out.push(this.open(d)) } catch (err) { firstError ??= err } }
    if (out.length === 0) throw firstError
    return out
  }

  /** Resolves once acknowledgements batched so far are written (puts are written before they resolve). */
  async flush(): Promise<void> {
    await this.flushAcks()
  }

  /** Take an item only if one is there now; otherwise reject with `Empty`. */
  async getNowait(): Promise<T> {
    return this.get({ timeout: 0 })
  }

  /** Items waiting to be delivered (not counting delayed ones or ones consumers hold). */
  async qsize(): Promise<number> {
    const [unfinished, pending, delayed] = await this.sizes()
    return Math.max(0, unfinished - pending - delayed)
  }

  /** Whether no item is waiting to be delivered. */
  async empty(): Promise<boolean> {
    return (await this.qsize()) === 0
  }

  /** Whether `put` would wait (only with `maxsize`). */
  async full(): Promise<boolean> {
    if (this.opts.maxsize === 0) return false
    const [unfinished] = await this.sizes()
    return unfinished >= this.opts.maxsize
  }

  /** [unfinished (delayed included), pending (delivered, not acknowledged), delayed]. */
  protected async sizes(): Promise<[number, number, number]> {
    this.checkOpen()
    await this.conn.open()
    const r = await scripts.sizes.run(this.conn.main, [this.keys.stream, this.keys.count, this.keys.delayed], [this.opts.group]) as number[]
    return [Number(r[0]), Number(r[1]), Number(r[2])]
  }

  /** Say that no more items will be put, by anyone: `for await` loops end once the queue is drained. */
  async seal(): Promise<void> {
    await this.conn.open()
    await this.conn.main.call('HSET', this.keys.meta, 'sealed', '1')
  }

  /** Whether someone sealed the queue. */
  async sealed(): Promise<boolean> {
    await this.conn.open()
    return (await this.conn.main.call('HGET', this.keys.meta, 'sealed')) === '1'
  }

  /** Up to `count` dead letters, oldest first. */
  async deadLetters(count = 100): Promise<DeadLetter<T>[]> {
    await this.conn.open()
    const rows = await this.conn.main.callBuffer('XRANGE', this.keys.dead, '-', '+', 'COUNT', count) as [Buffer, Buffer[]][]
    return rows.map(([id, fields]) => {
      const e = parseEntry(id, fields)
      let error: Error | undefined
      for (let k = 0; k + 1 < fields.length; k += 2) {
        if (fields[k]!.toString() === 'error') {
          try { error = fromWireError(this.codec.decode(fields[k + 1]!) as WireError) } catch { /* leave it out */ }
        }
      }
      let value: T | undefined
      try { value = this.decode(e.payload, e.error) } catch { value = undefined }
      // A dead letter's `a` field is the runs made.
      return { taskId: e.taskId, value, reason: e.reason ?? 'unknown', error, attempts: e.prior }
    })
  }

  /** Delete every key of this queue (items, dead letters, recorded result ids). */
  async destroy(): Promise<void> {
    await this.conn.open()
    await this.conn.main.call('DEL', ...allKeys(this.keys))
  }

  /** Stop using the queue here: waiting `get`s reject with ClosedError; items fetched but not handed out go back to other consumers. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const w of this.waiters.splice(0)) { w.cleanup(); w.reject(new ClosedError(`Redis queue '${this.name}' was closed`)) }
    await this.conn.unblock(this.keys.stream)
    await this.flushAcks()
    await this.consumer.close()
    this.buffer.length = 0
    await this.conn.close()
  }

  /** `await using q = new RedisQueue(...)` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Items as they come; ends when this handle is closed, or once the queue is sealed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.get({ timeout: 500 })
      } catch (err) {
        if (err instanceof ClosedError) return
        if (!(err instanceof Empty)) throw err
        if (this.closed) return
        if (await this.sealed()) {
          const [unfinished] = await this.sizes()
          if (unfinished <= 0) return
        }
      }
    }
  }

  /** Describe this queue so it can be sent to another thread, process or host and work there. */
  [portable](): { type: string; data: unknown } {
    // The target travels as its address (a client object, Cluster or not, cannot): drop it from the options.
    const { codec, redis: _target, consumer: _name, ...rest } = this.opts as typeof this.opts & Pick<RedisQueueOptions, 'redis' | 'consumer'>
    if (codec !== undefined && typeof codec !== 'string') throw new TypeError('a Redis queue with a custom codec object cannot be sent to another place')
    return { type: 'troupe.redis.queue', data: { name: this.name, redis: this.conn.address, joinable: this instanceof RedisJoinableQueue, options: { ...rest, codec } } }
  }

  protected decode(payload: Buffer, isError: boolean): T {
    const v = this.codec.decode(payload)
    // Results queues hold failed tasks as WireErrors; they come out as Error values.
    return (isError ? fromWireError(v as WireError) : v) as T
  }

  /** Decode a delivery and settle it the way this kind of queue does. */
  protected open(d: Delivery): T {
    let value: T
    try {
      value = this.decode(d.payload, d.error)
    } catch (err) {
      // An item nobody can decode would come back forever: dead-letter it and tell this caller.
      void this.consumer.deadLetter(d, `undecodable: ${(err as Error).message}`).catch(() => {})
      throw err instanceof DecodeError ? err : new DecodeError(`item ${d.taskId} of Redis queue '${this.name}' cannot be decoded: ${(err as Error).message}`, { cause: err })
    }
    this.settleOnGet(d)
    return value
  }

  /** A plain queue acknowledges an item as it hands it out (acks are batched per tick). */
  protected settleOnGet(d: Delivery): void {
    // A lost ack only means the item may come again (at-least-once); flushAcks already retried.
    this.scheduleAck(d.id).catch(() => {})
  }

  protected scheduleAck(id: string): Promise<void> {
    this.pendingAcks.push(id)
    this.ackFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushAcks())
    return this.ackFlush
  }

  private async flushAcks(): Promise<void> {
    this.ackFlush = undefined
    const ids = this.pendingAcks
    if (ids.length === 0) return
    this.pendingAcks = []
    // Redis restarting is waited out (an ack is idempotent); past that, the items are let go so they come again.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.consumer.ack(ids)
        return
      } catch (err) {
        if (!transient(err) || attempt >= 150) { for (const id of ids) this.consumer.held.delete(id); throw err }
        await sleep(200)
      }
    }
  }

  /** The next delivery, from the prefetch buffer or Redis. */
  protected nextDelivery(opts: GetOptions): Promise<Delivery> {
    this.checkOpen()
    if (opts.signal?.aborted) return Promise.reject(abortError(opts.signal))
    if (this.buffer.length && this.waiters.length === 0) return Promise.resolve(this.buffer.shift()!)
    return new Promise<Delivery>((resolve, reject) => {
      const drop = () => {
        w.cleanup()
        const i = this.waiters.indexOf(w)
        if (i >= 0) this.waiters.splice(i, 1)
        // Nobody waits any more: wake the blocked read so fetched items land in the buffer.
        if (this.waiters.length === 0 && this.pumping) void this.conn.unblock(this.keys.stream)
      }
      const w: Waiter = { resolve, reject, cleanup: () => {} }
      w.cleanup = armWait({ timeout: opts.timeout !== undefined && opts.timeout !== null && opts.timeout > 0 ? opts.timeout : undefined, signal: opts.signal },
        () => { drop(); reject(new Empty(`Redis queue '${this.name}' stayed empty for ${opts.timeout} ms`)) },
        () => { drop(); reject(abortError(opts.signal!)) })
      this.waiters.push(w)
      if (opts.timeout !== undefined && opts.timeout !== null && opts.timeout <= 0) void this.pollOnce(w)
      else void this.pump()
    })
  }

  // getNowait: one non-blocking read.
  private async pollOnce(w: Waiter): Promise<void> {
    try {
      // A non-blocking read on the main connection; a blocked pump (on its own connection) does not stand in its way.
      this.buffer.push(...await this.consumer.read(this.opts.prefetch, 0))
    } catch (err) {
      this.failWaiters(err as Error)
      return
    }
    const i = this.waiters.indexOf(w)
    if (i < 0) return
    if (this.buffer.length) { this.waiters.splice(i, 1); w.cleanup(); w.resolve(this.buffer.shift()!) } else {
      this.waiters.splice(i, 1); w.cleanup(); w.reject(new Empty(`Redis queue '${this.name}' is empty`))
    }
  }

  private async pump(): Promise<void> {
    if (this.pumping) return
    this.pumping = true
    const outage = new Outage()
    try {
      while (this.waiters.length && !this.closed) {
        while (this.buffer.length && this.waiters.length) {
          const w = this.waiters.shift()!
          w.cleanup()
          w.resolve(this.buffer.shift()!)
        }
        if (this.waiters.length === 0) break
        let got: Delivery[]
        try {
          got = await this.consumer.read(Math.max(this.opts.prefetch, this.waiters.length), BLOCK_SLICE_MS)
          outage.ok()
        } catch (err) {
          // Redis restarting or a Cluster failing over: waiting gets wait (their own timeouts still apply).
          if (!this.closed && await outage.waitOut(err)) continue
          throw err
        }
        if (this.closed) { await this.consumer.release(got.map((d) => d.id)); break }
        this.buffer.push(...got)
      }
    } catch (err) {
      if (!this.closed) this.failWaiters(err as Error)
    } finally {
      this.pumping = false
    }
    if (this.waiters.length && !this.closed) void this.pump()
  }

  private failWaiters(err: Error): void {
    for (const w of this.waiters.splice(0)) { w.cleanup(); w.reject(err) }
  }

  protected checkOpen(): void {
    if (this.closed) throw new ClosedError(`Redis queue '${this.name}' is closed`)
  }
}

/**
 * A RedisQueue whose items stay leased to the consumer that got them until
 * `taskDone()`: if that consumer dies first, the item goes to another one
 * (after `leaseMs`). `join()` waits until every item put has been done.
 */
export class RedisJoinableQueue<T = unknown> extends RedisQueue<T> {
  private readonly outstanding: Delivery[] = []

  /** Mark the oldest item this handle got as done (Python's `task_done`). */
  async taskDone(): Promise<void> {
    const d = this.outstanding.shift()
    if (!d) throw new TaskDoneError(`taskDone() called more times than items were taken from Redis queue '${this.name}' here`)
    await this.scheduleAck(d.id)
  }

  /** Wait until every item put (by anyone) has been taken and done; `timeout` -> TimeoutError. */
  async join(opts: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    const bad = optionsError('RedisQueue.join()', opts)
    if (bad) throw bad
    let unfinished = 0
    // Nothing tells us when the count reaches zero: it is polled.
    await pollWithBackoff(async () => {
      ;[unfinished] = await this.sizes()
      return unfinished <= 0 ? true : undefined
    }, { timeout: opts.timeout, signal: opts.signal, maxPause: 100 },
    () => new TimeoutError(`join() on Redis queue '${this.name}' timed out after ${opts.timeout} ms with ${unfinished} unfinished items`))
  }

  /** Take the next item with its lease, to settle it yourself (`done`, `retry`, `fail`) in any order. */
  async receive(opts: GetOptions = {}): Promise<RedisTask<T>> {
    const d = await this.nextDelivery(opts)
    let value: T
    try { value = this.decode(d.payload, d.error) } catch (err) {
      void this.consumer.deadLetter(d, `undecodable: ${(err as Error).message}`).catch(() => {})
      throw err
    }
    let settled = false
    const once = () => { if (settled) throw new TaskDoneError(`task ${d.taskId} was already settled`); settled = true }
    return {
      value, id: d.taskId, attempt: d.attempt,
      done: async () => { once(); await this.scheduleAck(d.id) },
      retry: async (delayMs = 0) => {
        once()
        if (d.attempt > this.opts.maxRetries) await this.consumer.deadLetter(d, `gave up after ${d.attempt} runs (retry() each time; maxRetries ${this.opts.maxRetries})`)
        else await this.consumer.retry(d, delayMs)
      },
      fail: async (reason) => { once(); await this.consumer.deadLetter(d, reason) },
    }
  }

  protected override settleOnGet(d: Delivery): void {
    this.outstanding.push(d)
  }
}

registerPortable('troupe.redis.queue', (data: { name: string; redis: RedisAddress; joinable: boolean; options: RedisQueueOptions }) =>
  data.joinable ? new RedisJoinableQueue(data.name, { ...data.options, redis: data.redis }) : new RedisQueue(data.name, { ...data.options, redis: data.redis }),
import.meta.url)

function stripUndefined<O extends object>(o: O): Partial<O> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<O>
}

/**
 * Add entries in calls of BULK entries, several calls in flight at once.
 * `make` gives each item's task id and payload (and the extra fields all share).
 */
export async function putEntries<I>(conn: Connection, keys: QueueKeys, items: Iterable<I>,
  make: (item: I, index: number) => [string, Buffer], extra: Parameters<typeof entryFields>[2] = {}): Promise<string[]> {
  const ids: string[] = []
  const inflight: Promise<unknown>[] = []
  let args: (string | Buffer)[] = []
  let width = 0
  const send = async () => {
    const a = args
    args = []
    // Keep a few calls in flight: enough to hide the round trip, few enough to bound memory.
    if (inflight.length >= 4) await inflight.shift()
    inflight.push(scripts.putMany.run(conn.main, [keys.stream, keys.count], [width, ...a]))
  }
  let n = 0
  for (const item of items) {
    const [id, payload] = make(item, ids.length)
    const fields = entryFields(id, payload, extra)
    width = fields.length
    for (const f of fields) args.push(f)
    ids.push(id)
    if (++n === BULK) { await send(); n = 0 }
  }
  if (n) await send()
  await Promise.all(inflight)
  return ids
}

const BULK = 1000

function abortError(signal: AbortSignal): Error {
  return new AbortError(signal.reason instanceof Error ? signal.reason.message : 'the operation was aborted', { cause: signal.reason })
}

/**
 * Run `attempt` until it gives a value, pausing 5 ms after a miss and twice as long after each
 * next one, up to `maxPause`; once `timeout` ms have passed, throw `expired()` (null or undefined:
 * no limit). `signal` aborts a pause with AbortError.
 */
async function pollWithBackoff<T>(
  attempt: () => Promise<T | undefined>,
  opts: { timeout?: number | null; signal?: AbortSignal; maxPause: number },
  expired: () => Error,
): Promise<T> {
  const deadline = opts.timeout === undefined || opts.timeout === null ? Infinity : Date.now() + opts.timeout
  let pause = 5
  for (;;) {
    const v = await attempt()
    if (v !== undefined) return v
    if (Date.now() >= deadline) throw expired()
    await sleep(Math.min(pause, deadline - Date.now()), opts.signal)
    pause = Math.min(pause * 2, opts.maxPause)
  }
}
