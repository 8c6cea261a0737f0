import { AbortError, TimeoutError } from '../../errors.js'
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
 * Park the calling request on `list` until something calls `wake` on it, or
 * until its timeout expires (`onTimeout` makes the error), or until its
 * connection closes (the signal from the call context). A parked entry that
 * gives up is removed from `list`, so nothing is later handed to a caller that
 * is no longer there: that is why a client that disconnects mid-`get` loses no item.
 */
export function park<T>(list: Parked[], opts: BlockOptions | undefined, onWake: () => T, onTimeout: () => Error): Promise<T> {
  const signal = callContext().signal
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const cleanup = () => {
      entry.done = true
      if (timer) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      const i = list.indexOf(entry)
      if (i >= 0) list.splice(i, 1)
    }
    const onAbort = () => { cleanup(); reject(new AbortError('the caller went away or cancelled the call')) }
    const entry: Parked = {
      done: false,
      wake: () => { cleanup(); try { resolve(onWake()) } catch (err) { reject(err) } },
      fail: (err) => { cleanup(); reject(err) },
    }
    if (signal?.aborted) { reject(new AbortError('the caller went away or cancelled the call')); return }
    list.push(entry)
    signal?.addEventListener('abort', onAbort, { once: true })
    const ms = opts?.timeout
    if (ms !== undefined && ms !== null && Number.isFinite(ms)) timer = setTimeout(() => { cleanup(); reject(onTimeout()) }, Math.max(0, ms))
  })
}

/** The TimeoutError a blocking method gives when its timeout expires. */
export function timedOut(what: string, opts?: BlockOptions): TimeoutError {
  return new TimeoutError(`${what} timed out after ${opts?.timeout} ms`)
}
