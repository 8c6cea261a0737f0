/**
 * The Pool API, once: Python's `multiprocessing.Pool` in TypeScript, shared by
 * `Pool` (worker threads / child processes) and `RedisPool` (workers on any
 * machine, tasks in Redis). A pool supplies only how a task is submitted
 * (`submit`) and how it winds down (`closing`, `terminating`, `joining`);
 * the method family, argument checks, chunking, lifecycle and errors live here.
 */
import { AbortError, PoolClosedError, TroupeError } from '../errors.js'
import { optionsError } from '../timers.js'
import { AsyncResult } from './async-result.js'
import { iterateChunks, toChunks } from './imap.js'
import { MODE_APPLY, MODE_MAP, MODE_STARMAP } from './protocol.js'

/** Any function a pool can run: exported from a module, arguments and result sendable. */
export type PoolFunction = (...args: any[]) => unknown
/** What a task of `F` resolves to. */
export type ResultOf<F extends PoolFunction> = Awaited<ReturnType<F>>
/** `args` may be left out when `F` takes none. */
export type ArgsThen<F extends PoolFunction, O> = [] extends Parameters<F>
  ? [args?: Parameters<F>, options?: O]
  : [args: Parameters<F>, options?: O]

/** What every pool's `applyAsync` takes (each pool adds its own, e.g. `timeout`). */
export interface BaseApplyOptions<R> {
  /** Called with the value when the task succeeds. */
  callback?: (value: R) => void
  /** Called with the error when it fails. */
  errorCallback?: (error: Error) => void
  /** Stop waiting: the result rejects with AbortError (what that does to a running task depends on the pool). */
  signal?: AbortSignal
}

/** Options of `map`, `starmap` and their async forms. */
export interface MapOptions<R> {
  /** Items per task (default: about a quarter of the items per worker, like Python). */
  chunksize?: number
  /** Called with all values when every chunk has succeeded (async forms). */
  callback?: (values: R[]) => void
  /** Called with the first error (async forms). */
  errorCallback?: (error: Error) => void
}

/** Options of `imap` and `imapUnordered`. */
export interface IMapOptions {
  /** Items per task (default 1). */
  chunksize?: number
  /** Most chunks submitted and not yet consumed: the backpressure window (default: a few per worker). */
  inflight?: number
}

/** The counters every pool's `stats()` has, whatever runs its tasks. */
export interface PoolCounters {
  /** Workers of this pool alive now. */
  workers: number
  /** Tasks (chunks, for map) that succeeded. */
  completed: number
  /** Tasks that failed. */
  failed: number
  /** Submitted and not settled yet. */
  pending: number
  /** Workers that died and were replaced. */
  crashes: number
}

/** How a task calls its function: `fn(...args)`; a chunk of items; a chunk of argument lists. */
export type Mode = typeof MODE_APPLY | typeof MODE_MAP | typeof MODE_STARMAP

/** Workers that die this many times in a row before doing any work stop the respawning. */
export const EARLY_DEATHS_LIMIT = 3

/** The error of a pool whose workers keep dying before they do anything (a module that exits on import, Redis unreachable). */
export function earlyDeathsError<E extends Error>(make: new (message: string) => E, pool: string, last: string): E {
  return new make(`${pool}: ${EARLY_DEATHS_LIMIT} workers in a row died before finishing any task (the last one ${last}); giving up on the queued tasks`)
}

/** The AbortError of a task whose signal fired. */
export function abortError(signal: AbortSignal): AbortError {
  const reason = signal.reason
  return new AbortError(`the task was aborted${reason instanceof Error ? `: ${reason.message}` : reason !== undefined ? `: ${String(reason)}` : ''}`, { cause: reason })
}

function checkChunksize(chunksize: number): number {
  if (!(Number.isInteger(chunksize) && chunksize >= 1)) throw new RangeError(`chunksize must be a positive integer, got ${chunksize}`)
  return chunksize
}

