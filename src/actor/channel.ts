/**
 * The wire between a place and a child thread/process it spawned. Frames are
 * batched: `post` appends `(kind, payload)` to an array that is sent as one
 * message at the end of the current microtask (or at BATCH_LIMIT entries, or
 * BATCH_BYTES of payload), so a burst of 1M sends costs ~1k postMessage/IPC
 * calls instead of 1M. A lone ask and its answer are a few numbers each:
 * every record key a message carries costs its structured clone on both sides,
 * and so does every nested array: an ask, its answer and a credit take two
 * slots of the batch after their kind (`post2`) instead of a pair array.
 */
import { approxBytes } from '../codec/index.js'

/** Batch entry kinds. */
export const K_TELL = 0
/** A tell whose message holds portables (revive on arrival). */
export const K_TELLP = 1
/** An ask to the hosted actor: `m, a`, two slots (answered to the spawner under ask id `a`, with K_REPLY/K_REPLYX). */
export const K_ASK = 2
/** A routed frame (see router.ts). */
export const K_FRAME = 3
/** Host control: ready/failed/stopped (child to parent), restart/stop/close (parent to child). */
export const K_CTL = 4
/** An ask whose message holds portables: `m, a`, two slots (revive on arrival). */
export const K_ASKP = 5
/** The answer to the spawner's ask `a`, a plain value: `a, v`, two slots (child to parent). */
export const K_REPLY = 6
/** Any other answer to the spawner's ask `a`: `[a, ok, v, p]` (an error as a WireError, or a value holding portables). */
export const K_REPLYX = 7
/** Messages that left the host's mailbox since the last credit: `n, dropped`, two slots (child to parent). */
export const K_CREDIT = 8

/** Entries (kind + payload, so twice the messages) per batch before it is sent at once. */
const BATCH_LIMIT = 2048
/**
 * Payload bytes (approxBytes) per batch before it is sent at once: a message of a thousand 64 KiB
 * strings is deserialized as one burst that outlives the receiver's young generation (copied,
 * promoted, marked), ten times the cost of sending them in messages of a few hundred KiB.
 */
const BATCH_BYTES = 256 << 10

/** A batching sender. */
export class Outbox {
  private buf: unknown[] = []
  private bytes = 0
  private scheduled = false
  /** While paused (a host starting or restarting), entries accumulate in order. */
  paused: boolean
  private readonly flushTask = () => this.flush()

  constructor(private readonly sendBatch: (batch: unknown[]) => void, paused = false) {
    this.paused = paused
  }

  /** Queue one entry. */
  post(kind: number, payload: unknown): void {
    const buf = this.buf
    buf.push(kind, payload)
    this.bytes += approxBytes(payload)
    this.queued()
  }

  /** Queue one entry of two slots (an ask, an answer, a credit: see the kinds). */
  post2(kind: number, x: unknown, y: unknown): void {
    const buf = this.buf
    buf.push(kind, x, y)
    this.bytes += approxBytes(x) + approxBytes(y)
    this.queued()
  }

  // Send at once past the limits, else at the end of this microtask.
  private queued(): void {
    if (this.paused) return
    if (this.buf.length >= BATCH_LIMIT || this.bytes >= BATCH_BYTES) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(this.flushTask)
    }
  }

  /** Whether entries are waiting to be sent (a batch is about to leave). */
  get pending(): boolean {
    return this.buf.length > 0
  }

  /** Send what is queued now. */
  flush(): void {
    this.scheduled = false
    if (this.paused || this.buf.length === 0) return
    const batch = this.buf
    this.buf = []
    this.bytes = 0
    this.sendBatch(batch)
  }

  /** Start sending (again), beginning with what accumulated while paused. */
  resume(): void {
    this.paused = false
    this.flush()
  }

  /** Take every entry not yet sent (when the other side died). */
  drainUnsent(): unknown[] {
    const b = this.buf
    this.buf = []
    this.bytes = 0
    return b
  }
}
