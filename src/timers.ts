/**
 * One clock for every timeout troupe arms, and the one rule that keeps a
 * program alive while it awaits something. Every layer imports it (like
 * errors.ts, it sits below all of them).
 *
 * Deadlines. Every timeout in a place (an ask's, a queue get's, a join's, a
 * manager call's, a receive timeout, a delayed self-send) is an entry in one
 * binary heap ordered by the time it is due, served by one Node timer armed
 * for the earliest entry. Cancelling removes the entry and leaves the timer
 * alone: when it fires with nothing due it simply re-arms for what is left
 * (or nothing). Deadlines are coarse by default (undici's "fast timers"
 * idea): a new entry is only appended to a list, and a ticker that runs
 * every TICK_MS while the list is not empty reads the clock once and moves
 * the entries into the heap. So an ask answered before its timeout costs an
 * array push and pop: no clock read, no setTimeout/clearTimeout pair; a
 * coarse deadline fires up to TICK_MS late, never early. A caller that needs
 * the exact time (receive timeouts, `sleep`) asks for `precise`, and short
 * timeouts (under 40 ms) are always precise.
 *
 * Keep-alive. Awaiting a join, an ask, a get or a result keeps the program
 * alive until it settles, as Python blocks there, even when the thing it
 * waits on sits behind an unref'd handle (a daemon thread or process) or no
 * handle at all (a local queue, a local actor). Each such wait `hold()`s the
 * place open and `release()`s it when it ends: one counter, and one idle
 * interval that is ref'd while the counter is above zero (and until the next
 * tick after it drops to zero). Every scheduled deadline holds too (as a
 * ref'd timer would).
 */
import { AbortError } from './errors.js'

/** Resolution of coarse deadlines: one fires at most this many ms after it is due. */
export const TICK_MS = 10
/** Timeouts shorter than this are always precise (a tick would be a large share of them). */
const PRECISE_BELOW_MS = 4 * TICK_MS
/** The longest delay a Node timer takes (about 24.8 days); a longer one fires after 1 ms with a warning, so timers are armed at most this far ahead. */
export const MAX_TIMER_MS = 2 ** 31 - 1

/** An entry in the deadline queue (implement it on an object you already have, to allocate nothing). */
export interface Timed {
  /** Called once, when the deadline passes before the entry was cancelled. */
  fire(): void
  /** @internal Where it is queued: >= 0 heap index, <= -2 in `starting`, -1 nowhere. Start it at -1. */
  slot: number
  /** @internal When it fires (`performance.now()` ms); while starting, its timeout in ms. */
  at: number
}

// Reading the clock costs ~0.1-0.2 µs on some VMs, as much as the rest of an ask. So a coarse entry
// reads none: it waits in `starting` until the next tick (at most TICK_MS away), whose one clock read
// stamps every entry made since. Stamping late can only make a deadline late, never early.
const starting: Timed[] = []
let ticker: NodeJS.Timeout | undefined
let tickArmed = false

// Stamped (and precise) entries: a binary heap by `at`, served by one Node timer armed for the top.
const heap: Timed[] = []
let timer: NodeJS.Timeout | undefined
let armedAt = Infinity

function swapIn(i: number, e: Timed): void {
  heap[i] = e
  e.slot = i
}

function up(i: number): void {
  const e = heap[i]!
  while (i > 0) {
    const p = (i - 1) >> 1
    const parent = heap[p]!
    if (parent.at <= e.at) break
    swapIn(i, parent)
    i = p
  }
  swapIn(i, e)
}

function down(i: number): void {
  const n = heap.length
  const e = heap[i]!
  for (;;) {
    let c = 2 * i + 1
    if (c >= n) break
    if (c + 1 < n && heap[c + 1]!.at < heap[c]!.at) c++
    if (heap[c]!.at >= e.at) break
    swapIn(i, heap[c]!)
    i = c
  }
  swapIn(i, e)
}

function heapPush(e: Timed): void {
  e.slot = heap.length
  heap.push(e)
  up(heap.length - 1)
}

function heapRemove(i: number): void {
  const e = heap[i]!
  const last = heap.pop()!
  e.slot = -1
  if (last === e) return
  swapIn(i, last)
  if (i > 0 && heap[(i - 1) >> 1]!.at > last.at) up(i)
  else down(i)
}

function arm(): void {
  if (heap.length === 0) return
  const next = heap[0]!.at
  if (next >= armedAt) return
  if (timer) clearTimeout(timer)
  armedAt = next
  // Unref'd: what keeps the place alive is the holds (see keep-alive above), not this timer.
  timer = setTimeout(onTimer, Math.min(MAX_TIMER_MS, Math.max(1, Math.ceil(next - performance.now()))))
  timer.unref()
}

function onTimer(): void {
  timer = undefined
  armedAt = Infinity
  const now = performance.now()
  try {
    while (heap.length > 0 && heap[0]!.at <= now) {
      const e = heap[0]!
      heapRemove(0)
      release()
      e.fire()
    }
  } finally {
    arm()
  }
}

