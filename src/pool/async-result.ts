import { TimeoutError, TroupeError } from '../errors.js'

const PENDING = 0
const FULFILLED = 1
const REJECTED = 2

/** Options of `AsyncResult.get()` and `wait()`. */
export interface WaitOptions {
  /** Give up after this many milliseconds (the task keeps running). */
  timeout?: number
}

/**
 * The result of a task that may not have finished yet (Python's
 * `multiprocessing.pool.AsyncResult`), and also a promise-like: `await r`
 * works. No Promise is made until someone asks for one, so a pool can
 * hand out hundreds of thousands of these cheaply, and a failed task that
 * nobody looks at raises no unhandled rejection.
 */
export class AsyncResult<T> implements PromiseLike<T> {
  private status = PENDING
  private outcome: unknown
  private promise: Promise<T> | undefined
  private resolvePromise: ((v: T) => void) | undefined
  private rejectPromise: ((e: unknown) => void) | undefined
  private listeners: (() => void)[] | undefined

  /** @internal Use the pool's methods; they create results. */
  constructor(
    private callback?: (value: T) => void,
    private errorCallback?: (error: Error) => void,
  ) {}

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
    const p = this.asPromise()
    const { timeout } = options
    if (timeout === undefined || this.status !== PENDING) return p
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError(`result not ready after ${timeout} ms`)), timeout)
      p.then((v) => { clearTimeout(timer); resolve(v) }, (e) => { clearTimeout(timer); reject(e) })
    })
  }

  /** Resolve once the task has finished or `timeout` ms have passed; never rejects. */
  wait(options: WaitOptions = {}): Promise<void> {
    if (this.status !== PENDING) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = options.timeout === undefined ? undefined : setTimeout(resolve, options.timeout)
      this.onSettled(() => { if (timer) clearTimeout(timer); resolve() })
    })
  }

  /** Promise-like: `await result` gives the value or throws the task's error. */
  then<A = T, B = never>(onFulfilled?: ((value: T) => A | PromiseLike<A>) | null, onRejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.asPromise().then(onFulfilled, onRejected)
  }

  /** Like `Promise.prototype.catch`. */
  catch<B = never>(onRejected?: ((reason: any) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.asPromise().catch(onRejected)
  }

  /** Like `Promise.prototype.finally`. */
  finally(onFinally?: (() => void) | null): Promise<T> {
    return this.asPromise().finally(onFinally)
  }

  /** @internal */
  get [Symbol.toStringTag](): string {
    return 'AsyncResult'
  }

  private asPromise(): Promise<T> {
    if (this.promise) return this.promise
    if (this.status === FULFILLED) this.promise = Promise.resolve(this.outcome as T)
    else if (this.status === REJECTED) this.promise = Promise.reject(this.outcome)
    else this.promise = new Promise<T>((resolve, reject) => { this.resolvePromise = resolve; this.rejectPromise = reject })
    return this.promise
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
    ;(this.listeners ??= []).push(fn)
  }

  /** @internal Settle with a value; later calls are ignored. */
  fulfill(value: T): void {
    if (this.status !== PENDING) return
    this.status = FULFILLED
    this.outcome = value
    if (this.resolvePromise) { this.resolvePromise(value); this.resolvePromise = this.rejectPromise = undefined }
    if (this.callback) runCallback(this.callback, value)
    this.settled()
  }

  /** @internal Settle with an error; later calls are ignored. */
  reject(error: Error): void {
    if (this.status !== PENDING) return
    this.status = REJECTED
    this.outcome = error
    if (this.rejectPromise) { this.rejectPromise(error); this.resolvePromise = this.rejectPromise = undefined }
    if (this.errorCallback) runCallback(this.errorCallback, error)
    this.settled()
  }

  private settled(): void {
    this.callback = this.errorCallback = undefined
    const ls = this.listeners
    if (!ls) return
    this.listeners = undefined
    for (const fn of ls) fn()
  }
}

// A throwing callback must not break the pool's result loop; it surfaces as an uncaught exception, like any callback's.
function runCallback<V>(cb: (v: V) => void, v: V): void {
  try { cb(v) } catch (err) { process.nextTick(() => { throw err }) }
}
