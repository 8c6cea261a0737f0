/**
 * The lease engine every Redis consumer shares (queues, workers, actor
 * mailboxes): read from a consumer group, keep what it holds leased by a
 * heartbeat, take over what dead consumers held, promote delayed tasks, and
 * settle deliveries (ack, retry, dead-letter).
 */
import type { Connection } from './connect.js'
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

/** Tunables of a consumer. */
export interface ConsumerOptions {
  group: string
  consumer: string
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

/** Lua's `unpack` has a stack limit; commands with many ids go in chunks of this size. */
const CHUNK = 1000

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

  constructor(readonly conn: Connection, readonly keys: QueueKeys, readonly opts: ConsumerOptions) {}

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
   */
  async read(count: number, blockMs: number): Promise<Delivery[]> {
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
      const claimed = await this.reclaim(count)
      if (claimed.length) return claimed
    }
    // Block no longer than until the next promotion or reclaim is due.
    const dueIn = Math.min(this.nextPromote, this.nextReclaim) - Date.now()
    const wait = Math.max(0, Math.min(blockMs, dueIn))
    const args = ['GROUP', this.opts.group, this.opts.consumer, 'COUNT', count]
    let reply: unknown
    try {
      if (blockMs <= 0 || wait < 1) reply = await this.conn.main.callBuffer('XREADGROUP', ...args, 'STREAMS', this.keys.stream, '>')
      else reply = await (await this.conn.blocking()).callBuffer('XREADGROUP', ...args, 'BLOCK', Math.ceil(wait), 'STREAMS', this.keys.stream, '>')
    } catch (err) {
      // The stream or group vanished (a Redis without persistence restarted, or someone deleted it): recreate and go on.
      if (String((err as Error).message).includes('NOGROUP')) { this.group = undefined; await this.ensureGroup(); return [] }
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

  private async reclaim(count: number): Promise<Delivery[]> {
    const o = this.opts
    const r = await scripts.reclaim.run(this.conn.main, [this.keys.stream, this.keys.dead, this.keys.count, this.keys.acked],
      [o.group, o.consumer, Math.max(1, Math.floor(o.leaseMs)), this.cursor, count, o.maxRetries], true) as [Buffer, [Buffer, Buffer[], number][], Buffer[][]]
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

  /** Acknowledge and delete finished entries. */
  async ack(ids: string[]): Promise<void> {
    if (ids.length === 0) return
    for (let k = 0; k < ids.length; k += CHUNK) {
      const part = ids.slice(k, k + CHUNK)
      await scripts.ack.run(this.conn.main, [this.keys.stream, this.keys.count, this.keys.acked], [this.opts.group, ...part])
    }
    for (const id of ids) this.held.delete(id)
  }

  /** Run the entry again later (after `delayMs`), as a new entry counting this attempt. */
  async retry(d: Delivery, delayMs = 0): Promise<boolean> {
    const k = this.keys
    const n = await scripts.settle.run(this.conn.main, [k.stream, k.dead, k.delayed, k.delayedData, k.count, k.acked],
      [this.opts.group, d.id, 'retry', Math.max(0, Math.floor(delayMs)), d.taskId, ...withPrior(d.fields, d.attempt)])
    this.held.delete(d.id)
    return n === 1
  }

  /** Move the entry to the dead-letter stream with a reason (and the error as a WireError payload). */
  async deadLetter(d: Delivery, reason: string, error?: Buffer): Promise<boolean> {
    const k = this.keys
    const fields: (string | Buffer)[] = [...withPrior(d.fields, d.attempt), 'reason', reason]
    if (error) fields.push('error', error)
    const n = await scripts.settle.run(this.conn.main, [k.stream, k.dead, k.delayed, k.delayedData, k.count, k.acked],
      [this.opts.group, d.id, 'dead', 0, d.taskId, ...fields])
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
    if (this.heartbeat || this.closed) return
    // Three beats per lease: one late beat (a GC pause, a busy loop) does not lose the lease.
    this.heartbeat = setInterval(() => void this.beat(), Math.max(10, this.opts.leaseMs / 3))
    this.heartbeat.unref()
  }

  /** Reset the idle time of everything held (XCLAIM ... JUSTID neither moves entries nor counts a delivery). */
  async beat(): Promise<void> {
    if (this.held.size === 0 || this.conn.main.status !== 'ready') return
    const ids = [...this.held]
    for (let k = 0; k < ids.length; k += CHUNK) {
      await this.conn.main.call('XCLAIM', this.keys.stream, this.opts.group, this.opts.consumer, 0, ...ids.slice(k, k + CHUNK), 'JUSTID').catch(() => {})
    }
  }

  /** Stop the heartbeat; what is still held is released to other consumers. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.heartbeat) clearInterval(this.heartbeat)
    await this.release([...this.held])
    // Leave the group tidy: this consumer's name goes when it holds nothing (released items stay until taken over).
    if (this.group && this.conn.main.status === 'ready') {
      await scripts.prune.run(this.conn.main, [this.keys.stream], [this.opts.group, 0, this.opts.consumer]).catch(() => {})
    }
  }
}
