/**
 * The Redis side of actors: defining an actor, taking its fenced lease (the
 * mailbox is then read by a fenced Consumer), ending it, posting messages and
 * replies in batches, each node's inbox for the replies to its asks, and the
 * stream of exits that watchers and joiners follow. The actor loop itself is
 * not here: a hosted actor is the core's LocalCell, fed by actor/redis.ts.
 */
import { LeaseLostError } from '../../errors.js'
import { Connection, transient, type Command } from './connect.js'
import { Consumer, parseEntry, entryFields, type Delivery, type Entry } from './consumer.js'
import { inboxKeys, queueKeys, type ActorKeys, type SystemKeys, type QueueKeys } from './keys.js'
import * as scripts from './scripts.js'
import { sleep } from '../../timers.js'

/** The mailboxes' consumer group. */
const GROUP = 'actor'
/** Exits kept in the exits stream (approximate trimming). */
const EXITS_MAX_LEN = 10_000

/** Register an actor: its mailbox group (from the start: messages sent before spawn wait), definition and name. False when the name was taken. */
export async function defineActor(conn: Connection, keys: ActorKeys, sys: SystemKeys, name: string, definition: Buffer): Promise<boolean> {
  await conn.open()
  try {
    await conn.main.call('XGROUP', 'CREATE', keys.mailbox.stream, GROUP, '0', 'MKSTREAM')
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err
  }
  const fresh = await conn.main.call('SET', keys.def, definition, 'NX') === 'OK'
  // Messages sent before the spawn were kept for it with an expiry: the mailbox of an actor that exists stays.
  await conn.main.call('PERSIST', keys.mailbox.stream)
  // A name used again: the end of its earlier life is no news to anyone watching this one.
  if (fresh) await conn.main.call('DEL', keys.exit)
  await changeSet(conn, sys.registry, sys.registryVersion, 'SADD', [name])
  return fresh
}

/** Add members to or remove them from a SharedSet's set (its version moves when the set does). */
export async function changeSet(conn: Connection, key: string, versionKey: string, op: 'SADD' | 'SREM', members: string[]): Promise<number> {
  if (members.length === 0) return 0
  return Number(await scripts.setChange.run(conn.main, [key, versionKey], [op, ...members]))
}

/**
 * A set every node reads often and few change (the actor registry, read by
 * each hosting node every placement round; the subscriptions, read by every
 * publish): kept here, and re-read only when its version key says it changed.
 * A check is one GET-sized call in the set's slot, whatever the set's size;
 * concurrent readers share one check. Exact: a change made (and acknowledged)
 * before a check starts is always seen by it.
 */
export class SharedSet {
  // Never a version Redis holds (a set without a version key reads as ''): the first check reads the set.
  private version = '-'
  private cached: string[] = []
  private inflight?: Promise<string[]>
  private next?: Promise<string[]>

  constructor(private readonly conn: Connection, readonly key: string, readonly versionKey: string) {}

  /** The members now (from the cache when the version has not moved). */
  members(): Promise<string[]> {
    if (!this.inflight) return this.check()
    // The check under way may have started before a change the caller already saw acknowledged: wait for a fresh one, shared.
    this.next ??= this.inflight.catch(() => {}).then(() => { this.next = undefined; return this.check() })
    return this.next
  }

  private check(): Promise<string[]> {
    const p: Promise<string[]> = (async () => {
      const r = await scripts.setRead.run(this.conn.main, [this.key, this.versionKey], [this.version]) as [string, string[]?]
      if (r[1]) { this.cached = r[1]; this.version = String(r[0]) }
      return this.cached
    })().finally(() => { if (this.inflight === p) this.inflight = undefined })
    this.inflight = p
    return p
  }

  /** Add members. */
  add(...members: string[]): Promise<number> {
    return changeSet(this.conn, this.key, this.versionKey, 'SADD', members)
  }

  /** Remove members. */
  remove(...members: string[]): Promise<number> {
    return changeSet(this.conn, this.key, this.versionKey, 'SREM', members)
  }
}

