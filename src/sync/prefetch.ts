/** How a consumer in another place iterates a queue: whole batches per request, the next one already on its way. */
import type { TakeResult } from './queue-core.js'
import { isPacked, unpack } from '../codec/index.js'

const DONE: IteratorResult<never> = { value: undefined as never, done: true }

/**
 * A consumer in another place: one `take` request fetches a batch, and the
 * next batch is requested as soon as one arrives, so items travel while the
 * previous ones are consumed. `next()` is served from the batch without a
 * round trip; `return()` (a `break`) gives back what was fetched but unused.
 */
export class PrefetchIterator<T> implements AsyncIterableIterator<T> {
  /** What the last take brought: items and packed batches, unpacked one batch at a time as they are reached. */
  private fetched: unknown[] = []
  private f = 0
  /** The items of the packed batch being consumed. */
  private batch: T[] = []
  private i = 0
  private inflight: Promise<TakeResult<T>> | undefined
  private ctl: AbortController | undefined
  private refilling: Promise<IteratorResult<T>> | undefined
  private finished = false

  /** `call` reaches the queue's home; `prefetch` is the batch size asked for. */
  constructor(private readonly call: <R>(method: string, args: unknown[], signal?: AbortSignal) => Promise<R>, private readonly prefetch: number) {}

  private ask(): void {
    this.ctl = new AbortController()
    this.inflight = this.call<TakeResult<T>>('take', [this.prefetch], this.ctl.signal)
  }

  /** The next item already fetched, if any; unpacks a packed batch only when it is reached. */
  private local(): IteratorResult<T> | undefined {
    for (;;) {
      if (this.i < this.batch.length) {
        const value = this.batch[this.i]!
        this.batch[this.i++] = undefined as T
        return { value, done: false }
      }
      if (this.f >= this.fetched.length) return undefined
      const x = this.fetched[this.f]
      this.fetched[this.f++] = undefined
      if (!isPacked(x)) return { value: x as T, done: false }
      this.batch = unpack<T>(x)
      this.i = 0
    }
  }

  /** The next item: from the batch at hand, or once the next batch arrives. */
  next(): Promise<IteratorResult<T>> {
    if (this.refilling) return this.refilling.then(() => this.next())
    const got = this.local()
    if (got) return Promise.resolve(got)
    if (this.finished) return Promise.resolve(DONE)
    this.refilling = this.refill().finally(() => { this.refilling = undefined })
    return this.refilling
  }

  private async refill(): Promise<IteratorResult<T>> {
    for (;;) {
      if (!this.inflight) this.ask()
      let r: TakeResult<T>
      try {
        r = await this.inflight!
      } catch (err) {
        this.inflight = undefined
        this.finished = true
        throw err
      }
      this.inflight = undefined
      if (r.done || this.finished) { this.finished = true; if (r.items.length) void this.call('unget', [r.items]).catch(() => {}); return DONE }
      this.fetched = r.items
      this.f = 0
      this.ask()
      const got = this.local()
      if (got) return got
    }
  }

  /** Stop early (a `break`): give what was fetched but not consumed back to the queue. */
  async return(): Promise<IteratorResult<T>> {
    if (this.finished && !this.inflight) return DONE
    this.finished = true
    const rest: unknown[] = this.batch.slice(this.i)
    for (let k = this.f; k < this.fetched.length; k++) rest.push(this.fetched[k])
    this.batch = []
    this.i = 0
    this.fetched = []
    this.f = 0
    const inflight = this.inflight
    this.inflight = undefined
    if (inflight) {
      this.ctl!.abort()
      try { rest.push(...(await inflight).items) } catch { /* home gone: nothing to give back */ }
    }
    if (rest.length) await this.call('unget', [rest]).catch(() => {})
    return DONE
  }

  /** Itself, so it can be used in `for await`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this
  }
}
