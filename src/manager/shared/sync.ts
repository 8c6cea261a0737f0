import { BrokenBarrierError, SyncStateError } from '../../errors.js'
import { callContext, callerGone } from '../registry.js'
import { park, type BlockOptions, WaitList } from './waiting.js'

// A blocking acquire that times out answers false, as Python's acquire(timeout=...) does.
function acquireWait(list: WaitList, opts: BlockOptions | undefined, take: () => void): Promise<boolean> {
  return park(list, opts, () => { take(); return true }, () => new Error('timeout')).catch((err: Error) => {
    if (err.message === 'timeout') return false
    throw err
  })
}

/** A mutual-exclusion lock served by a manager (Python's `Lock`); any client may release it. */
export class Lock {
  private held = false
  // Who took it, so it can be given back if that client disconnects while holding it.
  private holder: string | undefined
  private waiters = new WaitList()

  /** Take the lock; resolves false when `block: false` or the timeout (ms) expires first. */
  acquire(opts?: BlockOptions): boolean | Promise<boolean> {
    const me = callContext().caller
    if (!this.held) { this.held = true; this.holder = me; return true }
    if (opts?.block === false) return false
    return acquireWait(this.waiters, opts, () => { this.held = true; this.holder = me })
  }

  /** Release it; SyncStateError when it is not held. */
  release(): void {
    if (!this.held) throw new SyncStateError('release of an unlocked Lock')
    this.held = false
    this.holder = undefined
    if (this.waiters.length) this.waiters.first()!.wake()
  }

  /** A client that disconnected while holding the lock releases it. */
  [callerGone](caller: string): void {
    if (this.held && this.holder === caller) this.release()
  }

  /** Whether it is held. */
  locked(): boolean { return this.held }
}

/** A reentrant lock owned by the client connection that acquired it (Python's `RLock`). */
export class RLock {
  private owner: string | undefined
  private count = 0
  private waiters = new WaitList()

  /** Take the lock (again, if this client holds it); false on timeout or `block: false`. */
  acquire(opts?: BlockOptions): boolean | Promise<boolean> {
    const me = callContext().caller ?? 'local'
    if (this.owner === undefined || this.owner === me) { this.owner = me; this.count++; return true }
    if (opts?.block === false) return false
    return acquireWait(this.waiters, opts, () => { this.owner = me; this.count = 1 })
  }

  /** Release one level; SyncStateError when this client does not hold it. */
  release(): void {
    const me = callContext().caller ?? 'local'
    if (this.owner !== me) throw new SyncStateError('release of an RLock this client does not hold')
    if (--this.count === 0) {
      this.owner = undefined
      if (this.waiters.length) this.waiters.first()!.wake()
    }
  }

  /** Whether it is held by anyone. */
  locked(): boolean { return this.owner !== undefined }

  /** Whether `caller` holds it (Python's `_is_owned`, per client connection). */
  _isOwnedBy(caller: string | undefined): boolean { return this.owner !== undefined && this.owner === (caller ?? 'local') }

  /** A client that disconnected while holding the lock releases it fully. */
  [callerGone](caller: string): void {
    if (this.owner === caller) this.releaseAll(caller)
  }

  /** Release fully for Condition.wait; returns the depth to restore. */
  releaseAll(me: string): number {
    if (this.owner !== me) throw new SyncStateError('cannot wait on a Condition whose lock this client does not hold')
    const n = this.count
    this.count = 0
    this.owner = undefined
    if (this.waiters.length) this.waiters.first()!.wake()
    return n
  }

  /** Reacquire after Condition.wait with the saved depth. */
  async restore(me: string, depth: number): Promise<void> {
    if (this.owner === undefined) { this.owner = me; this.count = depth; return }
    await acquireWait(this.waiters, undefined, () => { this.owner = me; this.count = depth })
  }
}

/** A counting semaphore (Python's `Semaphore`). */
export class Semaphore {
  protected value: number
  private waiters = new WaitList()
  // Units each client holds, given back if it disconnects.
  private held = new Map<string, number>()

  constructor(value = 1) {
    if (!Number.isInteger(value) || value < 0) throw new TypeError(`semaphore value must be a non-negative integer, got ${value}`)
    this.value = value
  }

  /** Take one unit; false on timeout (ms) or `block: false`. */
  acquire(opts?: BlockOptions): boolean | Promise<boolean> {
    const me = callContext().caller
    const take = () => { this.value--; if (me) this.held.set(me, (this.held.get(me) ?? 0) + 1) }
    if (this.value > 0) { take(); return true }
    if (opts?.block === false) return false
    return acquireWait(this.waiters, opts, take)
  }

  /** Give back `n` units (default 1). */
  release(n = 1): void {
    const me = callContext().caller
    const mine = me ? this.held.get(me) ?? 0 : 0
    if (mine > n) this.held.set(me!, mine - n)
    else if (me) this.held.delete(me)
    this.value += n
    while (this.waiters.length && this.value > 0) this.waiters.first()!.wake()
  }

  /** A client that disconnected gives back the units it held. */
  [callerGone](caller: string): void {
    const n = this.held.get(caller)
    if (!n) return
    this.held.delete(caller)
    this.value += n
    while (this.waiters.length && this.value > 0) this.waiters.first()!.wake()
  }

  /** The current value. */
  getValue(): number { return this.value }
}

