/** Barrier on a SharedArrayBuffer, shared by thread Processes. */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { BrokenBarrierError } from '../errors.js'
import { optionsError } from '../timers.js'
import { deadlineOf, sharedData, waitWhile, type WaitOptions } from './wait.js'

// Cells: a spin mutex guarding the rest (held for a few instructions, never across an await),
// parties, arrivals in this generation, the generation, the last broken generation, the sticky broken flag.
const MUTEX = 0, PARTIES = 1, COUNT = 2, GEN = 3, BROKEN_GEN = 4, BROKEN = 5

/**
 * A meeting point for `parties` threads (Python's `Barrier`): each `wait()`
 * resolves once all have arrived, with a distinct index 0..parties-1.
 * A timeout, `abort()` or `reset()` breaks it for the waiters
 * (BrokenBarrierError).
 */
export class Barrier implements Portable {
  /** The shared memory. */
  readonly buffer: SharedArrayBuffer
  private readonly cells: Int32Array
  private readonly defaultTimeout: number | undefined

  /** A barrier for `parties` threads; `timeout` is the default for `wait()`. `buffer`: @internal. */
  constructor(parties: number, opts: { timeout?: number } = {}, buffer?: SharedArrayBuffer) {
    if (!buffer && (!Number.isInteger(parties) || parties < 1)) throw new RangeError(`Barrier parties must be a positive integer, got ${parties}`)
    this.buffer = buffer ?? new SharedArrayBuffer(6 * 4)
    this.cells = new Int32Array(this.buffer)
    this.defaultTimeout = opts.timeout
    if (!buffer) { this.cells[PARTIES] = parties; this.cells[BROKEN_GEN] = -1 }
  }

  private lock(): void {
    while (Atomics.compareExchange(this.cells, MUTEX, 0, 1) !== 0) { /* held only for a few instructions */ }
  }

  private unlock(): void {
    Atomics.store(this.cells, MUTEX, 0)
  }

  /** Wait for all parties; resolves this party's arrival index. BrokenBarrierError if broken meanwhile or on timeout. */
  async wait(opts: WaitOptions = {}): Promise<number> {
    const bad = optionsError('Barrier.wait()', opts)
    if (bad) throw bad
    const c = this.cells
    this.lock()
    if (c[BROKEN]) { this.unlock(); throw new BrokenBarrierError('the barrier is broken') }
    const gen = c[GEN]!
    const index = c[COUNT]!++
    if (c[COUNT] === c[PARTIES]) {
      c[COUNT] = 0
      Atomics.add(c, GEN, 1)
      this.unlock()
      Atomics.notify(c, GEN)
      return index
    }
    this.unlock()
    const deadline = deadlineOf(opts.timeout ?? this.defaultTimeout)
    for (;;) {
      let outcome: 'ok' | 'timed-out'
      try {
        outcome = await waitWhile(c, GEN, gen, deadline, opts.signal)
      } catch (err) {
        this.abort()
        throw err
      }
      if (Atomics.load(c, GEN) !== gen) {
        if (Atomics.load(c, BROKEN_GEN) === gen) throw new BrokenBarrierError('the barrier was broken while waiting')
        return index
      }
      if (outcome === 'timed-out') {
        this.abort()
        throw new BrokenBarrierError('the barrier timed out and is now broken')
      }
    }
  }

  private breakGeneration(sticky: boolean): void {
    const c = this.cells
    this.lock()
    if (sticky) c[BROKEN] = 1
    else c[BROKEN] = 0
    if (c[COUNT]! > 0 || sticky) {
      c[BROKEN_GEN] = c[GEN]!
      c[COUNT] = 0
      Atomics.add(c, GEN, 1)
    }
    this.unlock()
    Atomics.notify(c, GEN)
  }

  /** Break it: current and future waiters get BrokenBarrierError until `reset()`. */
  abort(): void {
    this.breakGeneration(true)
  }

  /** Back to the initial state; threads waiting now get BrokenBarrierError. */
  reset(): void {
    this.breakGeneration(false)
  }

  /** How many threads must meet. */
  get parties(): number { return this.cells[PARTIES]! }
  /** How many are waiting now. */
  get nWaiting(): number { return Atomics.load(this.cells, COUNT) }
  /** Whether it is broken. */
  get broken(): boolean { return Atomics.load(this.cells, BROKEN) === 1 }

  /** Carried to threads as its SharedArrayBuffer. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.Barrier', data: sharedData({ buffer: this.buffer, timeout: this.defaultTimeout }, import.meta.url) }
  }
}

registerPortable('troupe.Barrier', (d: { buffer: SharedArrayBuffer; timeout?: number }) => new Barrier(0, { timeout: d.timeout }, d.buffer))
