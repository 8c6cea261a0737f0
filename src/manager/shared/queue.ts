import { ClosedError, Empty, Full, TaskDoneError, TimeoutError } from '../../errors.js'
import { park, timedOut, type BlockOptions, WaitList } from './waiting.js'

/** What a served queue's `stats()` answers (what the dashboard reads). */
export interface QueueStats {
  /** Items waiting. */
  qsize: number
  /** 0: unbounded. */
  maxsize: number
  /** Items put since the queue was made. */
  put: number
  /** Items taken since the queue was made. */
  got: number
  /** Put and not yet `taskDone()` (JoinableQueue). */
  unfinished?: number
  closed: boolean
  /** Age of the oldest waiting item, ms (to 100 ms); 0 when empty. */
  oldestAgeMs: number
}

/**
 * A FIFO queue living in the manager server, served to every client (Python's
 * `queue.Queue` behind `SyncManager.Queue`). Methods return plain values when
 * they need not wait, so pipelined puts and gets cost no promise hop.
 */
export class Queue<T = unknown> {
  /** 0 means unbounded. */
  readonly maxsize: number
  private items: T[] = []
  private head = 0
  private getters = new WaitList()
  private putters = new WaitList()
  private isClosed = false
  private putCount = 0
  private gotCount = 0
  // When items were put, coarsely: [index of the first item put in a 100 ms slot, that slot's time, ...],
  // for the age of the oldest waiting item (a dashboard's metric) at one Date.now() per put.
  private marks: number[] = []

  constructor(maxsize = 0) {
    if (!Number.isInteger(maxsize) || maxsize < 0) throw new TypeError(`maxsize must be a non-negative integer, got ${maxsize}`)
    this.maxsize = maxsize
  }

  /** Number of items waiting. */
  qsize(): number { return this.items.length - this.head }
  /** Whether no item is waiting. */
  empty(): boolean { return this.qsize() === 0 }
  /** Whether a bounded queue is at its maxsize. */
  full(): boolean { return this.maxsize > 0 && this.qsize() >= this.maxsize }
  /**
   * Running totals for dashboards: items waiting, put and taken so far, whether
   * it is closed, and the age of the oldest waiting item in ms (to 100 ms; 0 when empty).
   */
  stats(): QueueStats {
    return { qsize: this.qsize(), maxsize: this.maxsize, put: this.putCount, got: this.gotCount, closed: this.isClosed, oldestAgeMs: this.oldestAgeMs() }
  }

  /** Remove every waiting item (an operator's purge); returns how many. A JoinableQueue counts them done. */
  purge(): number {
    const n = this.qsize()
    this.items = []
    this.head = 0
    this.gotCount += n
    this.marks = []
    this._onPurge(n)
    this.#wakePutters()
    return n
  }

  /** Hook for JoinableQueue: purged items are done. */
  protected _onPurge(_n: number): void {}

  private oldestAgeMs(): number {
    if (this.empty()) return 0
    // Items come out in put order, so the oldest waiting one is number gotCount (returned items excepted).
    const m = this.marks
    let i = 0
    while (i + 2 < m.length && m[i + 2]! <= this.gotCount) i += 2
    if (i > 0) this.marks = m.slice(i)
    return this.marks.length ? Math.max(0, Date.now() - this.marks[1]!) : 0
  }

  /** Whether `close()` was called. */
  closed(): boolean { return this.isClosed }

