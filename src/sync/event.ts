/** Event on a SharedArrayBuffer, shared by thread Processes. */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { optionsError } from '../timers.js'
import { deadlineOf, sharedData, waitWhile, waitWhileSync, assertMayBlock, type WaitOptions } from './wait.js'

/** A flag threads wait on (Python's `Event`): `set()` wakes every waiter, `clear()` resets. */
export class Event implements Portable {
  /** The shared memory (cell 0: 0 clear, 1 set). */
  readonly buffer: SharedArrayBuffer
  private readonly cells: Int32Array

  /** A new, clear event (`buffer`: @internal, to attach to an existing one). */
  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(4)
    this.cells = new Int32Array(this.buffer)
  }

  /** Set the flag and wake all waiters. */
  set(): void {
    Atomics.store(this.cells, 0, 1)
    Atomics.notify(this.cells, 0)
  }

  /** Reset the flag. */
  clear(): void {
    Atomics.store(this.cells, 0, 0)
  }

  /** Whether it is set. */
  isSet(): boolean {
    return Atomics.load(this.cells, 0) === 1
  }

  /** Resolve true once set, false if `timeout` passes first. */
  async wait(opts: WaitOptions = {}): Promise<boolean> {
    const bad = optionsError('Event.wait()', opts)
    if (bad) throw bad
    const deadline = deadlineOf(opts.timeout)
    while (Atomics.load(this.cells, 0) !== 1) {
      if (await waitWhile(this.cells, 0, 0, deadline, opts.signal) === 'timed-out') return Atomics.load(this.cells, 0) === 1
    }
    return true
  }

  /** Blocking wait for worker threads (SyncStateError on the main thread): true once set, false after `timeout` ms. */
  waitSync(timeout?: number): boolean {
    assertMayBlock()
    const deadline = deadlineOf(timeout)
    while (Atomics.load(this.cells, 0) !== 1) {
      if (waitWhileSync(this.cells, 0, 0, deadline) === 'timed-out') return Atomics.load(this.cells, 0) === 1
    }
    return true
  }

  /** Carried to threads as its SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.Event', data: sharedData({ buffer: this.buffer }, import.meta.url) }
  }
}

registerPortable('troupe.Event', (d: { buffer: SharedArrayBuffer }) => new Event(d.buffer))
