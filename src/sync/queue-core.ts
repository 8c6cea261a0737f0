/**
 * The state of one queue, kept in the place it lives in (its home). Every
 * handle — local or in another thread/process — ends up calling `handle()`
 * here, so ordering, blocking, backpressure and task counting exist once.
 */
import { AbortError, ClosedError, Empty, Full, TaskDoneError } from '../errors.js'
import { abortError, armWait as arm } from '../timers.js'
import type { RequestContext } from '../process/index.js'
import { approxBytes } from '../codec/index.js'
import { isPacked, movableBuffer, ownBytes, packedBytes, unpack, weight } from '../codec/index.js'

/** Bytes (approxBytes) one `take` hands out at most, besides its item count. */
const TAKE_BYTES = 1 << 20
// A paced put (a producer's large batch) is answered once the packed bytes held here are below this, or after
// PACE_MS at most (a soft limit: a queue nobody drains slows its producers, never stops them).
const PACE_BYTES = 4 << 20
const PACE_MS = 100

/** Options for a blocking call at the home. */
interface WaitOpts { timeout?: number; signal?: AbortSignal }

/** What a prefetching consumer receives: a batch, and whether the queue is closed and drained. */
export interface TakeResult<T> { items: T[]; done: boolean }

interface Getter<T> { max: number; take: boolean; resolve(v: T | TakeResult<T>): void; reject(e: unknown): void; cleanup(): void }
/** A blocked put, or (with `want`) a place waiting to reserve slots for puts it will send later. */
interface Putter<T> { items: T[]; next: number; want?: number; from?: string; resolve(granted?: number): void; reject(e: unknown): void; cleanup(): void }
interface Waiter { resolve(v: boolean): void; cleanup(): void }

/** A FIFO array with a moving head: O(1) shift, batch slices without copying the rest. */
class Deque<T> {
  private buf: T[] = []
  private head = 0

  get length(): number { return this.buf.length - this.head }
  push(v: T): void { this.buf.push(v) }
  peek(): T { return this.buf[this.head]! }
  shift(): T {
    const v = this.buf[this.head]!
    this.buf[this.head++] = undefined as T
    this.compact()
    return v
  }
  unshiftAll(items: T[]): void {
    this.buf = [...items, ...this.buf.slice(this.head)]
    this.head = 0
  }
  private compact(): void {
    // Drop the consumed prefix once it dominates, so memory follows the live length.
    if (this.head > 1024 && this.head * 2 > this.buf.length) { this.buf = this.buf.slice(this.head); this.head = 0 }
    else if (this.head === this.buf.length) { this.buf = []; this.head = 0 }
  }
}

/**
 * One queue's items, waiters and counters. An element of `items` is an item
 * or a packed batch (see packed.ts) standing for several; `count` is the
 * number of items.
 */
export class QueueCore<T> {
  readonly maxsize: number
  private readonly items = new Deque<unknown>()
  private count = 0
  // Slots granted to places that buffer their bounded puts (credits): they count against maxsize until the items arrive.
  private reserved = 0
  private readonly reservedBy = new Map<string, number>()
  private getters: Getter<T>[] = []
  private putters: Putter<T>[] = []
  private pollers: Waiter[] = []
  private joiners: Waiter[] = []
  private pacers: Waiter[] = []
  // Bytes of the packed batches held: a producer running far ahead of its consumers makes each batch in memory
  // its allocator has not touched yet (page faults cost more than the copy), and the home's GC counts them all.
  private packedHeld = 0
  private closed = false
  private unfinished = 0
  /** Places holding a pipe end that writes this queue; when the last one ends, the queue closes (see Pipe). */
  readonly writers = new Map<string, number>()

  constructor(maxsize = 0) {
    this.maxsize = maxsize > 0 ? Math.floor(maxsize) : 0
  }

  private hasRoom(): boolean {
    return this.maxsize === 0 || this.count + this.reserved < this.maxsize
  }

  private room(): number {
    return this.maxsize === 0 ? Infinity : this.maxsize - this.count - this.reserved
  }

  private grant(p: Putter<T>): void {
    const g = Math.max(1, Math.min(p.want!, this.room()))
    this.reserved += g
    this.reservedBy.set(p.from!, (this.reservedBy.get(p.from!) ?? 0) + g)
    p.cleanup()
    p.resolve(g)
  }