/** Whether the actor still exists; when it does not, why it ended (undefined when that is not known, or no longer). */
export async function actorState(conn: Connection, keys: ActorKeys): Promise<{ exists: boolean; exit?: Buffer }> {
  const [exists, exit] = await conn.exec([['EXISTS', keys.def], ['GET', keys.exit]]) as [number, string | null]
  if (exists === 1) return { exists: true }
  // Read as bytes: the reason is encoded.
  return { exists: false, exit: exit === null ? undefined : (await conn.main.getBuffer(keys.exit)) ?? undefined }
}

/** A lease this node took: read the mailbox with `mailbox` (a fenced consumer) while it holds. */
export interface HeldActor {
  /** The fenced consumer of the mailbox; its `leaseValid` says whether handling may go on. */
  mailbox: Consumer
  /** The actor's definition as stored by `defineActor`. */
  definition: Buffer
  /** `<node> <token>`, the lease's holder value. */
  holder: string
  /** Close the consumer (releasing the lease unless it was lost) and its blocking connection. */
  release(): Promise<void>
}

/**
 * Take actor `keys`' lease for `node`: exactly one node wins, with a fencing
 * token of its own. 'held' when another node has it, 'gone' when the actor
 * has ended. The mailbox consumer gets a name unique to this node and lease.
 */
export async function takeActor(conn: Connection, keys: ActorKeys, node: string, leaseMs: number,
  onLeaseLost: (err: LeaseLostError) => void): Promise<HeldActor | 'held' | 'gone'> {
  const takenAt = Date.now()
  const [token, definition] = await scripts.leaseTake.run(conn.main, [keys.lease, keys.fence, keys.def], [node, Math.ceil(leaseMs)], true) as [number, Buffer]
  if (token === -1) return 'gone'
  if (token === 0) return 'held'
  const holder = `${node} ${token}`
  // Its own connection for blocking reads (the commands share the system's).
  const own = new Connection(conn.main)
  const mailbox = new Consumer(own, keys.mailbox, {
    group: GROUP, consumer: `${node}#${token}`, leaseMs, maxRetries: 0, delayPollMs: leaseMs,
    fence: { key: keys.lease, holder, takenAt }, onLeaseLost,
  })
  return {
    mailbox, definition, holder,
    release: async () => { await mailbox.close(); await own.close() },
  }
}

/** How long why an actor ended is kept in its `exit` key. */
const EXIT_TTL_MS = 24 * 3600_000

/**
 * The actor ended for good (its lease held): delete its mailbox, lease and
 * definition, keep why (`reason`, encoded) for late watchers, unregister it
 * and tell the watchers now. The entries left are returned (their askers get told).
 */
export async function endActor(conn: Connection, keys: ActorKeys, sys: SystemKeys, name: string, holder: string, reason: Buffer): Promise<Entry[]> {
  const left = await scripts.mailboxEnd.run(conn.main, [keys.mailbox.stream, keys.lease, keys.def, keys.fence, keys.exit], [holder, reason, EXIT_TTL_MS], true) as [Buffer, Buffer[]][] | null
  if (left === null) throw new LeaseLostError(`lost the lease of actor '${name}' before it could end`)
  await dropNames(conn, sys, name)
  // Capped, and gone a day after the last exit: a prefix that is no longer used leaves nothing.
  await conn.exec([['XADD', sys.exits, 'MAXLEN', '~', EXITS_MAX_LEN, '*', name, reason], ['PEXPIRE', sys.exits, EXIT_TTL_MS]])
  return left.map(([id, fields]) => parseEntry(id, fields))
}

/** Forget `name` in the registry and the subscriptions. */
async function dropNames(conn: Connection, sys: SystemKeys, name: string): Promise<void> {
  const members = await conn.main.call('SMEMBERS', sys.subjects) as string[]
  const mine = members.filter((m) => m.endsWith(`\n${name}`))
  await Promise.all([changeSet(conn, sys.registry, sys.registryVersion, 'SREM', [name]), changeSet(conn, sys.subjects, sys.subjectsVersion, 'SREM', mine)])
}

