/**
 * The lease engine every Redis consumer shares (queues, workers, pools'
 * results, inboxes, actor mailboxes): read from a consumer group, keep what it
 * holds leased by a heartbeat, take over what dead consumers held, promote
 * delayed tasks, and settle deliveries (ack, retry, dead-letter).
 *
 * Two lease granularities. A work queue leases each entry: the heartbeat
 * refreshes the entries held, and any consumer takes over entries idle past
 * the lease. A fenced consumer (an actor mailbox) is the only reader of its
 * stream while it holds the stream's lease (`<node> <token>`, a new token per
 * lease): the heartbeat renews that lease, every read and ack checks it in
 * the same Lua call, the first read of a lease takes over what earlier
 * holders left unacknowledged, and a failed renewal or a lease past due stops
 * it at once (`leaseValid` turns false, `onLeaseLost` is called).
 */
import { LeaseLostError } from '../../errors.js'
import type { Connection, Command } from './connect.js'
import type { QueueKeys } from './keys.js'
import * as scripts from './scripts.js'

/**
 * A stream entry as troupe writes it: the first field is the task id and its
 * value the payload (one pair instead of two halves what a read must parse);
 * optional fields follow: `a` earlier attempts, `f` function, `r` results
 * queue, `k` chunk, `e` error, `reason`.
 */
export interface Entry {
  /** Stream entry id (changes when a task is re-added for a retry). */
  id: string
  /** troupe's task id (stable across retries and redeliveries; results are keyed by it). */
  taskId: string
  payload: Buffer
  /** Attempts made before this entry was added. */
  prior: number
  /** `url#export` of the function to run, for pool tasks. */
  fn?: string
  /** Name of the results queue, for pool tasks. */
  results?: string
  /** The payload is a WireError (an error result). */
  error: boolean
  /** The payload is a chunk: a list of argument lists, answered by a list of results. */
  chunk?: boolean
  /** Dead letters: why. */
  reason?: string
  /** Every field as stored, to re-add the entry unchanged. */
  fields: Buffer[]
}

/** An entry delivered to this consumer, leased until settled. */
export interface Delivery extends Entry {
  /** 1 for the first run; counts runs after crashes and retries. */
  attempt: number
}

/** The lease a fenced consumer reads under. */
export interface Fence {
  /** The lease key (`troupe:{actor:A}:lease`). */
  key: string
  /** This lease's holder value, `<node> <token>`, as the lease key holds it. */
  holder: string
  /** When the lease was taken (ms, before the command was sent): it is valid until this + leaseMs unless renewed. */
  takenAt: number
}

/** Tunables of a consumer. */
export interface ConsumerOptions {
  group: string
  consumer: string
  /** Read as the one fenced reader of the stream, while this lease holds (actor mailboxes). */
  fence?: Fence
  /** Called once when a fenced consumer's lease is lost (renewal refused or failed, or past due). */
  onLeaseLost?: (err: LeaseLostError) => void
  /** False for streams nothing counts (inboxes): acknowledged entries are deleted, no counter kept. Default true. */
  counted?: boolean
  /** Dead letters kept (approximately; the oldest go first). Default 10,000. */
  deadMaxLen?: number
  /** Visibility timeout: an entry held this long without a heartbeat may be taken over. */
  leaseMs: number
  /** Redeliveries allowed after the first run before an entry is dead-lettered. */
  maxRetries: number
  /** How often to look for due delayed tasks. */
  delayPollMs: number
  /** Called with entries the reclaimer dead-lettered (to record a failure result, say). */
  onDead?: (entries: Entry[]) => void
}

/** Build the fields of a new entry. */
export function entryFields(taskId: string, payload: Buffer, extra: { prior?: number; fn?: string; results?: string; error?: boolean; chunk?: boolean } = {}): (string | Buffer)[] {
  const f: (string | Buffer)[] = [taskId, payload]
  if (extra.prior) f.push('a', String(extra.prior))
  if (extra.fn) f.push('f', extra.fn)
  if (extra.results) f.push('r', extra.results)
  if (extra.error) f.push('e', '1')
  if (extra.chunk) f.push('k', 'c')
  return f
}