  /** Add an item; waits for room in a bounded queue (Full on timeout or with `block: false`). */
  put(item: T, opts?: BlockOptions): void | Promise<void> {
    this.#checkOpen()
    if (!this.full()) { this._push(item); this.#wakeGetters(); return }
    if (opts?.block === false) throw new Full('queue is full')
    return park(this.putters, opts, () => { this.#checkOpen(); this._push(item); this.#wakeGetters() }, () => new Full(`put timed out after ${opts?.timeout} ms: queue is full`))
  }

  /** `put` without waiting. */
  putNowait(item: T): void { this.put(item, { block: false }) as void }

  /** Add many items in order; waits for room as needed. One request for a whole batch. */
  putMany(items: T[], opts?: BlockOptions): void | Promise<void> {
    this.#checkOpen()
    if (this.maxsize === 0) { for (const it of items) this._push(it); this.#wakeGetters(); return }
    let i = 0
    while (i < items.length && !this.full()) this._push(items[i++]!)
    this.#wakeGetters()
    if (i === items.length) return
    return (async () => { for (; i < items.length; i++) await this.put(items[i]!, opts) })()
  }

  /** Remove and return the oldest item; waits for one (Empty on timeout or with `block: false`; ClosedError once closed and drained). */
  get(opts?: BlockOptions): T | Promise<T> {
    if (!this.empty()) { const v = this.#shift(); this.#wakePutters(); return v }
    if (this.isClosed) throw new ClosedError('queue is closed and drained')
    if (opts?.block === false) throw new Empty('queue is empty')
    return park(this.getters, opts, () => { const v = this.#shift(); this.#wakePutters(); return v }, () => new Empty(`get timed out after ${opts?.timeout} ms: queue is empty`))
  }

  /** `get` without waiting. */
  getNowait(): T { return this.get({ block: false }) as T }

  /** Remove up to `max` items at once, waiting (like `get`) only while none is there. */
  getMany(max: number, opts?: BlockOptions): T[] | Promise<T[]> {
    if (!this.empty()) return this.#take(max)
    if (this.isClosed) throw new ClosedError('queue is closed and drained')
    if (opts?.block === false) throw new Empty('queue is empty')
    return park(this.getters, opts, () => this.#take(max), () => new Empty(`getMany timed out after ${opts?.timeout} ms: queue is empty`))
  }

  /** Put items back at the front (a consumer that prefetched and stopped early returns what it did not use). */
  returnItems(items: T[]): void {
    if (!items.length) return
    this.items = [...items, ...this.items.slice(this.head)]
    this.head = 0
    this.#wakeGetters()
  }

  /** Refuse further puts; gets drain what is left and then fail with ClosedError, which ends `for await` loops. */
  close(): void {
    this.isClosed = true
    for (const p of this.putters.takeAll()) p.fail(new ClosedError('queue was closed'))
    if (this.empty()) for (const g of this.getters.takeAll()) g.fail(new ClosedError('queue is closed and drained'))
  }

  protected _push(item: T): void {
    this.items.push(item)
    const now = Date.now()
    const m = this.marks
    if (m.length === 0 || now - m[m.length - 1]! >= 100) {
      m.push(this.putCount, now)
      // Marks of items long taken go, so a queue nobody samples keeps as many marks as it holds slots of items.
      if (m.length > 256) this.oldestAgeMs()
    }
    this.putCount++
    this._onPut(1)
  }

  /** Hook for JoinableQueue: counts unfinished tasks. */
  protected _onPut(_n: number): void {}

  #take(max: number): T[] {
    const n = Math.min(Math.max(1, Math.floor(max) || 1), this.qsize())
    const out = this.items.slice(this.head, this.head + n)
    this.head += n
    this.gotCount += n
    this.#compact()
    this.#wakePutters()
    return out
  }

  #shift(): T {
    const v = this.items[this.head]!
    this.items[this.head++] = undefined as T
    this.gotCount++
    this.#compact()
    return v
  }

  // A head index instead of Array#shift keeps gets O(1); the array is trimmed once the dead prefix dominates.
  #compact(): void {
    if (this.head === this.items.length) { this.items = []; this.head = 0 }
    else if (this.head > 4096 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0 }
  }

  private wakeQueued = false

  // Parked getters are woken a microtask later, after the rest of the request batch that
  // carried this put has been applied: a parked getMany then takes the whole batch, not one item.
  #wakeGetters(): void {
    if (!this.getters.length || this.wakeQueued) return
    this.wakeQueued = true
    queueMicrotask(() => {
      this.wakeQueued = false
      while (this.getters.length && !this.empty()) this.getters.first()!.wake()
      if (this.isClosed && this.empty()) for (const g of this.getters.takeAll()) g.fail(new ClosedError('queue is closed and drained'))
    })
  }

  #wakePutters(): void {
    while (this.putters.length && !this.full()) this.putters.first()!.wake()
  }

  #checkOpen(): void {
    if (this.isClosed) throw new ClosedError('queue is closed')
  }
}

/** A Queue that counts unfinished tasks: each `get` item should be followed by `taskDone()`; `join()` waits for all. */
export class JoinableQueue<T = unknown> extends Queue<T> {
  private unfinished = 0
  private joiners = new WaitList()

  protected override _onPut(n: number): void {
    this.unfinished += n
  }

  /** Mark `n` (default 1) fetched items as processed; TaskDoneError when more than were put. */
  taskDone(n = 1): void {
    if (n > this.unfinished) throw new TaskDoneError(`taskDone() called ${n > 1 ? `for ${n} items ` : ''}more times than items were put`)
    this.unfinished -= n
    if (this.unfinished === 0) while (this.joiners.length) this.joiners.first()!.wake()
  }

  /** `Queue.stats()` plus the unfinished count. */
  override stats(): QueueStats {
    return { ...super.stats(), unfinished: this.unfinished }
  }

  /** Purged items count as done. */
  protected override _onPurge(n: number): void {
    this.taskDoneBatch(n)
  }

  /** Mark up to `n` items done without failing; returns how many were (clients merge taskDone calls into this). */
  taskDoneBatch(n: number): number {
    const k = Math.min(Math.max(0, Math.floor(n) || 0), this.unfinished)
    if (k) this.taskDone(k)
    return k
  }

  /** Items put but not yet marked done. */
  unfinishedTasks(): number { return this.unfinished }

  /** Wait until every item put has been marked done (TimeoutError after `timeout` ms). */
  join(opts?: { timeout?: number }): void | Promise<void> {
    if (this.unfinished === 0) return
    return park(this.joiners, opts, () => undefined, (): TimeoutError => timedOut('join', opts))
  }
}