/**
 * Follows the exits stream while someone listens: one blocking read on a
 * connection of its own, from the id seen when it started, so an exit posted
 * after `start()` is never missed.
 */
export class ExitFeed {
  private readonly own: Connection
  private last?: string
  private running = false
  private closed = false

  constructor(conn: Connection, private readonly sys: SystemKeys, private readonly wanted: () => boolean,
    private readonly onExit: (name: string, reason: Buffer) => void) {
    this.own = new Connection(conn.main)
  }

  /** Resolves once the feed's position is fixed (exits after this are delivered); keeps reading while `wanted()`. */
  async start(): Promise<void> {
    if (this.closed) return
    if (this.last === undefined) {
      const top = await this.own.main.call('XREVRANGE', this.sys.exits, '+', '-', 'COUNT', 1) as [string, string[]][]
      this.last ??= top[0]?.[0] ?? '0-0'
    }
    if (this.running) return
    this.running = true
    void this.loop()
  }

  private async loop(): Promise<void> {
    try {
      while (this.wanted() && !this.closed) {
        const r = await this.own.blockingCall(this.sys.exits, ['XREAD', 'COUNT', 1000, 'BLOCK', 1000, 'STREAMS', this.sys.exits, this.last!]) as [Buffer, [Buffer, Buffer[]][]][] | null
        if (!r) continue
        for (const [id, f] of r[0]![1]) {
          this.last = id.toString()
          this.onExit(f[0]!.toString(), f[1]!)
        }
      }
    } catch (err) {
      if (this.closed) return
      // Redis away for a moment, or something worse: either way try again shortly (watchers wait, they never miss an exit).
      if (!transient(err)) process.emitWarning(`troupe: following Redis actor exits failed: ${(err as Error).message}`, { code: 'TROUPE_REDIS_ACTORS' })
      await sleep(transient(err) ? 200 : 1000)
    } finally {
      this.running = false
    }
    if (this.wanted() && !this.closed) void this.loop()
  }

  /** Stop following. */
  async close(): Promise<void> {
    this.closed = true
    await this.own.close()
  }
}


/** How long messages sent to a name no actor has are kept for a later spawn (after the last one). */
export const UNSPAWNED_KEEP_MS = 24 * 3600_000

/** What a message to an actor name is: a plain message (kept for a later spawn), an ask or a control word (refused when there is no actor). */
export type PostKind = 'tell' | 'ask' | 'control'

/** What `postCommand`'s reply says: put in the mailbox (`kept`: for a later spawn), or refused because the actor ended or never was. */
export type PostOutcome = 'delivered' | 'kept' | 'ended' | 'unknown'

/** The command that puts a message in an actor's mailbox, checking in the same Lua call that the actor exists. */
export function postCommand(keys: ActorKeys, kind: PostKind, fields: (string | Buffer)[]): Command {
  return ['EVALSHA', scripts.mailboxPost.sha, 3, keys.mailbox.stream, keys.def, keys.exit, kind, UNSPAWNED_KEEP_MS, ...fields]
}

/** Read the reply of a `postCommand`. */
export function postOutcome(reply: unknown): PostOutcome {
  const n = Number(reply)
  return n === 1 ? 'delivered' : n === 2 ? 'kept' : n === -1 ? 'ended' : 'unknown'
}

/** Unsent commands past which `post` returns a promise (backpressure). */
const HIGH_WATER = 10_000
/** Commands per pipeline. */
const BATCH = 1000

/**
 * Messages and replies on their way to Redis: posted commands go out in
 * pipelines (those posted while one is being written wait for the next), in
 * the order posted. `post` returns
 * a promise only while too many are waiting (backpressure); `flush()` says
 * when everything posted so far is in Redis, or why not.
 */