/** Parse the flat field list of a stream entry. */
export function parseEntry(id: Buffer | string, fields: Buffer[]): Entry {
  const e: Entry = { id: id.toString(), taskId: fields[0]?.toString() ?? '', payload: fields[1] ?? EMPTY, prior: 0, error: false, fields }
  for (let k = 2; k + 1 < fields.length; k += 2) {
    const name = fields[k]!
    const v = fields[k + 1]!
    // Field names are one letter except `reason`; compare bytes, not strings, on the hot path.
    if (name.length === 1) {
      switch (name[0]) {
        case 0x61: e.prior = Number(v.toString()); break // a
        case 0x66: e.fn = v.toString(); break // f
        case 0x72: e.results = v.toString(); break // r
        case 0x65: e.error = v.length === 1 && v[0] === 0x31; break // e
        case 0x6b: e.chunk = true; break // k
      }
    } else if (name.toString() === 'reason') e.reason = v.toString()
  }
  return e
}

const EMPTY = Buffer.alloc(0)

/** Replace field `a` (earlier attempts), keeping the others. */
function withPrior(fields: Buffer[], prior: number): (string | Buffer)[] {
  const out: (string | Buffer)[] = [fields[0]!, fields[1]!]
  let seen = false
  for (let k = 2; k + 1 < fields.length; k += 2) {
    if (fields[k]!.length === 1 && fields[k]![0] === 0x61) { out.push('a', String(prior)); seen = true } else out.push(fields[k]!, fields[k + 1]!)
  }
  if (!seen) out.push('a', String(prior))
  return out
}

/** An answer recorded by a fenced `ack` in the same call (the reply script's arguments). */
export interface AckReply {
  /** The inbox stream. */
  stream: string
  /** The inbox's expiry when the reply creates it. */
  ttlMs: number
  /** The ask's correlation id. */
  id: string
  payload: Buffer
  /** The payload is a WireError. */
  error: boolean
}

/** Lua's `unpack` has a stack limit; commands with many ids go in chunks of this size. */
const CHUNK = 1000
/** Dead letters kept per queue by default (approximate trimming). */
export const DEAD_MAX_LEN = 10_000

/** One consumer of one queue's group. */
export class Consumer {
  /** Entry ids delivered here and not yet settled; the heartbeat keeps them leased. */
  readonly held = new Set<string>()
  private cursor = '0-0'
  private nextReclaim = 0
  private nextPromote = 0
  private heartbeat?: NodeJS.Timeout
  private group?: Promise<void>
  private closed = false
  // Fenced mode: where the next read starts (`takeover` first), and until when the lease holds.
  private from = 'takeover'
  private seen = ''
  private validUntil = 0
  private lost?: LeaseLostError

  constructor(readonly conn: Connection, readonly keys: QueueKeys, readonly opts: ConsumerOptions) {
    if (opts.fence) this.validUntil = opts.fence.takenAt + opts.leaseMs
  }

  /** Fenced mode: whether this consumer may still handle what it read (its lease is held and not past due). */
  get leaseValid(): boolean {
    return this.lost === undefined && Date.now() < this.validUntil
  }

  private get deadMaxLen(): number {
    return this.opts.deadMaxLen ?? DEAD_MAX_LEN
  }

