/**
 * Waiting on shared memory without blocking the event loop: every primitive
 * in this folder parks on `Atomics.waitAsync` and re-checks its state after
 * each wake-up.
 */
import { isMainThread } from 'node:worker_threads'
import { AbortError, SyncStateError } from '../errors.js'
import { hold, release } from '../timers.js'

// Node 20 has Atomics.waitAsync; the ES2023 lib does not declare it yet.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> }
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): WaitAsyncResult }).waitAsync

/** Options of a blocking acquire/wait. */
export interface WaitOptions {
  /** Milliseconds to wait at most; default forever. */
  timeout?: number
  /** Cancels the wait (AbortError). */
  signal?: AbortSignal
}

/** An absolute deadline (ms since epoch) for `timeout`, or undefined for none. */
export function deadlineOf(timeout: number | undefined): number | undefined {
  return timeout === undefined || timeout === null || !Number.isFinite(timeout) ? undefined : Date.now() + Math.max(0, timeout)
}

/** Milliseconds left until `deadline` (Infinity without one). */
export function remaining(deadline: number | undefined): number {
  return deadline === undefined ? Infinity : Math.max(0, deadline - Date.now())
}

/**
 * Resolve once `cells[index]` is no longer `expected` (or may not be: callers
 * re-check), or when `deadline` passes ('timed-out'). Rejects with AbortError
 * when `signal` aborts.
 */
export async function waitWhile(cells: Int32Array, index: number, expected: number, deadline: number | undefined, signal?: AbortSignal): Promise<'ok' | 'timed-out'> {
  if (signal?.aborted) throw new AbortError('the wait was aborted')
  const left = remaining(deadline)
  if (left <= 0) return 'timed-out'
  const r = waitAsync(cells, index, expected, left === Infinity ? undefined : left)
  if (!r.async) return r.value === 'timed-out' ? 'timed-out' : 'ok'
  // A pending waitAsync does not keep Node's event loop alive; the wait holds the place open instead (timers.ts).
  hold()
  try {
    return await settle(r.value, cells, index, signal)
  } finally {
    release()
  }
}

async function settle(value: Promise<'ok' | 'timed-out'>, cells: Int32Array, index: number, signal?: AbortSignal): Promise<'ok' | 'timed-out'> {
  if (!signal) return value
  let abandoned = false
  let onAbort!: () => void
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => { abandoned = true; reject(new AbortError('the wait was aborted')) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  // A wake-up that lands on a waiter nobody listens to any more is passed on, so no notify is lost.
  void value.then((v) => { if (abandoned && v === 'ok') Atomics.notify(cells, index, 1) })
  try {
    return await Promise.race([value, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Shared buffers are only for threads of one process; the Process check reads `shared: true`. */
export function sharedData<D extends object>(data: D, module: string): D & { shared: true; module: string } {
  return { ...data, shared: true, module }
}

/**
 * Blocking wait for worker threads (CPU-bound code with no event loop to
 * spare): like `waitWhile` but with `Atomics.wait`. Refused on the main
 * thread, whose event loop must never block.
 */
export function waitWhileSync(cells: Int32Array, index: number, expected: number, deadline: number | undefined): 'ok' | 'timed-out' {
  assertMayBlock()
  const left = remaining(deadline)
  if (left <= 0) return 'timed-out'
  return Atomics.wait(cells, index, expected, left === Infinity ? undefined : left) === 'timed-out' ? 'timed-out' : 'ok'
}

/** The …Sync methods refuse the main thread even when they would not block, so misuse shows at once. */
export function assertMayBlock(): void {
  if (isMainThread) throw new SyncStateError('blocking calls (…Sync) are only for worker threads; use the async method on the main thread')
}