  private add(x: unknown): void {
    this.items.push(x)
    let w = 1
    if (isPacked(x)) { w = x.n; this.packedHeld += packedBytes(x) }
    this.count += w
    this.unfinished += w
  }

  /** The first item; a packed batch at the front is unpacked here, only when one item is wanted. */
  private shiftOne(): T {
    let head = this.items.shift()
    if (isPacked(head)) {
      this.packedHeld -= packedBytes(head)
      const xs = unpack<T>(head)
      head = xs[0]
      if (xs.length > 1) this.items.unshiftAll(xs.slice(1))
    }
    this.count--
    return head as T
  }

  /**
   * Elements from the front worth up to `max` items and about TAKE_BYTES (at least one element,
   * packed batches kept whole): a consumer fetching a thousand large strings at once would hold
   * them all while it works through them, long enough to be promoted out of its young generation.
   */
  private takeUpTo(max: number): unknown[] {
    const out: unknown[] = []
    let n = 0
    let bytes = 0
    while (this.items.length && n < max && bytes < TAKE_BYTES) {
      const x = this.items.peek()
      const w = weight(x)
      if (n > 0 && n + w > max) break
      out.push(this.items.shift())
      n += w
      if (isPacked(x)) { const b = packedBytes(x); bytes += b; this.packedHeld -= b } else bytes += approxBytes(x)
    }
    this.count -= n
    return out
  }

  /** Move items from blocked putters into the queue and from the queue to waiting getters, until nothing moves. */
  private pump(): void {
    for (;;) {
      let moved = false
      while (this.putters.length && this.hasRoom()) {
        const p = this.putters[0]!
        if (p.want !== undefined) { this.putters.shift(); this.grant(p); moved = true; continue }
        while (p.next < p.items.length && this.hasRoom()) this.add(p.items[p.next++])
        if (p.next === p.items.length) { this.putters.shift(); p.cleanup(); p.resolve() }
        moved = true
      }
      while (this.getters.length && this.items.length) {
        const g = this.getters.shift()!
        g.cleanup()
        g.resolve(g.take ? { items: this.takeUpTo(g.max) as T[], done: false } : this.shiftOne())
        moved = true
      }
      if (!moved) break
    }
    if (this.items.length || this.closed) for (const w of this.pollers.splice(0)) { w.cleanup(); w.resolve(true) }
    if (this.pacers.length && (this.packedHeld < PACE_BYTES || this.closed)) for (const w of this.pacers.splice(0)) { w.cleanup(); w.resolve(true) }
    if (this.closed && !this.items.length) {
      for (const g of this.getters.splice(0)) {
        g.cleanup()
        if (g.take) g.resolve({ items: [], done: true })
        else g.reject(new ClosedError('the queue is closed and drained'))
      }
    }
  }

