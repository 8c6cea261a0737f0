/**
 * An actor's mailbox: a queue of segments, each a pair of arrays (messages
 * and reply tokens, undefined for a plain `send`). Segments grow 16 -> 64 ->
 * ... -> 4096 slots, are linked, never copied, and the emptied head segment is
 * kept for reuse, so queuing allocates nothing in the steady state and a
 * burst of a million sends costs no regrowing (a growable ring copied itself
 * 16 times for that, three quarters of the cost of a local tell).
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

const FIRST_SEGMENT = 16
const MAX_SEGMENT = 4096

/** A run of slots in a mailbox. */
interface Segment {
  msgs: unknown[]
  tokens: (ReplyTo | undefined)[]
  next: Segment | undefined
}

function segment(n: number): Segment {
  return { msgs: new Array(n), tokens: new Array(n), next: undefined }
}

/** A FIFO queue of (message, reply token) pairs. */
export class Mailbox {
  /** Segment and slot of the oldest message. */
  private head: Segment
  private headAt = 0
  /** Segment and slot where the next message goes. */
  private tail: Segment
  private tailAt = 0
  /** An emptied full-size segment, kept for the next growth. */
  private spare: Segment | undefined
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
    this.head = this.tail = segment(FIRST_SEGMENT)
  }

  /** True when a bounded mailbox holds `capacity` messages. */
  get full(): boolean {
    return this.size >= this.capacity
  }

  /** Append (capacity is the caller's business). */
  push(msg: unknown, token: ReplyTo | undefined): void {
    let t = this.tail
    if (this.tailAt === t.msgs.length) t = this.extend(t)
    const i = this.tailAt++
    t.msgs[i] = msg
    t.tokens[i] = token
    this.size++
  }

  private extend(t: Segment): Segment {
    const n = t.msgs.length
    let s = this.spare
    if (s && n >= MAX_SEGMENT) this.spare = undefined
    else s = segment(n >= MAX_SEGMENT ? MAX_SEGMENT : n * 4)
    s.next = undefined
    t.next = s
    this.tail = s
    this.tailAt = 0
    return s
  }

  /** Take the oldest message; its reply token is left in `lastToken`. */
  shift(): unknown {
    let h = this.head
    if (this.headAt === h.msgs.length) {
      const next = h.next!
      h.next = undefined
      if (h.msgs.length >= MAX_SEGMENT) this.spare = h
      this.head = h = next
      this.headAt = 0
    }
    const i = this.headAt++
    const msg = h.msgs[i]
    this.lastToken = h.tokens[i]
    h.msgs[i] = undefined
    h.tokens[i] = undefined
    this.processed++
    // Emptied: start again at the head segment's first slot (head and tail are the same one now).
    if (--this.size === 0) this.headAt = this.tailAt = 0
    return msg
  }

  /** Put the message `shift()` just returned back in front (its host refused to hand it over). */
  unshift(msg: unknown, token: ReplyTo | undefined): void {
    if (this.headAt === 0) {
      if (this.size === 0) { this.push(msg, token); this.processed--; return }
      const s = segment(FIRST_SEGMENT)
      s.next = this.head
      this.head = s
      this.headAt = FIRST_SEGMENT
    }
    const i = --this.headAt
    this.head.msgs[i] = msg
    this.head.tokens[i] = token
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

  /** Current counters. */
  stats(): MailboxStats {
    return { queued: this.size, processed: this.processed, dropped: this.dropped }
  }
}