export class Poster {
  private queue: Command[] = []
  // The callback of each queued command that wants its reply (same index as `queue`).
  private callbacks: (((err: Error | null, reply: unknown) => void) | undefined)[] = []
  private flushing?: Promise<void>
  private scheduled = false
  private roomWaiters: (() => void)[] = []
  private failure?: Error

  constructor(private readonly conn: Connection, private readonly onError: (err: Error) => void) {}

  /**
   * Queue one command; a promise only when the queue is over its high-water
   * mark (it resolves once there is room). Commands go out together with the
   * others posted in the same synchronous stretch; `now` sends at once (the
   * caller batched already). `onReply` gets the command's own reply or error.
   */
  post(command: Command, now = false, onReply?: (err: Error | null, reply: unknown) => void): void | Promise<void> {
    this.queue.push(command)
    this.callbacks.push(onReply)
    if (now) void this.drain()
    // A microtask, not a turn: what this synchronous stretch posts goes together, and while a write is out, later posts gather for the next.
    else if (!this.scheduled && !this.flushing) { this.scheduled = true; queueMicrotask(() => { this.scheduled = false; void this.drain() }) }
    if (this.queue.length > HIGH_WATER) return new Promise((resolve) => this.roomWaiters.push(resolve))
  }

  /** Resolves once everything posted so far is in Redis; rejects with the error of a batch that could not be written. */
  async flush(): Promise<void> {
    while (this.queue.length || this.flushing) await this.drain()
    const f = this.failure
    this.failure = undefined
    if (f) throw f
  }

  private drain(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        while (this.queue.length) {
          const batch = this.queue.splice(0, BATCH)
          await this.write(batch, this.callbacks.splice(0, BATCH))
          if (this.queue.length <= HIGH_WATER && this.roomWaiters.length) for (const w of this.roomWaiters.splice(0)) w()
        }
      } finally {
        this.flushing = undefined
      }
    })()
    return this.flushing
  }

  private async write(batch: Command[], callbacks: (((err: Error | null, reply: unknown) => void) | undefined)[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // On a Cluster one pipeline per node (a publish reaches mailboxes in many slots); each mailbox's messages stay in order.
        const replies = await this.conn.pipeline(batch)
        const failed = replies.map(([err], i) => err ? i : -1).filter((i) => i >= 0)
        const reload = failed.length > 0 && replies.some(([err]) => err && /NOSCRIPT/.test(err.message))
        for (let i = 0; i < replies.length; i++) {
          const [err, reply] = replies[i]!
          if (err && reload) continue
          if (err) this.report(err)
          callbacks[i]?.(err, reply)
        }
        if (!reload) return
        // Redis restarted (or a replica was promoted) without its scripts: load them on every master and send what failed again.
        await scripts.load(this.conn.main, scripts.allScripts)
        batch = failed.map((i) => batch[i]!)
        callbacks = failed.map((i) => callbacks[i])
      } catch (err) {
        if (!transient(err) || attempt >= 150) {
          this.report(err as Error)
          for (const cb of callbacks) cb?.(err as Error, undefined)
          return
        }
        // Redis is restarting: the commands wait (they are idempotent enough: a message may arrive twice, never not at all).
        await sleep(200)
      }
    }
  }

  private report(err: Error): void {
    this.failure ??= err
    this.onError(err)
  }
}

/** The fields of a message for an actor's mailbox; asks carry the asker's inbox and correlation id. */
export function messageFields(id: string, payload: Buffer, replyTo?: string, control?: string): (string | Buffer)[] {
  const f = entryFields(id, payload, replyTo ? { results: replyTo } : {})
  if (control) f.push('c', control)
  return f
}

/** The control word of a mailbox entry (`close`, `stop`), if it is one. */
export function controlOf(e: Entry): string | undefined {
  for (let k = 2; k + 1 < e.fields.length; k += 2) if (e.fields[k]!.length === 1 && e.fields[k]![0] === 0x63) return e.fields[k + 1]!.toString()
  return undefined
}

