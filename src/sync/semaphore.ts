/** Semaphore and BoundedSemaphore on a SharedArrayBuffer, shared by thread Processes. */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { SyncStateError } from '../errors.js'
import { optionsError } from '../timers.js'
import { holding, type AcquireOptions, type SharedLock } from './lock.js'
import { deadlineOf, sharedData, waitWhile, waitWhileSync, assertMayBlock } from './wait.js'

/** A counter of free slots (Python's `Semaphore`): `acquire` takes one, waiting at zero; `release` gives back. */
export class Semaphore implements SharedLock, Portable {
  /** The shared memory (cell 0: free slots, cell 1: bound or -1). */
  readonly buffer: SharedArrayBuffer
  protected readonly cells: Int32Array

  /** `value` free slots to start with (default 1). `buffer`: @internal, to attach to an existing one. */
  constructor(value = 1, buffer?: SharedArrayBuffer) {
    if (!buffer && (!Number.isInteger(value) || value < 0)) throw new RangeError(`Semaphore value must be a non-negative integer, got ${value}`)
    this.buffer = buffer ?? new SharedArrayBuffer(8)
    this.cells = new Int32Array(this.buffer)
    if (!buffer) { this.cells[0] = value; this.cells[1] = -1 }
  }

  /** Take a slot; resolves false if none freed within `timeout` (or at once when `blocking: false`). */
  async acquire(opts: AcquireOptions = {}): Promise<boolean> {
    const bad = optionsError('Semaphore.acquire()', opts, '{ blocking?, timeout?, signal? }')
    if (bad) throw bad
    const deadline = deadlineOf(opts.timeout)
    for (;;) {
      const v = Atomics.load(this.cells, 0)
      if (v > 0) {
        if (Atomics.compareExchange(this.cells, 0, v, v - 1) === v) return true
        continue
      }
      if (opts.blocking === false) return false
      if (await waitWhile(this.cells, 0, 0, deadline, opts.signal) === 'timed-out' && Atomics.load(this.cells, 0) <= 0) return false
    }
  }

  /** Blocking acquire for worker threads (SyncStateError on the main thread); false after `timeout` ms. */
  acquireSync(timeout?: number): boolean {
    assertMayBlock()
    const deadline = deadlineOf(timeout)
    for (;;) {
      const v = Atomics.load(this.cells, 0)
      if (v > 0) {
        if (Atomics.compareExchange(this.cells, 0, v, v - 1) === v) return true
        continue
      }
      if (waitWhileSync(this.cells, 0, 0, deadline) === 'timed-out' && Atomics.load(this.cells, 0) <= 0) return false
    }
  }

  /** Give back `n` slots (default 1). */
  release(n = 1): void {
    Atomics.add(this.cells, 0, n)
    Atomics.notify(this.cells, 0, n)
  }

  /** Free slots now. */
  get value(): number {
    return Atomics.load(this.cells, 0)
  }

  /** Run `fn` holding a slot. */
  run<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this, fn)
  }

  /** Carried to threads as its SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    return { type: this.cells[1]! >= 0 ? 'troupe.BoundedSemaphore' : 'troupe.Semaphore', data: sharedData({ buffer: this.buffer }, import.meta.url) }
  }
}

/** A Semaphore that refuses to grow past its initial value (SyncStateError on one release too many). */
export class BoundedSemaphore extends Semaphore {
  /** `value` free slots, also the bound. `buffer`: @internal. */
  constructor(value = 1, buffer?: SharedArrayBuffer) {
    super(value, buffer)
    if (!buffer) this.cells[1] = value
  }

  /** Give back `n` slots; SyncStateError if that would exceed the initial value. */
  override release(n = 1): void {
    for (;;) {
      const v = Atomics.load(this.cells, 0)
      if (v + n > this.cells[1]!) throw new SyncStateError(`BoundedSemaphore released too many times (bound ${this.cells[1]})`)
      if (Atomics.compareExchange(this.cells, 0, v, v + n) === v) break
    }
    Atomics.notify(this.cells, 0, n)
  }
}

registerPortable('troupe.Semaphore', (d: { buffer: SharedArrayBuffer }) => new Semaphore(0, d.buffer))
registerPortable('troupe.BoundedSemaphore', (d: { buffer: SharedArrayBuffer }) => new BoundedSemaphore(0, d.buffer))