/**
 * The front every pool shares. `X` is what the pool's `applyAsync` takes
 * beyond the callbacks and signal (its `timeout`, ...). Tasks reach
 * `submit(fn, mode, args, options)`: for MODE_APPLY `args` is the argument
 * list, for MODE_MAP / MODE_STARMAP it is `[chunk]`.
 */
export abstract class PoolFront<X extends object> implements AsyncDisposable {
  /** How errors name this pool: `the pool`, `the Redis pool 'jobs'`. */
  protected abstract readonly label: string
  protected closed = false
  protected terminated = false

  /** Workers a map's default chunksize is spread over. */
  protected abstract chunkWorkers(): number
  /** Default imap window (chunks out at once). */
  protected abstract defaultInflight(): number
  /** Queue one task; never throws for what the task itself could fail with (that rejects its result). */
  protected abstract submit<R>(fn: PoolFunction, mode: Mode, args: unknown[], options: (BaseApplyOptions<R> & X) | undefined): AsyncResult<R>
  /** close() was called: no new tasks. */
  protected abstract closing(): void
  /** terminate() was called: fail what is pending, stop the workers. */
  protected abstract terminating(): Promise<void>
  /** join(): wait for what was submitted, then for the workers to end. */
  protected abstract joining(): Promise<void>
  /** Counters (each pool adds its own). */
  abstract stats(): PoolCounters

  /** Run `fn(...args)` on a worker and resolve with its result. */
  apply<F extends PoolFunction>(fn: F, ...rest: ArgsThen<F, BaseApplyOptions<ResultOf<F>> & X>): Promise<ResultOf<F>> {
    try {
      return this.applyAsync(fn, ...rest).get()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Submit `fn(...args)`; the AsyncResult is also awaitable. Throws PoolClosedError after close(). */
  applyAsync<F extends PoolFunction>(fn: F, ...rest: ArgsThen<F, BaseApplyOptions<ResultOf<F>> & X>): AsyncResult<ResultOf<F>> {
    const args = (rest[0] ?? []) as unknown[]
    if (!Array.isArray(args)) throw new TypeError(`args must be an array of arguments, got ${typeof args}`)
    // Python's third positional is kwds, a dict: here it is the options, and a number or string was ignored.
    const bad = optionsError('applyAsync()', rest[1], '{ timeout?, signal?, callback?, errorCallback?, retries? }', 3)
    if (bad) throw bad
    this.checkOpen()
    // A task's timeout is its time to run: 0 would fail it unrun (a result's get() is where a 0 means "now").
    const timeout = (rest[1] as { timeout?: unknown } | undefined)?.timeout
    if (timeout !== undefined && !((timeout as number) > 0)) throw new RangeError(`timeout must be a positive number of ms, got ${timeout}`)
    return this.submit<ResultOf<F>>(fn, MODE_APPLY, args, rest[1])
  }

  /** Apply `fn` to every item and resolve with the results in order (Python's `map`, chunked). */
  map<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]>, options?: MapOptions<ResultOf<F>>): Promise<ResultOf<F>[]> {
    try { return this.mapAsync(fn, iterable, options).get() } catch (err) { return Promise.reject(err) }
  }