function onTick(): void {
  tickArmed = false
  if (starting.length === 0) return
  const now = performance.now()
  for (const e of starting) {
    e.at += now
    heapPush(e)
  }
  starting.length = 0
  arm()
}

/**
 * Schedule `entry` to fire `ms` from now. Coarse unless `precise` (or `ms`
 * is short): it fires up to TICK_MS late, and costs no clock read. An entry
 * already scheduled is moved. While scheduled it holds the place open.
 */
export function schedule(entry: Timed, ms: number, precise = false): void {
  if (precise || !(ms >= PRECISE_BELOW_MS)) return scheduleAt(entry, performance.now() + Math.max(0, ms || 0))
  if (entry.slot !== -1) cancel(entry)
  hold()
  entry.at = ms
  entry.slot = -2 - starting.length
  starting.push(entry)
  if (!tickArmed) {
    tickArmed = true
    if (ticker) ticker.refresh()
    else { ticker = setTimeout(onTick, TICK_MS); ticker.unref() }
  }
}

/** Schedule `entry` to fire precisely at `performance.now()` time `at`. */
export function scheduleAt(entry: Timed, at: number): void {
  if (entry.slot !== -1) cancel(entry)
  hold()
  entry.at = at
  heapPush(entry)
  if (at < armedAt) arm()
}

/** Cancel a scheduled entry (no-op if it fired or was never scheduled). Timers are left to lapse. */
export function cancel(entry: Timed): void {
  const slot = entry.slot
  if (slot === -1) return
  if (slot >= 0) heapRemove(slot)
  else {
    const i = -2 - slot
    const last = starting.pop()!
    if (last !== entry) { starting[i] = last; last.slot = slot }
    entry.slot = -1
  }
  release()
}

/** Whether `entry` is scheduled and has not fired. */
export function isScheduled(entry: Timed): boolean {
  return entry.slot !== -1
}

/** How many deadlines are scheduled in this place (for tests and diagnostics). */
export function scheduledCount(): number {
  return heap.length + starting.length
}

// ---------------------------------------------------------------- keep-alive

let holds = 0
// A ref'd handle exists while something is held. Letting go waits for the next tick, so a loop of
// asks answered one after another (all in microtasks) does not toggle it on every ask.
let keeper: NodeJS.Timeout | undefined
let refed = false
let letGoQueued = false

/** Keep this place alive until the matching `release()`: something is awaiting. */
export function hold(): void {
  holds++
  if (!refed) {
    refed = true
    ;(keeper ??= setInterval(noop, 0x7fffffff)).ref()
  }
}

/** End one `hold()`. */
export function release(): void {
  if (--holds === 0 && !letGoQueued) {
    letGoQueued = true
    process.nextTick(letGo)
  }
}

function letGo(): void {
  letGoQueued = false
  if (holds === 0 && refed) {
    refed = false
    keeper!.unref()
  }
}

/** How many waits hold this place open now (0 when nothing leaks). */
export function heldCount(): number {
  return holds
}

function noop(): void {}

/** Keep the place alive while `p` is pending; returns `p`. */
export function holdUntilSettled<T>(p: Promise<T>): Promise<T> {
  hold()
  p.then(release, release)
  return p
}

// ---------------------------------------------------------------- waits

/** The limits of a blocking call: a timeout in ms and/or an AbortSignal. */
export interface WaitLimits {
  /** Milliseconds; undefined, null or Infinity for none. Negative counts as 0. */
  timeout?: number | null
  /** Cancels the wait. */
  signal?: AbortSignal
  /** Fire exactly at the deadline instead of within TICK_MS after it. */
  precise?: boolean
}

/**
 * The error for an options argument that is not an object, or whose `timeout`
 * is not a non-negative number of ms, else undefined (callers throw or reject
 * with it). A JavaScript caller writing Python's positional forms
 * (`q.get(true, 1)`, `p.join(1)`, `new Pool(4)`) would otherwise have them
 * ignored: a wait with no limit, a pool of another size. The checks and
 * messages are a manager's (its proxies refuse the same), and CPython's:
 * a negative timeout is refused, not taken as 0 (Python's `acquire(timeout=-1)`
 * means no limit). `hint` ends the message of a non-object.
 */
export function optionsError(what: string, opts: unknown, shape = '{ timeout?, signal? }', position = 1, hint = 'timeouts are in milliseconds: { timeout: 1000 }'): TypeError | RangeError | undefined {
  if (opts === undefined) return undefined
  if (typeof opts !== 'object' || opts === null) return new TypeError(`${what} argument ${position}: expected options ${shape}, got ${describeValue(opts)} (${hint})`)
  return timeoutError((opts as { timeout?: unknown }).timeout, `${what} argument ${position}: `)
}

/**
 * The error for a `timeout` that is not a non-negative number of ms (undefined
 * and null mean no limit), else undefined; its message starts with `prefix`.
 * The one timeout check: of every wait here (optionsError) and of the blocking
 * methods a manager serves (manager/arguments.ts).
 */
