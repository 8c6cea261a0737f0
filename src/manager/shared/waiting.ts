import { AbortError, TimeoutError } from '../../errors.js'
import { armWait } from '../../timers.js'
import { callContext } from '../registry.js'

/** Options of every blocking method of a shared object. Timeouts are in milliseconds. */
export interface BlockOptions {
  /** `false` fails at once instead of waiting (Python's `block=False`). Default true. */
  block?: boolean
  /** Give up after this many milliseconds (default: wait forever). */
  timeout?: number
  /** Client side only: cancels the call on the server (the signal itself does not travel). */
  signal?: AbortSignal
}

/** A parked caller: `wake` is called when it may proceed; `fail` when it must give up. */
export interface Parked {
  wake(): void
  fail(err: Error): void
  done: boolean
}

/**
 * The callers parked on one shared object, in arrival order. Adding, taking
 * the first and dropping any one cost O(1) on average: a connection that
 * closes with n calls parked, or n puts that wake n gets, cost O(n), not the
 * O(n²) of splicing an array (whose shift() is O(n) once it is large).
 */
export class WaitList {
  private items: Parked[] = []
  private head = 0
  private live = 0
  private readonly listed = new WeakSet<Parked>()

  /** How many callers are waiting. */
  get length(): number { return this.live }

  /** Add a caller at the end. */
  push(p: Parked): void {
    this.items.push(p)
    this.listed.add(p)
    this.live++
  }

  /** The caller waiting longest (never one that gave up), or undefined. */
  first(): Parked | undefined {
    this.skipDone()
    return this.items[this.head]
  }

  /** Drop a caller that gave up or was woken (its `done` is already set); one no longer listed is ignored. */
  delete(p: Parked): void {
    if (!this.listed.delete(p)) return
    this.live--
    this.skipDone()
    // Entries given up in the middle stay as holes until they outnumber the live ones.
    if (this.items.length - this.head > 2 * this.live + 32) {
      this.items = this.items.slice(this.head).filter((e) => !e.done)
      this.head = 0
    }
  }

  /** Every waiting caller, oldest first; the list is left empty. */
  takeAll(): Parked[] {
    const out = this.items.slice(this.head).filter((e) => !e.done)
    for (const e of out) this.listed.delete(e)
    this.items = []
    this.head = 0
    this.live = 0
    return out
  }

  private skipDone(): void {
    while (this.head < this.items.length && this.items[this.head]!.done) this.head++
    if (this.head === this.items.length) { this.items = []; this.head = 0 }
    else if (this.head > 1024 && this.head * 2 > this.items.length) { this.items = this.items.slice(this.head); this.head = 0 }
  }
}

/**
 * Park the calling request on `list` until something calls `wake` on it, or
 * until its timeout expires (`onTimeout` makes the error), or until its
 * connection closes (the signal from the call context). A parked entry that
 * gives up is removed from `list`, so nothing is later handed to a caller that
 * is no longer there: that is why a client that disconnects mid-`get` loses no item.
 */
export function park<T>(list: WaitList, opts: BlockOptions | undefined, onWake: () => T, onTimeout: () => Error): Promise<T> {
  const signal = callContext().signal
  if (signal?.aborted) return Promise.reject(gone())
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      if (entry.done) return
      entry.done = true
      disarm()
      list.delete(entry)
    }
    const entry: Parked = {
      done: false,
      wake: () => { cleanup(); try { resolve(onWake()) } catch (err) { reject(err) } },
      fail: (err) => { cleanup(); reject(err) },
    }
    list.push(entry)
    const disarm = armWait({ timeout: opts?.timeout, signal }, () => { cleanup(); reject(onTimeout()) }, () => { cleanup(); reject(gone()) })
  })
}

function gone(): AbortError {
  return new AbortError('the caller went away or cancelled the call')
}

/** The TimeoutError a blocking method gives when its timeout expires. */
export function timedOut(what: string, opts?: BlockOptions): TimeoutError {
  return new TimeoutError(`${what} timed out after ${opts?.timeout} ms`)
}
