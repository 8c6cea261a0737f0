import { AbortError, TimeoutError } from '../errors.js'
import { addDeadline, cancelDeadline, type Timed } from './timers.js'
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

/** One ask waiting for its answer. */
export class Pending<T = unknown> implements ReplyTo, Timed {
  readonly promise: Promise<T>
  id = 0
  deadline = Infinity
  live = false
  /** The place the ask went to, when it left this place (so it fails at once if that place dies). */
  target: string | undefined
  /** Called once settled (a proxy uses it to forget asks it forwarded). */
  onSettle: ((p: Pending<T>) => void) | undefined
  private resolve!: (v: T) => void
  private reject!: (e: unknown) => void
  private done = false
  private signal: AbortSignal | undefined
  private abortHandler: (() => void) | undefined
  private readonly what: string
  private timeoutMs = 0

  constructor(what: string, opts: AskOptions | undefined) {
    this.what = what
    this.promise = new Promise<T>((res, rej) => { this.resolve = res; this.reject = rej })
    open++
    if (opts) {
      if (opts.timeout !== undefined) {
        if (!(opts.timeout >= 0)) throw new RangeError(`ask timeout must be a non-negative number of ms, got ${opts.timeout}`)
        this.timeoutMs = opts.timeout
        this.deadline = performance.now() + opts.timeout
        addDeadline(this)
      }
      if (opts.signal) {
        this.signal = opts.signal
        if (opts.signal.aborted) queueMicrotask(() => this.fail(new AbortError(`ask to actor '${this.what}' was aborted`, { cause: opts.signal!.reason })))
        else {
          this.abortHandler = () => this.fail(new AbortError(`ask to actor '${this.what}' was aborted`, { cause: opts.signal!.reason }))
          opts.signal.addEventListener('abort', this.abortHandler, { once: true })
        }
      }
    }
  }

  /** Give this ask an id so a reply from another place can find it. */
  register(): number {
    this.id = nextId++
    byId.set(this.id, this as Pending)
    return this.id
  }

  /** Answer the ask (from the actor's return value or reply handle). */
  settle(ok: boolean, value: unknown): void {
    if (this.done) return
    this.finish()
    if (ok) this.resolve(value as T)
    else this.reject(value)
  }

  /** Reject the ask. */
  fail(err: unknown): void {
    this.settle(false, err)
  }

  /** Timer callback: the deadline passed. */
  fire(): void {
    this.fail(new TimeoutError(`ask to actor '${this.what}' got no answer within ${this.timeoutMs} ms`))
  }

  private finish(): void {
    this.done = true
    open--
    if (this.deadline !== Infinity) cancelDeadline(this)
    if (this.id) byId.delete(this.id)
    if (this.abortHandler) this.signal!.removeEventListener('abort', this.abortHandler)
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