export function timeoutError(timeout: unknown, prefix = ''): TypeError | RangeError | undefined {
  if (timeout === undefined || timeout === null || (typeof timeout === 'number' && timeout >= 0)) return undefined
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) return new TypeError(`${prefix}timeout must be a number of milliseconds, got ${describeValue(timeout)}`)
  return new RangeError(`${prefix}timeout must be a non-negative number, got ${timeout} (omit it to wait without a limit)`)
}

function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'string') return `string ${JSON.stringify(v.slice(0, 40))}`
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`
  // A manager checks what a peer sent: a bigint's decimal text costs quadratic time, and an object's
  // text is whatever its toString does (or a throw, for a null prototype); neither is written out.
  if (typeof v === 'bigint') return 'a bigint'
  if (typeof v === 'object') return `object ${(Object.getPrototypeOf(v) as { constructor?: { name?: unknown } } | null)?.constructor?.name ?? '(null prototype)'}`
  return `${typeof v} ${String(v)}`
}

/**
 * One blocking wait's limits, armed: extend it or use `armWait` (an ask,
 * the hottest wait, inlines the same steps: actor/pending.ts). `begin(limits)` holds the place open, schedules the timeout
 * and listens to the signal; the first of `expired()`, `aborted(reason)` or
 * `end()` ends it, and the other two then do nothing.
 */
export abstract class Waiting implements Timed {
  /** @internal */
  slot = -1
  /** @internal */
  at = 0
  private state = 0 // 0 not begun, 1 waiting, 2 ended
  private stopListening: (() => void) | undefined

  /** The timeout passed. */
  protected abstract expired(): void
  /** The signal aborted. */
  protected abstract aborted(reason: unknown): void

  /** Start waiting under `limits` (call once). */
  protected begin(limits: WaitLimits | undefined): void {
    this.state = 1
    hold()
    if (!limits) return
    const ms = limits.timeout
    if (ms !== undefined && ms !== null && ms !== Infinity) schedule(this, ms, limits.precise)
    if (limits.signal) this.stopListening = onAbort(limits.signal, (reason) => { if (this.end()) this.aborted(reason) })
  }

  /** @internal The deadline passed. */
  fire(): void {
    if (this.end()) this.expired()
  }

  /** Stop waiting: cancel the timeout, stop listening, release the place. False if it had already ended. */
  end(): boolean {
    if (this.state !== 1) return false
    this.state = 2
    if (this.slot !== -1) cancel(this)
    this.stopListening?.()
    release()
    return true
  }

  /** Whether it is still waiting. */
  get waiting(): boolean {
    return this.state === 1
  }
}

class ArmedWait extends Waiting {
  constructor(limits: WaitLimits, private readonly onTimeout: () => void, private readonly onAbort: (reason: unknown) => void) {
    super()
    this.begin(limits)
  }

  protected expired(): void { this.onTimeout() }
  protected aborted(reason: unknown): void { this.onAbort(reason) }
  readonly disarm = (): void => { this.end() }
}

/**
 * Arm the limits of one blocking wait: `onTimeout()` runs once `timeout` ms
 * pass, `onAbort(reason)` once `signal` aborts (on the next microtask if it
 * already has). At most one of them runs, once; neither runs after the
 * returned disarm function is called. The wait holds the place open until it
 * ends (see keep-alive), so a program awaiting it does not exit.
 */
export function armWait(limits: WaitLimits, onTimeout: () => void, onAbort: (reason: unknown) => void): () => void {
  return new ArmedWait(limits, onTimeout, onAbort).disarm
}

/**
 * Run `fn(reason)` once `signal` aborts: on the next microtask if it already
 * has (so the caller can first register what the abort undoes). Returns the
 * function that stops listening.
 */
export function onAbort(signal: AbortSignal, fn: (reason: unknown) => void): () => void {
  if (signal.aborted) {
    let live = true
    queueMicrotask(() => { if (live) fn(signal.reason) })
    return () => { live = false }
  }
  const listener = () => fn(signal.reason)
  signal.addEventListener('abort', listener, { once: true })
  return () => signal.removeEventListener('abort', listener)
}

/** The AbortError for an aborted signal: its reason when that is already an Error other than a bare AbortError. */
export function abortError(reason: unknown, what = 'the operation was aborted'): Error {
  if (reason instanceof Error && reason.name !== 'AbortError') return reason
  return new AbortError(what, reason === undefined ? undefined : { cause: reason })
}

/**
 * Settle like `p`, or reject with `onTimeout()` after `timeout` ms, or with
 * an AbortError when `signal` aborts; holds the place open meanwhile. `p`
 * keeps running either way.
 */
export function withTimeout<T>(p: Promise<T>, limits: WaitLimits, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const disarm = armWait(limits, () => reject(onTimeout()), (r) => reject(abortError(r)))
    p.then((v) => { disarm(); resolve(v) }, (e) => { disarm(); reject(e) })
  })
}

/** Resolve after `ms` (precisely), or reject with AbortError when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    armWait({ timeout: ms, signal, precise: true }, resolve, (r) => reject(abortError(r)))
  })
}