  /** Create the consumer group (from the stream's start, so tasks put earlier are delivered). */
  ensureGroup(): Promise<void> {
    this.group ??= (async () => {
      await this.conn.open()
      try {
        await this.conn.main.call('XGROUP', 'CREATE', this.keys.stream, this.opts.group, '0', 'MKSTREAM')
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) { this.group = undefined; throw err }
      }
    })()
    return this.group
  }

  /**
   * Deliver up to `count` entries: first any whose lease expired elsewhere,
   * then new ones, waiting up to `blockMs` (0: do not wait) for some to arrive.
   * `settle`: ids delivered earlier to acknowledge first; a work-queue
   * consumer sends them in front of its blocking read (one write, one round trip).
   */
  async read(count: number, blockMs: number, settle: string[] = []): Promise<Delivery[]> {
    if (this.opts.fence || settle.length > CHUNK) { await this.ack(settle); settle = [] }
    if (this.opts.fence) return this.readFenced(count, blockMs)
    await this.ensureGroup()
    this.startHeartbeat()
    const now = Date.now()
    if (now >= this.nextPromote) {
      const next = Number(await scripts.promote.run(this.conn.main, [this.keys.stream, this.keys.delayed, this.keys.delayedData], [CHUNK]))
      // Poll at least every delayPollMs: another producer may add a task due sooner.
      this.nextPromote = now + (next >= 0 ? Math.min(next, this.opts.delayPollMs) : this.opts.delayPollMs)
    }
    if (now >= this.nextReclaim) {
      this.nextReclaim = now + Math.max(50, this.opts.leaseMs / 2)
      if (settle.length) { await this.ack(settle); settle = [] }
      const claimed = await this.reclaim(count)
      if (claimed.length) return claimed
    }
    // Block no longer than until the next promotion or reclaim is due.
    const dueIn = Math.min(this.nextPromote, this.nextReclaim) - Date.now()
    const wait = Math.max(0, Math.min(blockMs, dueIn))
    const args = ['GROUP', this.opts.group, this.opts.consumer, 'COUNT', count]
    let reply: unknown
    try {
      if (blockMs <= 0 || wait < 1) {
        if (settle.length) await this.ack(settle)
        reply = await this.conn.main.callBuffer('XREADGROUP', ...args, 'STREAMS', this.keys.stream, '>')
      } else if (settle.length) {
        const acked = this.ackCommand(settle)
        reply = (await this.conn.blockingAfter(this.keys.stream, acked.command, ['XREADGROUP', ...args, 'BLOCK', Math.ceil(wait), 'STREAMS', this.keys.stream, '>'])
          .catch(async (err) => {
            // Redis lost its scripts (a restart, a failover): acknowledge through the plain path, which loads it, then read.
            if (!String((err as Error).message).includes('NOSCRIPT')) throw err
            await this.ack(settle)
            return [null, await this.conn.blockingCall(this.keys.stream, ['XREADGROUP', ...args, 'BLOCK', Math.ceil(wait), 'STREAMS', this.keys.stream, '>'])]
          }))[1]
        acked.done()
      } else reply = await this.conn.blockingCall(this.keys.stream, ['XREADGROUP', ...args, 'BLOCK', Math.ceil(wait), 'STREAMS', this.keys.stream, '>'])
    } catch (err) {
      // The stream or group vanished (a Redis without persistence restarted, someone deleted it, or, on a Cluster,
      // its slot was migrated away while the read blocked): make sure it exists (where it is now) and go on.
      if (/NOGROUP|UNBLOCKED the stream key no longer exists/.test(String((err as Error).message))) { this.group = undefined; await this.ensureGroup(); return [] }
      throw err
    }
    if (!reply) return []
    const out: Delivery[] = []
    for (const [id, fields] of (reply as [Buffer, [Buffer, Buffer[] | null][]][])[0]![1]) {
      if (!fields) continue
      const e = parseEntry(id, fields) as Delivery
      e.attempt = e.prior + 1
      this.held.add(e.id)
      out.push(e)
    }
    return out
  }

  // Fenced: the lease is checked in the same Lua call as the read; waiting for new entries does not take them.
  private async readFenced(count: number, blockMs: number): Promise<Delivery[]> {
    const fence = this.opts.fence!
    this.startHeartbeat()
    const keys = [this.keys.stream, fence.key]
    const args = (from: string) => [fence.holder, this.opts.group, this.opts.consumer, count, from]
    for (;;) {
      this.checkLease()
      const from = this.from
      // Wait no longer than the lease is sure.
      const wait = Math.min(blockMs, this.validUntil - Date.now())
      let r: [[Buffer, Buffer[] | null][], Buffer] | null
      if (from === '>' && this.seen && wait >= 1) {
        // Wait (without taking anything) for an entry after the last one seen, the fenced read pipelined behind the
        // wait: Redis runs it the moment an entry arrives, so a wake-up costs one write and one round trip, not two.
        blockMs = 0
        try {
          r = (await this.conn.blockingThen(this.keys.stream, ['XREAD', 'COUNT', 1, 'BLOCK', Math.ceil(wait), 'STREAMS', this.keys.stream, this.seen],
            ['EVALSHA', scripts.mailboxRead.sha, keys.length, ...keys, ...args('>')]))[1] as typeof r
        } catch (err) {
          // Redis lost its scripts (a restart, a failover): the plain read loads it again.
          if (!String((err as Error).message).includes('NOSCRIPT')) throw err
          r = await scripts.mailboxRead.run(this.conn.main, keys, args(from), true) as typeof r
        }
      } else r = await scripts.mailboxRead.run(this.conn.main, keys, args(from), true) as typeof r
      if (!r) throw this.loseLease('another node took the lease')
      const out: Delivery[] = []
      const gone: string[] = []
      for (const [id, fields] of r[0]) {
        // An entry deleted while pending shows up without fields: nothing to run, just settle it.
        if (!fields) { gone.push(id.toString()); continue }
        const e = parseEntry(id, fields) as Delivery
        e.attempt = e.prior + 1
        this.held.add(e.id)
        out.push(e)
      }
      if (gone.length) await this.ack(gone)
      const last = r[0].at(-1)
      if (from !== '>') {
        // Reading what this lease took over: go on after the last one, then on to new entries.
        this.from = last ? last[0].toString() : '>'
        if (out.length) return out
        continue
      }
      // The newest entry this lease has seen: the last one read, or the stream's last id when there was none.
      this.seen = last ? last[0].toString() : r[1].toString()
      if (out.length || blockMs <= 0 || this.closed) return out
    }
  }

  private checkLease(): void {
    if (this.lost) throw this.lost
    if (Date.now() >= this.validUntil) throw this.loseLease(`the lease was not renewed within ${this.opts.leaseMs} ms`)
  }

  /** Mark the lease lost (once) and tell the owner. */
  private loseLease(why: string, cause?: unknown): LeaseLostError {
    if (this.lost) return this.lost
    this.lost = new LeaseLostError(`lost the lease of ${this.keys.name}: ${why}`, { cause })
    if (this.heartbeat) { clearInterval(this.heartbeat); this.heartbeat = undefined }
    this.opts.onLeaseLost?.(this.lost)
    return this.lost
  }

  private async reclaim(count: number): Promise<Delivery[]> {
    const o = this.opts
    const r = await scripts.reclaim.run(this.conn.main, [this.keys.stream, this.keys.dead, this.keys.count, this.keys.acked],
      [o.group, o.consumer, Math.max(1, Math.floor(o.leaseMs)), this.cursor, count, o.maxRetries, this.deadMaxLen], true) as [Buffer, [Buffer, Buffer[], number][], Buffer[][]]
    this.cursor = r[0].toString()
    const out: Delivery[] = []
    for (const [id, fields, deliveries] of r[1]) {
      const e = parseEntry(id, fields) as Delivery
      e.attempt = e.prior + Number(deliveries)
      this.held.add(e.id)
      out.push(e)
    }
    if (r[2].length && o.onDead) o.onDead(r[2].map((f) => parseEntry('', f)))
    // Consumers of dead processes, once they hold nothing, are removed from the group (best effort).
    await scripts.prune.run(this.conn.main, [this.keys.stream], [o.group, Math.max(60_000, o.leaseMs * 10), '']).catch(() => {})
    // A full batch means more may be waiting: look again on the next read instead of after half a lease.
    if (this.cursor !== '0-0') this.nextReclaim = 0
    return out
  }

  /**
   * Acknowledge and delete finished entries (fenced: only while the lease
   * holds, else LeaseLostError). A fenced consumer on one Redis (not a
   * Cluster) records `replies` in the same call, only if the lease held.
   */
  async ack(ids: string[], replies: AckReply[] = []): Promise<void> {
    if (ids.length === 0) return
    const fence = this.opts.fence
    if (replies.length && (!fence || this.conn.cluster)) throw new Error('replies ride with the acknowledgement only on a fenced consumer of one Redis')
    for (let k = 0; k < ids.length; k += CHUNK) {
      const part = ids.slice(k, k + CHUNK)
      if (fence) {
        if (this.lost) throw this.lost
        const keys = [this.keys.stream, fence.key]
        const args: (string | Buffer | number)[] = [fence.holder, this.opts.group, part.length, ...part]
        // With the last chunk: the replies go out once every entry is acknowledged.
        if (k + CHUNK >= ids.length) {
          for (const r of replies) {
            let at = keys.indexOf(r.stream, 2)
            if (at < 0) at = keys.push(r.stream) - 1
            args.push(at + 1, Math.ceil(r.ttlMs), r.id, r.payload, r.error ? '1' : '0')
          }
        }
        const n = await scripts.mailboxAck.run(this.conn.main, keys, args)
        if (n === null) throw this.loseLease('another node took the lease')
      } else {
        const keys = this.opts.counted === false ? [this.keys.stream] : [this.keys.stream, this.keys.count, this.keys.acked]
        await scripts.ack.run(this.conn.main, keys, [this.opts.group, ...part])
      }
    }
    for (const id of ids) this.held.delete(id)
  }

  // A work-queue acknowledgement as one command (at most CHUNK ids), and what to do once Redis took it.
  private ackCommand(ids: string[]): { command: Command; done: () => void } {
    const keys = this.opts.counted === false ? [this.keys.stream] : [this.keys.stream, this.keys.count, this.keys.acked]
    return {
      command: ['EVALSHA', scripts.ack.sha, keys.length, ...keys, this.opts.group, ...ids],
      done: () => { for (const id of ids) this.held.delete(id) },
    }
  }

  /** Run the entry again later (after `delayMs`), as a new entry counting this attempt. */
  async retry(d: Delivery, delayMs = 0): Promise<boolean> {
    const k = this.keys
    const n = await scripts.settle.run(this.conn.main, [k.stream, k.dead, k.delayed, k.delayedData, k.count, k.acked],
      [this.opts.group, d.id, 'retry', Math.max(0, Math.floor(delayMs)), d.taskId, this.deadMaxLen, ...withPrior(d.fields, d.attempt)])
    this.held.delete(d.id)
    return n === 1
  }

  /** Move the entry to the dead-letter stream with a reason (and the error as a WireError payload); its `a` says the runs made. */
  async deadLetter(d: Delivery, reason: string, error?: Buffer): Promise<boolean> {
    const k = this.keys
    const fields: (string | Buffer)[] = [...withPrior(d.fields, d.attempt), 'reason', reason]
    if (error) fields.push('error', error)
    const n = await scripts.settle.run(this.conn.main, [k.stream, k.dead, k.delayed, k.delayedData, k.count, k.acked],
      [this.opts.group, d.id, 'dead', 0, d.taskId, this.deadMaxLen, ...fields])
    this.held.delete(d.id)
    return n === 1
  }

  /** Give entries back without running them: mark them idle for a full lease so any consumer takes them over now. */
  async release(ids: string[]): Promise<void> {
    for (const id of ids) this.held.delete(id)
    if (ids.length === 0 || this.conn.main.status !== 'ready') return
    for (let k = 0; k < ids.length; k += CHUNK) {
      await this.conn.main.call('XCLAIM', this.keys.stream, this.opts.group, this.opts.consumer, 0, ...ids.slice(k, k + CHUNK),
        'IDLE', Math.ceil(this.opts.leaseMs) + 1, 'JUSTID').catch(() => {})
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat || this.closed || this.lost) return
    // Three beats per lease: one late beat (a GC pause, a busy loop) does not lose the lease.
    this.heartbeat = setInterval(() => void this.beat(), Math.max(10, this.opts.leaseMs / 3))
    this.heartbeat.unref()
  }

  /**
   * Keep the lease: a fenced consumer renews its stream's lease (a refused or
   * failed renewal loses it); a work-queue consumer resets the idle time of
   * everything it holds (XCLAIM ... JUSTID neither moves entries nor counts a delivery).
   */
  async beat(): Promise<void> {
    const fence = this.opts.fence
    if (fence) {
      if (this.lost || this.closed) return
      if (Date.now() >= this.validUntil) { this.loseLease(`the lease was not renewed within ${this.opts.leaseMs} ms (the event loop was blocked?)`); return }
      const sent = Date.now()
      try {
        const ok = await scripts.leaseRenew.run(this.conn.main, [fence.key], [fence.holder, Math.ceil(this.opts.leaseMs)])
        if (ok === 1) this.validUntil = Math.max(this.validUntil, sent + this.opts.leaseMs)
        else this.loseLease('another node took the lease')
      } catch (err) {
        this.loseLease(`renewing it failed: ${(err as Error).message}`, err)
      }
      return
    }
    if (this.held.size === 0 || this.conn.main.status !== 'ready') return
    const ids = [...this.held]
    for (let k = 0; k < ids.length; k += CHUNK) {
      await this.conn.main.call('XCLAIM', this.keys.stream, this.opts.group, this.opts.consumer, 0, ...ids.slice(k, k + CHUNK), 'JUSTID').catch(() => {})
    }
  }

  /** Stop the heartbeat; what is still held is released to other consumers (fenced: the lease is let go, held entries go to the next holder). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.heartbeat) clearInterval(this.heartbeat)
    const fence = this.opts.fence
    if (fence) {
      this.held.clear()
      if (!this.lost && this.conn.main.status === 'ready') await scripts.leaseRelease.run(this.conn.main, [fence.key], [fence.holder]).catch(() => {})
      return
    }
    await this.release([...this.held])
    // Leave the group tidy: this consumer's name goes when it holds nothing (released items stay until taken over).
    if (this.group && this.conn.main.status === 'ready') {
      await scripts.prune.run(this.conn.main, [this.keys.stream], [this.opts.group, 0, this.opts.consumer]).catch(() => {})
    }
  }
}
