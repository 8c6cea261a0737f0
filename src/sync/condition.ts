/** Condition on a SharedArrayBuffer, shared by thread Processes. */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { SyncStateError } from '../errors.js'
import { optionsError } from '../timers.js'
import { Lock, RLock, holding, type AcquireOptions } from './lock.js'
import { deadlineOf, remaining, sharedData, waitWhile, type WaitOptions } from './wait.js'

/**
 * A condition variable (Python's `Condition`): hold its lock, `wait()` until
 * another thread calls `notify()`. The lock is an RLock unless one is given.
 */
export class Condition implements Portable {
  /** The lock `wait()` releases and takes back. */
  readonly lock: Lock | RLock
  /** The shared memory (cell 0: a sequence number bumped by every notify). */
  readonly buffer: SharedArrayBuffer
  private readonly cells: Int32Array

  /** A condition over `lock` (default a new RLock). `buffer`: @internal. */
  constructor(lock?: Lock | RLock, buffer?: SharedArrayBuffer) {
    this.lock = lock ?? new RLock()
    this.buffer = buffer ?? new SharedArrayBuffer(4)
    this.cells = new Int32Array(this.buffer)
  }

  /** Take the underlying lock. */
  acquire(opts?: AcquireOptions): Promise<boolean> {
    return this.lock.acquire(opts)
  }

  /** Release the underlying lock. */
  release(): void {
    this.lock.release()
  }

  /** Run `fn` holding the lock. */
  run<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this.lock, fn)
  }

  /**
   * Release the lock, wait for a notify (or `timeout`), take the lock back.
   * Resolves false on timeout. Must be called holding the lock.
   */
  async wait(opts: WaitOptions = {}): Promise<boolean> {
    const bad = optionsError('Condition.wait()', opts)
    if (bad) throw bad
    // Read the sequence before releasing: a notify between release and wait changes it, so it is never missed.
    const seq = Atomics.load(this.cells, 0)
    let depth = 1
    if (this.lock instanceof RLock) depth = this.lock.releaseAll()
    else if (!this.lock.locked()) throw new SyncStateError('wait() on a Condition whose lock is not held')
    else this.lock.release()
    let outcome: 'ok' | 'timed-out' = 'ok'
    try {
      outcome = await waitWhile(this.cells, 0, seq, deadlineOf(opts.timeout), opts.signal)
    } finally {
      if (this.lock instanceof RLock) await this.lock.restore(depth)
      else await this.lock.acquire()
    }
    return outcome === 'ok' || Atomics.load(this.cells, 0) !== seq
  }

  /** Wait until `predicate()` is truthy (checked holding the lock); resolves its last value. */
  async waitFor<R>(predicate: () => R, opts: WaitOptions = {}): Promise<R> {
    const bad = optionsError('Condition.waitFor()', opts, undefined, 2)
    if (bad) throw bad
    const deadline = deadlineOf(opts.timeout)
    let result = predicate()
    while (!result) {
      const left = remaining(deadline)
      if (left <= 0) break
      await this.wait({ timeout: left === Infinity ? undefined : left, signal: opts.signal })
      result = predicate()
    }
    return result
  }

  /** Wake up to `n` waiters (default 1). */
  notify(n = 1): void {
    Atomics.add(this.cells, 0, 1)
    Atomics.notify(this.cells, 0, n)
  }

  /** Wake every waiter. */
  notifyAll(): void {
    Atomics.add(this.cells, 0, 1)
    Atomics.notify(this.cells, 0)
  }

  /** Carried to threads with its lock's SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    const reentrant = this.lock instanceof RLock
    return { type: 'troupe.Condition', data: sharedData({ buffer: this.buffer, lock: this.lock.buffer, reentrant }, import.meta.url) }
  }
}

registerPortable('troupe.Condition', (d: { buffer: SharedArrayBuffer; lock: SharedArrayBuffer; reentrant: boolean }) =>
  new Condition(d.reentrant ? new RLock(d.lock) : new Lock(d.lock), d.buffer))
