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
 * Park the calling request on `list` until something calls `wake` on it, or
 * until its timeout expires (`onTimeout` makes the error), or until its
 * connection closes (the signal from the call context). A parked entry that
 * gives up is removed from `list`, so nothing is later handed to a caller that
 * is no longer there: that is why a client that disconnects mid-`get` loses no item.
 */
export function park<T>(list: Parked[], opts: BlockOptions | undefined, onWake: () => T, onTimeout: () => Error): Promise<T> {
  const signal = callContext().signal
  if (signal?.aborted) return Promise.reject(gone())
  return new Promise<T>((resolve, reject) => {
    const cleanup = () => {
      entry.done = true
      disarm()
      const i = list.indexOf(entry)
      if (i >= 0) list.splice(i, 1)
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