/** The stream of inbox `inbox` (the queue name an ask carried). */
export function inboxStream(inbox: string, prefix: string): string {
  return queueKeys(inbox, prefix).stream
}

/** The command that records a reply in inbox `inbox` (the queue name an ask carried): EVALSHA of the reply script. */
export function replyCommand(inbox: string, prefix: string, ttlMs: number, id: string, payload: Buffer, isError: boolean): Command {
  return ['EVALSHA', scripts.reply.sha, 1, inboxStream(inbox, prefix), Math.ceil(ttlMs), id, payload, isError ? '1' : '0']
}

/**
 * A node's inbox: the stream its asks are answered in, read by one Consumer
 * while asks are waiting. Kept alive by this node (its expiry pushed back
 * every ttlMs / 3); a node that dies leaves an inbox that expires ttlMs later,
 * replies that arrive after that included.
 */
export class Inbox {
  /** The queue name askers put in their messages (`inbox:<node>`). */
  readonly name: string
  readonly keys: QueueKeys
  private readonly own: Connection
  private readonly consumer: Consumer
  private keepalive?: NodeJS.Timeout
  private ready?: Promise<void>
  private running = false
  private closed = false
  /** Replies handled and not yet acknowledged. */
  private unacked: string[] = []

  constructor(conn: Connection, node: string, prefix: string, private readonly ttlMs: number,
    private readonly wanted: () => boolean, private readonly onReply: (e: Delivery) => void, private readonly onError: (err: Error) => void) {
    this.keys = inboxKeys(node, prefix)
    this.name = this.keys.name
    this.own = new Connection(conn.main)
    // Replies are taken and acknowledged at once: nothing is held long, so the lease and reclaim never matter.
    this.consumer = new Consumer(this.own, this.keys, { group: 'inbox', consumer: node, leaseMs: 3_600_000, maxRetries: 0, delayPollMs: 3_600_000, counted: false })
  }

  /** Make sure the inbox exists and is being read. */
  start(): void {
    if (this.closed) return
    this.ready ??= (async () => {
      await this.consumer.ensureGroup()
      await this.refresh()
      this.keepalive = setInterval(() => void this.refresh().catch(() => {}), Math.max(50, this.ttlMs / 3))
      this.keepalive.unref()
    })()
    if (this.running) return
    this.running = true
    void this.loop()
  }

  private refresh(): Promise<unknown> {
    return this.own.main.call('PEXPIRE', this.keys.stream, Math.ceil(this.ttlMs))
  }

  private async loop(): Promise<void> {
    try {
      await this.ready
      while (this.wanted() && !this.closed) {
        // Replies handled are acknowledged in front of the next read (one write, one round trip).
        const settle = this.unacked
        this.unacked = []
        try {
          const got = await this.consumer.read(1000, 1000, settle)
          this.unacked = got.map((d) => d.id)
          for (const d of got) this.onReply(d)
        } catch (err) {
          this.unacked = settle.concat(this.unacked)
          throw err
        }
      }
    } catch (err) {
      if (this.closed) return
      if (transient(err)) await sleep(200)
      else { this.ready = undefined; this.onError(err as Error) }
    } finally {
      this.running = false
    }
    if (this.wanted() && !this.closed) this.start()
    // No ask waits now; the asker whose answer just came may ask again at once (its next read carries the acknowledgement):
    // only when it does not are the replies acknowledged alone.
    else if (this.unacked.length) setImmediate(() => {
      if (this.running || this.closed || this.unacked.length === 0) return
      const ids = this.unacked
      this.unacked = []
      void this.consumer.ack(ids).catch(() => {})
    })
  }

  /** Stop reading and delete the inbox. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.keepalive) clearInterval(this.keepalive)
    await this.own.unblock(this.keys.stream)
    await this.consumer.close()
    if (this.own.main.status === 'ready') await this.own.main.call('DEL', this.keys.stream).catch(() => {})
    await this.own.close()
  }
}
