/**
 * An actor's mailbox: a growable ring buffer of messages with a parallel ring
 * of reply tokens (undefined for a plain `send`), so queuing a message
 * allocates nothing once the ring has grown to its working size.
 */

/** What a bounded mailbox does when a message arrives and it is full. */
export type Overflow = 'backpressure' | 'drop-newest' | 'drop-oldest' | 'fail'

/** Mailbox options for `spawn`. */
export interface MailboxOptions {
  /** Most messages waiting at once (default: unbounded). */
  capacity?: number
  /** Policy when full (default `'backpressure'`: `send` returns a promise that resolves once there is room). */
  overflow?: Overflow
}

/** How an ask is answered: a local promise or a reply routed to another place. */
export interface ReplyTo {
  /** Deliver the answer (`ok`) or the error (`!ok`); called at most once. */
  settle(ok: boolean, value: unknown): void
}

/** Counters a mailbox keeps. */
export interface MailboxStats {
  /** Messages waiting now. */
  queued: number
  /** Messages handed to `receive` so far. */
  processed: number
  /** Messages dropped by `drop-newest` / `drop-oldest`, or refused by `fail`. */
  dropped: number
}

/** A FIFO ring of (message, reply token) pairs. */
export class Mailbox {
  private msgs: unknown[]
  private tokens: (ReplyTo | undefined)[]
  private head = 0
  private mask: number
  /** Messages queued now. */
  size = 0
  /** Most messages allowed at once (Infinity when unbounded). */
  readonly capacity: number
  /** Policy when full. */
  readonly overflow: Overflow
  /** Messages dropped or refused because the mailbox was full. */
  dropped = 0
  /** Messages taken out so far. */
  processed = 0
  /** Token of the message returned by the last `shift()`. */
  lastToken: ReplyTo | undefined

  constructor(opts: MailboxOptions = {}) {
    const cap = opts.capacity ?? Infinity
    if (!(cap >= 1)) throw new RangeError(`mailbox capacity must be at least 1, got ${opts.capacity}`)
    this.capacity = cap
    this.overflow = opts.overflow ?? 'backpressure'
    if (!['backpressure', 'drop-newest', 'drop-oldest', 'fail'].includes(this.overflow)) {
      throw new RangeError(`mailbox overflow must be 'backpressure', 'drop-newest', 'drop-oldest' or 'fail', got '${this.overflow}'`)
    }
    this.msgs = new Array(16)
    this.tokens = new Array(16)
    this.mask = 15
  }

  /** True when a bounded mailbox holds `capacity` messages. */
  get full(): boolean {
    return this.size >= this.capacity
  }

  /** Append, growing the ring when needed (capacity is the caller's business). */
  push(msg: unknown, token: ReplyTo | undefined): void {
    if (this.size > this.mask) this.grow()
    const i = (this.head + this.size) & this.mask
    this.msgs[i] = msg
    this.tokens[i] = token
    this.size++
  }

  /** Take the oldest message; its reply token is left in `lastToken`. */
  shift(): unknown {
    const i = this.head
    const msg = this.msgs[i]
    this.lastToken = this.tokens[i]
    this.msgs[i] = undefined
    this.tokens[i] = undefined
    this.head = (i + 1) & this.mask
    this.size--
    this.processed++
    return msg
  }

  /** Put the message `shift()` just returned back in front (its host refused to hand it over). */
  unshift(msg: unknown, token: ReplyTo | undefined): void {
    if (this.size > this.mask) this.grow()
    this.head = (this.head - 1) & this.mask
    this.msgs[this.head] = msg
    this.tokens[this.head] = token
    this.size++
    this.processed--
  }

  /** Remove the oldest message without counting it as processed (drop-oldest); returns its token. */
  dropOldest(): ReplyTo | undefined {
    this.shift()
    this.processed--
    this.dropped++
    return this.lastToken
  }

  /** Empty the mailbox, returning the reply tokens of asks still waiting. */
  clear(): ReplyTo[] {
    const out: ReplyTo[] = []
    while (this.size > 0) {
      this.shift()
      this.processed--
      if (this.lastToken) out.push(this.lastToken)
    }
    this.lastToken = undefined
    return out
  }

  private grow(): void {
    const n = this.mask + 1
    const msgs = new Array(n * 2)
    const tokens = new Array(n * 2)
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & this.mask
      msgs[k] = this.msgs[i]
      tokens[k] = this.tokens[i]
    }
    this.msgs = msgs
    this.tokens = tokens
    this.head = 0
    this.mask = n * 2 - 1
  }

  /** Current counters. */
  stats(): MailboxStats {
    return { queued: this.size, processed: this.processed, dropped: this.dropped }
  }
}
