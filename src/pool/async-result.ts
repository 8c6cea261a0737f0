import { TimeoutError, TroupeError } from '../errors.js'
import { armWait, optionsError, withTimeout } from '../timers.js'

const PENDING = 0
const FULFILLED = 1
const REJECTED = 2

/** Options of `AsyncResult.get()` and `wait()`. */
export interface WaitOptions {
  /** Give up after this many milliseconds (the task keeps running). */
  timeout?: number
}

const noop = () => {}

interface Hooks<T> {
  callback: ((value: T) => void) | undefined
  errorCallback: ((error: Error) => void) | undefined
  listeners: (() => void)[] | undefined
}
const nativeThen = Promise.prototype.then

/**
 * The result of a task that may not have finished yet (Python's
 * `multiprocessing.pool.AsyncResult`). It is a real Promise too: `await r`,
 * `Promise.all(results)` and `.then()` work directly on it, with no wrapper
 * promise per task. A failure nobody looks at is kept (as in Python) rather
 * than reported as an unhandled rejection.
 */
export class AsyncResult<T> extends Promise<T> {
  private status = PENDING
  private outcome: unknown = undefined
  private resolveFn: (value: T) => void
  private rejectFn: (error: unknown) => void
  /** Callbacks and listeners, when there are any (most results have none). */
  private hooks: Hooks<T> | undefined

  /** @internal Use the pool's methods; they create results. */
  constructor(callback?: (value: T) => void, errorCallback?: (error: Error) => void) {
    let resolve!: (value: T) => void
    let reject!: (error: unknown) => void
    super((res, rej) => { resolve = res; reject = rej })
    this.resolveFn = resolve
    this.rejectFn = reject
    this.hooks = callback || errorCallback ? { callback, errorCallback, listeners: undefined } : undefined
  }

  /** True once the task has finished (either way). */
  ready(): boolean {
    return this.status !== PENDING
  }

  /** True if the task finished without throwing; throws if it has not finished yet. */
  successful(): boolean {
    if (this.status === PENDING) throw new TroupeError('successful() was called before the result is ready; check ready() or await wait() first')
    return this.status === FULFILLED
  }

  /** Resolve with the value, or reject with the task's error; with `timeout`, reject with TimeoutError after that many ms. */
  get(options: WaitOptions = {}): Promise<T> {
    const bad = optionsError('AsyncResult.get()', options, '{ timeout? }')
    if (bad) return Promise.reject(bad)
    // A promise of its own, so a get() nobody awaits still reports its rejection.
    const p = nativeThen.call(this) as Promise<T>
    const { timeout } = options
    if (timeout === undefined || this.status !== PENDING) return p
    return withTimeout(p, { timeout }, () => new TimeoutError(`result not ready after ${timeout} ms`))
  }

  /** Resolve once the task has finished or `timeout` ms have passed; never rejects. */
  wait(options: WaitOptions = {}): Promise<void> {
    const bad = optionsError('AsyncResult.wait()', options, '{ timeout? }')
    if (bad) return Promise.reject(bad)
    if (this.status !== PENDING) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const disarm = armWait(options, () => resolve(), () => resolve())
      this.onSettled(() => { disarm(); resolve() })
    })
  }

  /** Derived promises (`r.then(...)`) are plain Promises. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  /** @internal */
  override get [Symbol.toStringTag](): string {
    return 'AsyncResult'
  }

  /** @internal The value once fulfilled (undefined otherwise). */
  value(): T | undefined {
    return this.status === FULFILLED ? this.outcome as T : undefined
  }

  /** @internal The error once rejected (undefined otherwise). */
  failure(): Error | undefined {
    return this.status === REJECTED ? this.outcome as Error : undefined
  }

  /** @internal Run `fn` once the result is settled. */
  onSettled(fn: () => void): void {
    if (this.status !== PENDING) { fn(); return }
    const hooks = this.hooks ??= { callback: undefined, errorCallback: undefined, listeners: undefined }
    ;(hooks.listeners ??= []).push(fn)
  }

  /** @internal Settle with a value; later calls are ignored. */
  fulfill(value: T): void {
    if (this.status !== PENDING) return
    this.status = FULFILLED
    this.outcome = value
    this.resolveFn(value)
    if (this.hooks) this.settled(this.hooks.callback, value)
  }

  /** @internal Settle with an error; later calls are ignored. */
  reject(error: Error): void {
    if (this.status !== PENDING) return
    this.status = REJECTED
    this.outcome = error
    // Mark it handled: an unobserved failure stays in the result, as in Python.
    nativeThen.call(this, undefined, noop)
    this.rejectFn(error)
    if (this.hooks) this.settled(this.hooks.errorCallback, error)
  }

  private settled<V>(callback: ((v: V) => void) | undefined, v: V): void {
    const ls = this.hooks!.listeners
    this.hooks = undefined
    if (callback) runCallback(callback, v)
    if (ls) for (const fn of ls) fn()
  }
}

/**
 * `Promise.resolve(r)`, `await r` and `Promise.all` take a promise as it is only when its
 * `constructor` is Promise itself; otherwise they wrap it as a thenable, one more promise and job
 * per task. Called on AsyncResult and on every subclass (a class sets its own `constructor`).
 */
export function passAsPlainPromise(cls: { prototype: object }): void {
  Object.defineProperty(cls.prototype, 'constructor', { value: Promise, writable: true, configurable: true })
}
passAsPlainPromise(AsyncResult)

// A throwing callback must not break the pool's result loop; it surfaces as an uncaught exception, like any callback's.
function runCallback<V>(cb: (v: V) => void, v: V): void {
  try { cb(v) } catch (err) { process.nextTick(() => { throw err }) }
}