/** A semaphore that refuses to be released above its initial value (Python's `BoundedSemaphore`). */
export class BoundedSemaphore extends Semaphore {
  private readonly initial: number
  constructor(value = 1) {
    super(value)
    this.initial = value
  }

  /** The value it started with (its bound). */
  _initial(): number { return this.initial }

  /** Give back units; SyncStateError when that would exceed the initial value. */
  override release(n = 1): void {
    if (this.value + n > this.initial) throw new SyncStateError('BoundedSemaphore released too many times')
    super.release(n)
  }
}

/** A flag clients can set and wait for (Python's `Event`). */
export class Event {
  private flag = false
  private waiters = new WaitList()

  /** Set the flag and wake every waiter. */
  set(): void {
    this.flag = true
    while (this.waiters.length) this.waiters.first()!.wake()
  }
  /** Reset the flag. */
  clear(): void { this.flag = false }
  /** Whether the flag is set. */
  isSet(): boolean { return this.flag }
  /** Wait until set; resolves false when the timeout (ms) expires first. */
  wait(opts?: { timeout?: number }): boolean | Promise<boolean> {
    if (this.flag) return true
    return acquireWait(this.waiters, opts, () => {})
  }
}

/** A condition variable over a reentrant lock (Python's `Condition`); the lock is owned per client connection. */
export class Condition {
  private readonly lock = new RLock()
  private waiters = new WaitList()

  /** Take the underlying lock. */
  acquire(opts?: BlockOptions): boolean | Promise<boolean> { return this.lock.acquire(opts) }
  /** Release the underlying lock. */
  release(): void { this.lock.release() }

  /** Release the lock, wait for a notify (or the timeout in ms), take the lock back; false on timeout. */
  async wait(opts?: { timeout?: number }): Promise<boolean> {
    const me = callContext().caller ?? 'local'
    const depth = this.lock.releaseAll(me)
    let notified: boolean
    try {
      notified = await acquireWait(this.waiters, opts, () => {})
    } finally {
      await this.lock.restore(me, depth)
    }
    return notified
  }

  /** Wake up to `n` waiters (default 1); the caller must hold the lock. */
  notify(n = 1): void {
    this.#checkOwner()
    for (let i = 0; i < n && this.waiters.length; i++) this.waiters.first()!.wake()
  }

  /** Wake every waiter; the caller must hold the lock. */
  notifyAll(): void {
    this.#checkOwner()
    while (this.waiters.length) this.waiters.first()!.wake()
  }

  #checkOwner(): void {
    if (!this.lock.locked()) throw new SyncStateError('notify() on a Condition whose lock is not held')
  }

  /** Whether `caller` holds the underlying lock. */
  _isOwnedBy(caller: string | undefined): boolean { return this.lock._isOwnedBy(caller) }
  /** How many clients wait in `wait()`. */
  _waiting(): number { return this.waiters.length }

  /** A client that disconnected while holding the lock releases it. */
  [callerGone](caller: string): void {
    this.lock[callerGone](caller)
  }
}

/** A barrier for `parties` clients (Python's `Barrier`): `wait()` returns a distinct index 0..parties-1. */
export class Barrier {
  private readonly count: number
  private readonly defaultTimeout: number | undefined
  private waiters = new WaitList()
  private isBroken = false
  private arrived = 0

  constructor(parties: number, timeout?: number) {
    if (!Number.isInteger(parties) || parties < 1) throw new TypeError(`parties must be a positive integer, got ${parties}`)
    this.count = parties
    this.defaultTimeout = timeout
  }

  /** Wait for all parties; BrokenBarrierError when aborted, reset or timed out (which breaks it for everyone). */
  wait(opts?: { timeout?: number }): number | Promise<number> {
    if (this.isBroken) throw new BrokenBarrierError('barrier is broken')
    const index = this.arrived++
    if (this.arrived === this.count) {
      this.arrived = 0
      while (this.waiters.length) this.waiters.first()!.wake()
      return index
    }
    const timeout = opts?.timeout ?? this.defaultTimeout
    // A party that disconnects while waiting can never arrive again: break the barrier for the others.
    const signal = callContext().signal
    const onGone = () => this.abort()
    signal?.addEventListener('abort', onGone, { once: true })
    const waiting = park(this.waiters, { timeout }, () => index, () => { this.abort(); return new BrokenBarrierError(`barrier wait timed out after ${timeout} ms`) })
    const done = () => signal?.removeEventListener('abort', onGone)
    waiting.then(done, done)
    return waiting
  }

  /** Break the barrier: current and future waiters fail with BrokenBarrierError. */
  abort(): void {
    this.isBroken = true
    this.arrived = 0
    for (const w of this.waiters.takeAll()) w.fail(new BrokenBarrierError('barrier was aborted'))
  }

  /** Return to the initial state; current waiters fail with BrokenBarrierError. */
  reset(): void {
    for (const w of this.waiters.takeAll()) w.fail(new BrokenBarrierError('barrier was reset'))
    this.isBroken = false
    this.arrived = 0
  }

  /** Number of parties required. */
  parties(): number { return this.count }
  /** The default timeout of `wait()` in ms, if one was given. */
  _timeout(): number | undefined { return this.defaultTimeout }
  /** Number of parties waiting now. */
  nWaiting(): number { return this.waiters.length }
  /** Whether it is broken. */
  broken(): boolean { return this.isBroken }
}
