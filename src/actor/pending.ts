import { AbortError, TimeoutError } from '../errors.js'
import { cancel, hold, onAbort, release, schedule, optionsError, type Timed } from '../timers.js'
import type { ReplyTo } from './mailbox.js'

/** Options of `ask`. */
export interface AskOptions {
  /** Reject with TimeoutError after this many ms (default: wait until answered or the actor stops). */
  timeout?: number
  /** Reject with AbortError when aborted. */
  signal?: AbortSignal
}

let open = 0
let nextId = 1
// Only asks whose answer arrives from another place need to be found by id.
const byId = new Map<number, Pending>()

/**
 * One ask waiting for its answer. Its timeout and signal are armed on the
 * shared clock (timers.ts: `schedule`, `onAbort`): no timer of its own, and
 * the place stays alive while it is awaited (`hold`).
 */
export class Pending<T = unknown> implements ReplyTo, Timed {
  /** @internal Deadline queue slot (timers.ts). */
  slot = -1
  /** @internal */
  at = 0
  private done = false
  private stopListening: (() => void) | undefined
  readonly promise: Promise<T>
  id = 0
  /** The place the ask went to, when it left this place (so it fails at once if that place dies). */
  target: string | undefined
  /** Called once settled (a proxy uses it to forget asks it forwarded). */
  onSettle: ((p: Pending<T>) => void) | undefined
  private resolve!: (v: T) => void
  private reject!: (e: unknown) => void
  private readonly what: string
  private readonly timeoutMs: number

  constructor(what: string, opts: AskOptions | undefined) {
    this.what = what
    const bad = optionsError('ask()', opts, undefined, 2)
    if (bad) throw bad
    this.timeoutMs = opts?.timeout ?? 0
    this.promise = new Promise<T>((res, rej) => { this.resolve = res; this.reject = rej })
    open++
    hold()
    if (opts) {
      if (opts.timeout !== undefined && opts.timeout !== null && opts.timeout !== Infinity) schedule(this, opts.timeout)
      if (opts.signal) this.stopListening = onAbort(opts.signal, (reason) => { if (this.end()) this.aborted(reason) })
    }
  }

  /** @internal The deadline passed. */
  fire(): void {
    if (this.end()) this.expired()
  }

  // The same steps as timers.ts's Waiting.end(), inlined: a class hierarchy costs the hot path of every ask.
  private end(): boolean {
    if (this.done) return false
    this.done = true
    if (this.slot !== -1) cancel(this)
    this.stopListening?.()
    release()
    return true
  }

  /** Give this ask an id so a reply from another place can find it. */
  register(): number {
    this.id = nextId++
    byId.set(this.id, this as Pending)
    return this.id
  }

  /** Answer the ask (from the actor's return value or reply handle). */
  settle(ok: boolean, value: unknown): void {
    if (!this.end()) return
    this.finish()
    if (ok) this.resolve(value as T)
    else this.reject(value)
  }

  /** Reject the ask. */
  fail(err: unknown): void {
    this.settle(false, err)
  }

  private expired(): void {
    this.finish()
    this.reject(new TimeoutError(`ask to actor '${this.what}' got no answer within ${this.timeoutMs} ms`))
  }

  private aborted(reason: unknown): void {
    this.finish()
    this.reject(new AbortError(`ask to actor '${this.what}' was aborted`, { cause: reason }))
  }

  private finish(): void {
    open--
    if (this.id) byId.delete(this.id)
    const cb = this.onSettle
    if (cb) { this.onSettle = undefined; cb(this) }
  }
}

/** The waiting ask with this id, if any. */
export function pendingById(id: number): Pending | undefined {
  return byId.get(id)
}

/** Every ask that reached the given predicate, e.g. those sent into a place that died. */
export function pendingWhere(pred: (p: Pending) => boolean): Pending[] {
  return [...byId.values()].filter(pred)
}

/** How many asks made in this place are still waiting for an answer (0 when nothing leaks). */
export function pendingAsks(): number {
  return open
}
