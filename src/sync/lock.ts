/**
 * Lock and RLock on a SharedArrayBuffer: pass one to thread Processes and
 * all of them lock the same memory. Waiting never blocks the event loop.
 */
import { threadId } from 'node:worker_threads'
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { SyncStateError } from '../errors.js'
import { optionsError } from '../timers.js'
import { deadlineOf, sharedData, waitWhile, waitWhileSync, assertMayBlock, type WaitOptions } from './wait.js'

/** Options of `acquire()`. */
export interface AcquireOptions extends WaitOptions {
  /** false: try once and resolve false at once if taken. Default true. */
  blocking?: boolean
}

/** What Lock and RLock share, so Condition can use either. */
export interface SharedLock {
  acquire(opts?: AcquireOptions): Promise<boolean>
  release(): void
  readonly buffer: SharedArrayBuffer
}

/** Run `fn` holding `lock`, releasing it even when `fn` throws. */
export async function holding<R>(lock: SharedLock, fn: () => R | Promise<R>): Promise<R> {
  await lock.acquire()
  try {
    return await fn()
  } finally {
    lock.release()
  }
}

/** A mutual-exclusion lock shared by threads (Python's `multiprocessing.Lock`); any thread may release it. */
export class Lock implements SharedLock, Portable {
  /** The shared memory (cell 0: 0 free, 1 held). */
  readonly buffer: SharedArrayBuffer
  private readonly cells: Int32Array

  /** A new lock (`buffer`: @internal, to attach to an existing one). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(4)
    this.cells = new Int32Array(this.buffer)
  }

  /** Take the lock; resolves false if it could not within `timeout` (or at once when `blocking: false`). */
  async acquire(opts: AcquireOptions = {}): Promise<boolean> {
    const bad = optionsError('Lock.acquire()', opts, '{ blocking?, timeout?, signal? }')
    if (bad) throw bad
    const deadline = deadlineOf(opts.timeout)
    for (;;) {
      if (Atomics.compareExchange(this.cells, 0, 0, 1) === 0) return true
      if (opts.blocking === false) return false
      if (await waitWhile(this.cells, 0, 1, deadline, opts.signal) === 'timed-out' && Atomics.load(this.cells, 0) !== 0) return false
    }
  }

  /** Blocking acquire for worker threads (SyncStateError on the main thread); false after `timeout` ms. */
  acquireSync(timeout?: number): boolean {
    assertMayBlock()
    const deadline = deadlineOf(timeout)
    for (;;) {
      if (Atomics.compareExchange(this.cells, 0, 0, 1) === 0) return true
      if (waitWhileSync(this.cells, 0, 1, deadline) === 'timed-out' && Atomics.load(this.cells, 0) !== 0) return false
    }
  }

  /** Free the lock; SyncStateError if it is not held. */
  release(): void {
    if (Atomics.compareExchange(this.cells, 0, 1, 0) !== 1) throw new SyncStateError('release() of an unlocked Lock')
    Atomics.notify(this.cells, 0, 1)
  }

  /** Whether some thread holds it now. */
  locked(): boolean {
    return Atomics.load(this.cells, 0) === 1
  }

  /** Run `fn` holding the lock. */
  run<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this, fn)
  }

  /** Carried to threads as its SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.Lock', data: sharedData({ buffer: this.buffer }, import.meta.url) }
  }
}

// Owner ids: 0 means free, so thread ids are stored plus one.
const me = threadId + 1

/**
 * A reentrant lock (Python's `RLock`): the thread holding it may take it again
 * and must release it as many times. Ownership is per thread, so async code
 * in one thread shares it.
 */
export class RLock implements SharedLock, Portable {
  /** The shared memory (cell 0: owner thread id + 1, cell 1: depth). */
  readonly buffer: SharedArrayBuffer
  private readonly cells: Int32Array

  /** A new reentrant lock (`buffer`: @internal, to attach to an existing one). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(8)
    this.cells = new Int32Array(this.buffer)
  }

  /** Take it (again, if this thread holds it); resolves false on timeout. */
  async acquire(opts: AcquireOptions = {}): Promise<boolean> {
    const bad = optionsError('RLock.acquire()', opts, '{ blocking?, timeout?, signal? }')
    if (bad) throw bad
    if (Atomics.load(this.cells, 0) === me) { this.cells[1]!++; return true }
    const deadline = deadlineOf(opts.timeout)
    for (;;) {
      const owner = Atomics.compareExchange(this.cells, 0, 0, me)
      if (owner === 0) { this.cells[1] = 1; return true }
      if (opts.blocking === false) return false
      if (await waitWhile(this.cells, 0, owner, deadline, opts.signal) === 'timed-out' && Atomics.load(this.cells, 0) !== 0) return false
    }
  }

  /** Release one level; SyncStateError when this thread does not hold it. */
  release(): void {
    if (Atomics.load(this.cells, 0) !== me) throw new SyncStateError('release() of an RLock this thread does not hold')
    if (--this.cells[1]! > 0) return
    Atomics.store(this.cells, 0, 0)
    Atomics.notify(this.cells, 0, 1)
  }

  /** Run `fn` holding the lock. */
  run<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this, fn)
  }

  /** @internal Fully release (for Condition.wait), returning the depth to restore. */
  releaseAll(): number {
    if (Atomics.load(this.cells, 0) !== me) throw new SyncStateError('wait() on a Condition whose lock this thread does not hold')
    const depth = this.cells[1]!
    this.cells[1] = 1
    this.release()
    return depth
  }

  /** @internal Take it back at `depth` after Condition.wait. */
  async restore(depth: number): Promise<void> {
    await this.acquire()
    this.cells[1] = depth
  }

  /** Whether this thread holds it. */
  isOwned(): boolean {
    return Atomics.load(this.cells, 0) === me
  }

  /** Carried to threads as its SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.RLock', data: sharedData({ buffer: this.buffer }, import.meta.url) }
  }
}

registerPortable('troupe.Lock', (d: { buffer: SharedArrayBuffer }) => new Lock(d.buffer))
registerPortable('troupe.RLock', (d: { buffer: SharedArrayBuffer }) => new RLock(d.buffer))