  /** `map`, returning an AsyncResult of the whole list at once. */
  mapAsync<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]>, options?: MapOptions<ResultOf<F>>): AsyncResult<ResultOf<F>[]> {
    return this.mapChunks<ResultOf<F>>(fn, MODE_MAP, iterable, options)
  }

  /** Like `map`, but each item is an argument list: `fn(...item)`. */
  starmap<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>>, options?: MapOptions<ResultOf<F>>): Promise<ResultOf<F>[]> {
    try { return this.starmapAsync(fn, iterable, options).get() } catch (err) { return Promise.reject(err) }
  }

  /** `starmap`, returning an AsyncResult of the whole list. */
  starmapAsync<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>>, options?: MapOptions<ResultOf<F>>): AsyncResult<ResultOf<F>[]> {
    return this.mapChunks<ResultOf<F>>(fn, MODE_STARMAP, iterable, options)
  }

  /**
   * Results in input order as they become available. The input (sync or
   * async iterable) is read lazily: at most `inflight` chunks are out at once.
   */
  imap<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>, options?: IMapOptions): AsyncIterableIterator<ResultOf<F>> {
    return this.imapWith<ResultOf<F>>(fn, iterable, options, true)
  }

  /** Like `imap`, but yields results in the order they finish. */
  imapUnordered<F extends PoolFunction>(fn: F, iterable: Iterable<Parameters<F>[0]> | AsyncIterable<Parameters<F>[0]>, options?: IMapOptions): AsyncIterableIterator<ResultOf<F>> {
    return this.imapWith<ResultOf<F>>(fn, iterable, options, false)
  }

  private imapWith<R>(fn: PoolFunction, iterable: Iterable<unknown> | AsyncIterable<unknown>, options: IMapOptions = {}, ordered: boolean): AsyncIterableIterator<R> {
    const bad = optionsError(ordered ? 'imap()' : 'imapUnordered()', options, '{ chunksize?, inflight? }', 3, `Python's imap(f, xs, 4) is imap(f, xs, { chunksize: 4 })`)
    if (bad) throw bad
    this.checkOpen()
    const chunksize = checkChunksize(options.chunksize ?? 1)
    const window = options.inflight ?? this.defaultInflight()
    return iterateChunks<R>((chunk) => {
      this.checkOpen()
      return this.submit<R[]>(fn, MODE_MAP, [chunk], undefined)
    }, iterable, chunksize, window, ordered)
  }

  private mapChunks<R>(fn: PoolFunction, mode: Mode, iterable: Iterable<unknown>, options: MapOptions<R> = {}): AsyncResult<R[]> {
    const bad = optionsError(mode === MODE_MAP ? 'map()' : 'starmap()', options, '{ chunksize?, ... }', 3, `Python's map(f, xs, 4) is map(f, xs, { chunksize: 4 })`)
    if (bad) throw bad
    this.checkOpen()
    const items = Array.isArray(iterable) ? iterable : [...iterable]
    const chunksize = checkChunksize(options.chunksize ?? Math.max(1, Math.ceil(items.length / (Math.max(1, this.chunkWorkers()) * 4))))
    const whole = new AsyncResult<R[]>(options.callback, options.errorCallback)
    const chunks = toChunks(items, chunksize)
    if (chunks.length === 0) { whole.fulfill([]); return whole }
    const out = new Array<R>(items.length)
    let left = chunks.length
    for (let i = 0; i < chunks.length; i++) {
      const t = this.submit<R[]>(fn, mode, [chunks[i]], undefined)
      const offset = i * chunksize
      // Settled through the result's internal hook: no promise per chunk.
      t.onSettled(() => {
        if (whole.ready()) return
        const e = t.failure()
        if (e) { whole.reject(e); return }
        const part = t.value()!
        for (let j = 0; j < part.length; j++) out[offset + j] = part[j]!
        if (--left === 0) whole.fulfill(out)
      })
    }
    return whole
  }

  /** Throw PoolClosedError once the pool takes no new tasks. */
  protected checkOpen(): void {
    if (this.closed) throw new PoolClosedError(this.terminated ? `${this.label} was terminated` : `${this.label} is closed: no new tasks after close()`)
  }

  /** Accept no more tasks; workers finish what was submitted (then `join()`). */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.closing()
  }

  /** Stop now: pending tasks fail with PoolClosedError, workers are stopped; resolves once they are gone. */
  async terminate(): Promise<void> {
    if (!this.terminated) {
      this.closed = true
      this.terminated = true
      await this.terminating()
    }
    await this.join()
  }

  /** Wait until every submitted task has finished and the workers have exited; call close() or terminate() first (as in Python). */
  async join(): Promise<void> {
    if (!this.closed) throw new TroupeError('join() waits for a pool to finish: call close() or terminate() first')
    await this.joining()
  }

  /** `await using pool = ...`: close, then wait for submitted work and the workers' exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.join()
  }

  /** The error a task submitted after terminate() fails with. */
  protected terminatedError(): PoolClosedError {
    return new PoolClosedError(`${this.label} was terminated before this task finished`)
  }
}