  /** Put items in order, waiting while the queue is full. */
  put(items: T[], opts: WaitOpts = {}): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('put() on a closed queue'))
    if (!this.putters.length) {
      let i = 0
      while (i < items.length && this.hasRoom()) this.add(items[i++])
      if (i === items.length) { this.pump(); return Promise.resolve() }
      items = items.slice(i)
    }
    return new Promise<void>((resolve, reject) => {
      const p: Putter<T> = { items, next: 0, resolve: () => resolve(), reject, cleanup: () => {} }
      const drop = (err: Error) => { this.putters = this.putters.filter((x) => x !== p); p.cleanup(); reject(err) }
      p.cleanup = arm(opts, () => drop(new Full(`the queue stayed full (maxsize ${this.maxsize}) for ${opts.timeout} ms`)), (r) => drop(abortError(r)))
      this.putters.push(p)
      this.pump()
    })
  }

  /**
   * Reserve up to `want` slots for `from`, waiting (in line with blocked puts)
   * until at least one is free; resolves how many were granted.
   */
  reserve(want: number, from: string, opts: WaitOpts = {}): Promise<number> {
    if (this.closed) return Promise.reject(new ClosedError('put() on a closed queue'))
    return new Promise<number>((resolve, reject) => {
      const p: Putter<T> = { items: [], next: 0, want: Math.max(1, want), from, resolve: resolve as (g?: number) => void, reject, cleanup: () => {} }
      const drop = (err: Error) => { this.putters = this.putters.filter((x) => x !== p); p.cleanup(); reject(err) }
      p.cleanup = arm(opts, () => {}, (r) => drop(abortError(r)))
      this.putters.push(p)
      this.pump()
    })
  }

  /** Items sent against slots `from` reserved: they go in without waiting. */
  putReserved(items: T[], from: string): void {
    let n = 0
    for (const x of items) n += weight(x)
    this.unreserve(n, from, false)
    if (this.closed) throw new ClosedError('put() on a closed queue')
    for (const x of items) this.add(x)
    this.pump()
  }

  /** Give back reserved slots that will not be used. */
  unreserve(n: number, from: string, pump = true): void {
    const held = this.reservedBy.get(from) ?? 0
    const k = Math.min(n, held)
    if (held - k > 0) this.reservedBy.set(from, held - k)
    else this.reservedBy.delete(from)
    this.reserved -= k
    if (pump) this.pump()
  }

  /** A place ended: the slots it reserved are free again. */
  releasePlace(isGone: (place: string) => boolean): void {
    for (const [from, n] of [...this.reservedBy]) if (isGone(from)) this.unreserve(n, from, false)
    this.pump()
  }

  /** Put one item or throw Full at once. */
  putNowait(item: T): void {
    if (this.closed) throw new ClosedError('putNowait() on a closed queue')
    if (this.putters.length || !this.hasRoom()) throw new Full(`the queue is full (maxsize ${this.maxsize})`)
    this.add(item)
    this.pump()
  }

  /** Remove and return one item, waiting while the queue is empty (Empty after `timeout`, ClosedError once closed and drained). */
  get(opts: WaitOpts = {}): Promise<T> {
    if (this.items.length && !this.getters.length) {
      const v = this.shiftOne()
      this.pump()
      return Promise.resolve(v)
    }
    if (this.closed) return Promise.reject(new ClosedError('the queue is closed and drained'))
    return this.wait<T>(1, false, opts)
  }

  /** Remove and return one item or throw Empty at once. */
  getNowait(): T {
    if (this.items.length && !this.getters.length) {
      const v = this.shiftOne()
      this.pump()
      return v
    }
    if (this.closed) throw new ClosedError('the queue is closed and drained')
    throw new Empty('the queue is empty')
  }

  /** Remove about `max` items (packed batches whole), waiting for at least one; `done` once closed and drained. */
  take(max: number, opts: WaitOpts = {}): Promise<TakeResult<T>> {
    if (this.items.length && !this.getters.length) {
      const items = this.takeUpTo(Math.max(1, max)) as T[]
      this.pump()
      return Promise.resolve({ items, done: false })
    }
    if (this.closed) return Promise.resolve({ items: [], done: true })
    // An aborted take answers with nothing rather than an error: the consumer only wanted to stop waiting.
    return this.wait<TakeResult<T>>(Math.max(1, max), true, opts).catch((err) => {
      if (err instanceof AbortError || (err as Error)?.name === 'AbortError' || (err as Error)?.name === 'ConnectionClosedError') return { items: [], done: false }
      throw err
    })
  }

  private wait<R>(max: number, take: boolean, opts: WaitOpts): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const g: Getter<T> = { max, take, resolve: resolve as (v: unknown) => void, reject, cleanup: () => {} }
      const drop = (err: Error) => { this.getters = this.getters.filter((x) => x !== g); g.cleanup(); reject(err) }
      g.cleanup = arm(opts, () => drop(new Empty(`nothing arrived within ${opts.timeout} ms`)), (r) => drop(abortError(r)))
      this.getters.push(g)
    })
  }

  /** Resolve once the packed bytes held are below PACE_BYTES (or the queue closed, or after PACE_MS, or on abort). */
  private paced(signal?: AbortSignal): Promise<void> {
    if (this.packedHeld < PACE_BYTES || this.closed) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const w: Waiter = { resolve: () => resolve(), cleanup: () => {} }
      const drop = () => { this.pacers = this.pacers.filter((x) => x !== w); w.cleanup(); resolve() }
      w.cleanup = arm({ timeout: PACE_MS, signal }, drop, drop)
      this.pacers.push(w)
    })
  }

  /** Give back items a consumer took but did not use; they go to the front, in order. */
  unget(items: T[]): void {
    if (!items.length) return
    this.items.unshiftAll(items)
    for (const x of items) { this.count += weight(x); if (isPacked(x)) this.packedHeld += packedBytes(x) }
    this.pump()
  }

  /** Resolve true once an item is there (or the queue is closed), false after `timeout` ms. */
  poll(timeout?: number, signal?: AbortSignal): Promise<boolean> {
    if (this.items.length || this.closed) return Promise.resolve(true)
    if (timeout !== undefined && timeout <= 0) return Promise.resolve(false)
    return new Promise<boolean>((resolve) => {
      const w: Waiter = { resolve, cleanup: () => {} }
      const drop = () => { this.pollers = this.pollers.filter((x) => x !== w); w.cleanup(); resolve(false) }
      w.cleanup = arm({ timeout, signal }, drop, drop)
      this.pollers.push(w)
    })
  }

  /** Mark `n` items done; returns how many could be (TaskDoneError if none). */
  taskDone(n = 1): number {
    const applied = Math.min(n, this.unfinished)
    if (applied === 0) throw new TaskDoneError('taskDone() called more times than there were items put')
    this.unfinished -= applied
    if (this.unfinished === 0) for (const w of this.joiners.splice(0)) { w.cleanup(); w.resolve(true) }
    return applied
  }

  /** Resolve once every item put so far has been marked done. */
  join(signal?: AbortSignal): Promise<void> {
    if (this.unfinished === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve: () => resolve(), cleanup: () => {} }
      w.cleanup = arm({ signal }, () => {}, (r) => { this.joiners = this.joiners.filter((x) => x !== w); w.cleanup(); reject(abortError(r)) })
      this.joiners.push(w)
    })
  }

  /** No more puts; blocked putters fail, getters drain what is left, then see ClosedError / `done`. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const p of this.putters.splice(0)) { p.cleanup(); p.reject(new ClosedError('the queue was closed while put() waited')) }
    this.pump()
  }

  /** Whether `close()` was called. */
  get isClosed(): boolean { return this.closed }
  /** Items now (reserved slots not included). */
  qsize(): number { return this.count }
  /** Whether no item is there. */
  empty(): boolean { return this.count === 0 }
  /** Whether a put would wait (reserved slots included). */
  full(): boolean { return this.maxsize > 0 && this.count + this.reserved >= this.maxsize }

  /** The one entry point for every handle, local or remote (methods are the wire protocol). */
  handle(method: string, args: unknown[], ctx: Pick<RequestContext, 'signal' | 'transfer'> & { from?: string }): unknown {
    const signal = ctx.signal
    switch (method) {
      case 'put': return this.put(args[0] as T[], { timeout: args[1] as number | undefined, signal })
      // A producer's large batch: in the queue at once, answered when the home holds few packed bytes (see paced()).
      case 'putPaced': return this.put(args[0] as T[], { signal }).then(() => this.paced(signal))
      case 'putNowait': return this.putNowait(args[0] as T)
      case 'reserve': return this.reserve(args[0] as number, ctx.from ?? '', { signal })
      case 'putReserved': return this.putReserved(args[0] as T[], ctx.from ?? '')
      case 'unreserve': return this.unreserve(args[0] as number, ctx.from ?? '')
      case 'get': return this.get({ timeout: args[0] as number | undefined, signal })
      case 'getNowait': return this.getNowait()
      case 'take': {
        const taken = this.take(args[0] as number, { signal })
        // The batches leave the queue for good: their bytes move to a consumer thread instead of being copied.
        const transfer = ctx.transfer
        return transfer ? taken.then((r) => {
          for (let j = 0; j < r.items.length; j++) {
            const x = r.items[j]
            if (isPacked(x)) { const own = ownBytes(x); r.items[j] = own as T; transfer(movableBuffer(own)!) }
          }
          return r
        }) : taken
      }
      case 'unget': return this.unget(args[0] as T[])
      case 'poll': return this.poll(args[0] as number | undefined, signal)
      case 'taskDone': return this.taskDone(args[0] as number)
      case 'join': return this.join(signal)
      case 'close': return this.close()
      case 'qsize': return this.qsize()
      case 'empty': return this.empty()
      case 'full': return this.full()
      case 'closed': return this.closed
      case 'hold': {
        const from = ctx.from ?? ''
        this.writers.set(from, (this.writers.get(from) ?? 0) + 1)
        return
      }
      default: throw new TypeError(`unknown queue method '${method}'`)
    }
  }
}
