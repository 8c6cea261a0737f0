/**
 * Actors on Redis: an actor's mailbox is a Redis stream, so messages survive
 * the node that hosts it; a lease (SET NX PX, renewed) places each actor on
 * exactly one node, and when that node dies another takes the lease and goes
 * on with the same mailbox. Asks are answered through per-node inbox streams;
 * subjects use the same NATS-style wildcards as local actors.
 *
 * Keys: `<prefix>:{actors}:registry` (HASH name -> definition),
 * `<prefix>:{actor:<name>}:q` (mailbox stream, group `actor`, consumer `owner`),
 * `<prefix>:{actor:<name>}:lease` (owner node id), `<prefix>:{inbox:<node>}:q`
 * (replies to asks made on that node), `<prefix>:{subjects}:subs` (SET of
 * `pattern\nactor`).
 */
import { portable, registerPortable, toWireError, fromWireError, type WireError } from '../codec/index.js'
import { locate, load, placeLabel, type ModuleRef } from '../process/index.js'
import { AbortError, TimeoutError, ClosedError } from '../errors.js'
import {
  Connection, queueKeys, codecFor, type RedisTarget, type RedisAddress, type CodecName, type ValueCodec, type QueueKeys,
} from '../backends/index.js'
import { makeClient, connectClient } from '../backends/redis/connect.js'
import { entryFields, parseEntry, type Entry } from '../backends/redis/consumer.js'
import { Script, ack as ackScript } from '../backends/redis/scripts.js'
import { idMaker, consumerName, defaultRedis } from '../backends/redis/ids.js'
import { constructActor, type Actor, type ActorClass, type ActorContext, type ActorHooks, type MessageOf, type ReplyOf, type ReplyHandle, type StopReason } from './actor.js'
import { checkSubject, subjectMatches } from './subjects.js'
import type { ActorRef, JoinOptions } from './ref.js'
import type { AskOptions } from './pending.js'
import type { MailboxStats } from './mailbox.js'
import type { Redis } from 'ioredis'

/** Options of `new RedisActorSystem()`. */
export interface RedisActorSystemOptions {
  /** Redis URL, options or client (default: `TROUPE_REDIS`, `REDIS_URL`, or `redis://127.0.0.1:6379`). */
  redis?: RedisTarget
  /** Key prefix (default `troupe`). */
  prefix?: string
  /** This node's id (default `host:pid:thread:random`). */
  node?: string
  /** Host actors here (default true); false makes a client that only spawns, sends, asks and publishes. */
  host?: boolean
  /** An actor's lease in ms (default 5,000): how long after its node dies it moves to another. */
  leaseMs?: number
  /** How often a hosting node looks for actors that have no node, ms (default leaseMs / 5). */
  placementMs?: number
  /** Default ask timeout in ms (default 30,000). */
  askTimeout?: number
  /** `v8` (default) or `json`. */
  codec?: CodecName
}

/** Options of `system.spawn()`. */
export interface RedisSpawnOptions {
  /** The actor's name, unique in this Redis (and prefix). Spawning an existing name returns a ref to it. */
  name: string
  /** Constructor arguments (sendable values). */
  args?: unknown[]
}

interface Definition { ref: ModuleRef; args: unknown[] }

// Control messages travel in the mailbox like any other, so they keep their place in line.
const CONTROL_CLOSE = 'close'
const CONTROL_STOP = 'stop'

/** KEYS lease; ARGV node, ms -> 1 if this node still holds the lease (and renewed it). */
const renew = new Script('renew', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

/** KEYS lease; ARGV node -> 1 if this node held the lease and let it go. */
const releaseLease = new Script('release', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

interface Asking { resolve(v: unknown): void; reject(e: Error): void; timer?: NodeJS.Timeout; cleanup?: () => void }

/**
 * A set of actors living in Redis. Every process that creates one with
 * `host: true` (the default) is a node that may host actors; any process can
 * spawn, send, ask and publish.
 */
export class RedisActorSystem {
  /** This node's id. */
  readonly node: string
  /** @internal */ readonly conn: Connection
  /** @internal */ readonly codec: ValueCodec
  /** @internal */ readonly prefix: string
  /** @internal */ readonly leaseMs: number
  private readonly askTimeout: number
  private readonly registryKey: string
  private readonly subsKey: string
  private readonly inboxKeys: QueueKeys
  private readonly newId = idMaker()
  private readonly asks = new Map<string, Asking>()
  private readonly actors = new Map<string, HostedActor>()
  private readonly refs = new Map<string, RedisActorRef<any, any>>()
  private inboxReader?: Redis
  private inboxRunning = false
  private placement?: NodeJS.Timeout
  private closed = false

  constructor(options: RedisActorSystemOptions = {}) {
    this.node = options.node ?? consumerName()
    this.prefix = options.prefix ?? 'troupe'
    this.leaseMs = options.leaseMs ?? 5000
    this.askTimeout = options.askTimeout ?? 30_000
    this.codec = codecFor(options.codec)
    this.conn = new Connection(options.redis ?? defaultRedis())
    this.registryKey = `${this.prefix}:{actors}:registry`
    this.subsKey = `${this.prefix}:{subjects}:subs`
    this.inboxKeys = queueKeys(`inbox:${this.node}`, this.prefix)
    systems.set(addressKey(this.conn.address, this.prefix), this)
    if (options.host ?? true) {
      const every = options.placementMs ?? Math.max(50, this.leaseMs / 5)
      this.placement = setInterval(() => void this.place().catch(() => {}), every)
      void this.place().catch(() => {})
    }
  }

  /** @internal Mailbox keys of an actor. */
  mailbox(name: string): QueueKeys {
    return queueKeys(`actor:${name}`, this.prefix)
  }

  /** @internal Lease key of an actor. */
  leaseKey(name: string): string {
    return `${this.prefix}:{actor:${name}}:lease`
  }

  /**
   * Register an actor (class located by module and export, like pool tasks)
   * and return its ref. A hosting node takes it at once; messages sent before
   * then wait in its mailbox.
   */
  async spawn<A extends Actor<any>>(cls: ActorClass<A>, opts: RedisSpawnOptions): Promise<RedisActorRef<MessageOf<A>, ReplyOf<A>>> {
    this.checkOpen()
    const name = opts.name
    if (typeof name !== 'string' || name.length === 0 || /[{}\n]/.test(name)) throw new TypeError(`a Redis actor needs a name without '{', '}' or newlines, got ${JSON.stringify(name)}`)
    const ref = await locate(cls)
    const def: Definition = { ref, args: opts.args ?? [] }
    await this.conn.open()
    const k = this.mailbox(name)
    try {
      await this.conn.main.call('XGROUP', 'CREATE', k.stream, 'actor', '0', 'MKSTREAM')
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err
    }
    await this.conn.main.call('HSETNX', this.registryKey, name, this.codec.encode(def, 'spawn options'))
    if (this.placement) void this.place().catch(() => {})
    return this.ref(name)
  }

  /** A reference to the actor called `name` (it need not exist yet: messages wait in its mailbox). */
  ref<Msg = unknown, Reply = unknown>(name: string): RedisActorRef<Msg, Reply> {
    let r = this.refs.get(name)
    if (!r) this.refs.set(name, r = new RedisActorRef(this, name))
    return r
  }

  /** Names of the actors this node hosts now. */
  hosted(): string[] {
    return [...this.actors.keys()]
  }

  /** Deliver `msg` to every actor subscribed to a pattern matching `subject`; resolves with how many. */
  async publish(subject: string, msg: unknown): Promise<number> {
    this.checkOpen()
    const tokens = checkSubject(subject, 'subject')
    const payload = this.codec.encode(msg, 'message')
    await this.conn.open()
    const members = await this.conn.main.call('SMEMBERS', this.subsKey) as string[]
    const targets = new Set<string>()
    for (const m of members) {
      const cut = m.indexOf('\n')
      if (subjectMatches(m.slice(0, cut).split('.'), tokens)) targets.add(m.slice(cut + 1))
    }
    if (targets.size === 0) return 0
    const p = this.conn.main.pipeline()
    for (const name of targets) p.call('XADD', this.mailbox(name).stream, '*', ...entryFields(this.newId(), payload))
    for (const [err] of (await p.exec()) ?? []) if (err) throw err
    return targets.size
  }

  /** Subscribe an actor (by ref or name) to a pattern: `evt.*` one token, `evt.>` the rest. */
  async subscribe(pattern: string, actor: ActorRef<any, any> | string): Promise<void> {
    checkSubject(pattern, 'pattern')
    await this.conn.open()
    await this.conn.main.call('SADD', this.subsKey, `${pattern}\n${typeof actor === 'string' ? actor : actor.name}`)
  }

  /** Undo `subscribe`. */
  async unsubscribe(pattern: string, actor: ActorRef<any, any> | string): Promise<void> {
    await this.conn.open()
    await this.conn.main.call('SREM', this.subsKey, `${pattern}\n${typeof actor === 'string' ? actor : actor.name}`)
  }

  /** @internal Put a message in an actor's mailbox (with a reply address for asks). */
  async deliver(name: string, msg: unknown, control?: string, replyId?: string): Promise<void> {
    this.checkOpen()
    const payload = this.codec.encode(msg, 'message')
    await this.conn.open()
    const fields = entryFields(replyId ?? this.newId(), payload, replyId ? { results: this.inboxKeys.name } : {})
    if (control) fields.push('c', control)
    await this.conn.main.call('XADD', this.mailbox(name).stream, '*', ...fields)
  }

  /** @internal Ask: deliver with this node's inbox as the reply address. */
  ask<R>(name: string, msg: unknown, opts: AskOptions = {}): Promise<R> {
    const id = this.newId()
    const timeout = opts.timeout ?? this.askTimeout
    const p = new Promise<R>((resolve, reject) => {
      const a: Asking = { resolve: resolve as (v: unknown) => void, reject }
      this.asks.set(id, a)
      a.timer = setTimeout(() => this.settleAsk(id, new TimeoutError(`ask to Redis actor '${name}' got no answer within ${timeout} ms`), false), timeout)
      if (opts.signal) {
        const signal = opts.signal
        const onAbort = () => this.settleAsk(id, new AbortError(`ask to Redis actor '${name}' was aborted`), false)
        if (signal.aborted) { onAbort(); return }
        signal.addEventListener('abort', onAbort, { once: true })
        a.cleanup = () => signal.removeEventListener('abort', onAbort)
      }
    })
    this.startInbox()
    this.deliver(name, msg, undefined, id).catch((err) => this.settleAsk(id, err as Error, false))
    return p
  }

  private settleAsk(id: string, value: unknown, ok: boolean): void {
    const a = this.asks.get(id)
    if (!a) return
    this.asks.delete(id)
    if (a.timer) clearTimeout(a.timer)
    a.cleanup?.()
    if (ok) a.resolve(value); else a.reject(value as Error)
  }

  // Replies to this node's asks arrive in its inbox stream; one reader serves them all.
  private startInbox(): void {
    if (this.inboxRunning) return
    this.inboxRunning = true
    void (async () => {
      // Always from the start: a reply may land before this XREAD is in place, and handled replies are deleted anyway.
      let last = '0'
      try {
        if (!this.inboxReader) {
          this.inboxReader = makeClient(this.conn.address)
          this.inboxReader.on('error', () => {})
          await connectClient(this.inboxReader, this.conn.label)
        }
        while (this.asks.size > 0 && !this.closed) {
          const reply = await this.inboxReader.callBuffer('XREAD', 'COUNT', 1000, 'BLOCK', 1000, 'STREAMS', this.inboxKeys.stream, last) as [Buffer, [Buffer, Buffer[]][]][] | null
          if (!reply) continue
          const ids: string[] = []
          for (const [id, fields] of reply[0]![1]) {
            const e = parseEntry(id, fields)
            ids.push(e.id)
            last = e.id
            let value: unknown
            try { value = this.codec.decode(e.payload) } catch (err) { this.settleAsk(e.taskId, err, false); continue }
            if (e.error) this.settleAsk(e.taskId, fromWireError(value as WireError), false)
            else this.settleAsk(e.taskId, value, true)
          }
          if (ids.length) await this.conn.main.call('XDEL', this.inboxKeys.stream, ...ids)
        }
      } catch (err) {
        if (!this.closed) for (const id of [...this.asks.keys()]) this.settleAsk(id, err, false)
      } finally {
        this.inboxRunning = false
      }
      if (this.asks.size > 0 && !this.closed) this.startInbox()
    })()
  }

  /** @internal Send a reply to an asker's inbox. */
  async reply(inbox: string, id: string, value: unknown, isError: boolean): Promise<void> {
    let payload: Buffer
    try {
      payload = this.codec.encode(isError ? toWireError(value, `redis actor node ${this.node} (${placeLabel()})`) : value, 'reply')
    } catch (err) {
      payload = this.codec.encode(toWireError(err, `redis actor node ${this.node}`))
      isError = true
    }
    await this.conn.main.call('XADD', queueKeys(inbox, this.prefix).stream, '*', ...entryFields(id, payload, { error: isError }))
  }

  /** @internal The definition of an actor, or undefined once it is gone. */
  async definition(name: string): Promise<Definition | undefined> {
    await this.conn.open()
    const raw = await this.conn.main.callBuffer('HGET', this.registryKey, name) as Buffer | null
    return raw ? this.codec.decode(raw) as Definition : undefined
  }

  /** @internal An actor ended for good: forget it everywhere. */
  async remove(name: string): Promise<void> {
    const k = this.mailbox(name)
    await this.conn.main.call('HDEL', this.registryKey, name)
    await this.conn.main.call('DEL', k.stream, this.leaseKey(name))
    const members = await this.conn.main.call('SMEMBERS', this.subsKey) as string[]
    const mine = members.filter((m) => m.endsWith(`\n${name}`))
    if (mine.length) await this.conn.main.call('SREM', this.subsKey, ...mine)
  }

  /** @internal Whether the actor is still registered. */
  async exists(name: string): Promise<boolean> {
    await this.conn.open()
    return (await this.conn.main.call('HEXISTS', this.registryKey, name)) === 1
  }

  // Take the lease of every registered actor that has no live node (SET NX PX: exactly one node wins).
  private async place(): Promise<void> {
    if (this.closed) return
    await this.conn.open()
    const names = await this.conn.main.call('HKEYS', this.registryKey) as string[]
    for (const name of names) {
      if (this.actors.has(name) || this.closed) continue
      const won = await this.conn.main.call('SET', this.leaseKey(name), this.node, 'NX', 'PX', this.leaseMs)
      if (won !== 'OK') continue
      const def = await this.definition(name)
      if (!def) { await releaseLease.run(this.conn.main, [this.leaseKey(name)], [this.node]); continue }
      const actor = new HostedActor(this, name, def)
      this.actors.set(name, actor)
      void actor.run().finally(() => { if (this.actors.get(name) === actor) this.actors.delete(name) })
    }
  }

  /** @internal Renew a lease; false when this node lost it. */
  async renew(name: string): Promise<boolean> {
    return (await renew.run(this.conn.main, [this.leaseKey(name)], [this.node, this.leaseMs])) === 1
  }

  /** @internal Let a lease go (so another node can take the actor at once). */
  async release(name: string): Promise<void> {
    await releaseLease.run(this.conn.main, [this.leaseKey(name)], [this.node]).catch(() => {})
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError('the Redis actor system is closed')
  }

  /**
   * Leave: hosted actors stop taking messages and their leases are released,
   * so other nodes take them over with their mailboxes; pending asks reject.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.placement) clearInterval(this.placement)
    await Promise.all([...this.actors.values()].map((a) => a.leave()))
    for (const id of [...this.asks.keys()]) this.settleAsk(id, new ClosedError('the Redis actor system was closed before the answer came'), false)
    this.inboxReader?.disconnect()
    if (this.conn.main.status === 'ready') await this.conn.main.call('DEL', this.inboxKeys.stream).catch(() => {})
    systems.delete(addressKey(this.conn.address, this.prefix))
    await this.conn.close()
  }

  /** `await using system = new RedisActorSystem(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** One actor running on this node while it holds the lease. */
class HostedActor {
  private instance?: Actor<any> & ActorHooks
  private client?: Redis
  private renewTimer?: NodeJS.Timeout
  private leaving = false
  private ending: StopReason | undefined
  private current?: { inbox?: string; id: string; deferred: boolean }
  private readonly keys: QueueKeys
  private scheduled = new Set<NodeJS.Timeout>()
  private running?: Promise<void>

  constructor(private readonly system: RedisActorSystem, readonly name: string, private readonly def: Definition) {
    this.keys = system.mailbox(name)
  }

  private context(): ActorContext {
    const sys = this.system
    return {
      selfRef: sys.ref(this.name),
      actorName: this.name,
      deferReply: () => {
        const cur = this.current
        if (!cur) throw new TypeError('deferReply() can only be called while handling a message')
        cur.deferred = true
        let done = false
        const answer = (v: unknown, isError: boolean) => {
          if (done || !cur.inbox) return
          done = true
          void sys.reply(cur.inbox, cur.id, v, isError).catch(() => {})
        }
        return { resolve: (v: unknown) => answer(v, false), reject: (e: unknown) => answer(e, true) } as ReplyHandle<any>
      },
      scheduleSelf: (ms, msg) => {
        const t = setTimeout(() => { this.scheduled.delete(t); void sys.deliver(this.name, msg).catch(() => {}) }, ms)
        this.scheduled.add(t)
        return () => { clearTimeout(t); this.scheduled.delete(t) }
      },
      watchRef: () => { throw new TypeError('watch() is not available to Redis actors yet') },
      unwatchRef: () => {},
      stopSelf: () => { this.ending ??= 'stopped' },
      closeSelf: () => { void sys.deliver(this.name, null, CONTROL_CLOSE).catch(() => {}) },
    }
  }

  private async instantiate(): Promise<void> {
    const cls = await load<ActorClass>(this.def.ref)
    this.instance = constructActor(this.context(), cls, this.def.args) as Actor<any> & ActorHooks
    await this.instance.onStart?.()
  }

  /** Host the actor until the lease is lost, the node leaves, or the actor ends. */
  run(): Promise<void> {
    this.running ??= this.serve()
    return this.running
  }

  private async serve(): Promise<void> {
    const sys = this.system
    // Renew three times per lease, so one slow renewal does not hand the actor to another node.
    this.renewTimer = setInterval(() => {
      void sys.renew(this.name).then((held) => { if (!held) this.lostLease() }, () => {})
    }, Math.max(20, sys.leaseMs / 3))
    try {
      this.client = makeClient(sys.conn.address)
      this.client.on('error', () => {})
      await connectClient(this.client, sys.conn.label)
      await this.instantiate()
      // First what the previous node received and did not finish (its consumer name is the same), then new messages.
      let cursor = '0'
      let lastMessage = Date.now()
      while (!this.leaving && this.ending === undefined) {
        const timeout = this.instance!.receiveTimeout
        let block = 1000
        if (timeout && timeout > 0) block = Math.max(1, Math.min(block, lastMessage + timeout - Date.now()))
        const args = ['GROUP', 'actor', 'owner', 'COUNT', 64]
        const reply = cursor === '>'
          ? await this.client.callBuffer('XREADGROUP', ...args, 'BLOCK', block, 'STREAMS', this.keys.stream, '>')
          : await this.client.callBuffer('XREADGROUP', ...args, 'STREAMS', this.keys.stream, cursor)
        const entries = reply ? (reply as [Buffer, [Buffer, Buffer[] | null][]][])[0]![1] : []
        if (cursor !== '>' && entries.length === 0) { cursor = '>'; continue }
        if (entries.length === 0) {
          if (timeout && timeout > 0 && Date.now() - lastMessage >= timeout) {
            lastMessage = Date.now()
            await this.callHook(() => this.instance!.onTimeout?.())
          }
          continue
        }
        for (const [id, fields] of entries) {
          if (cursor !== '>') cursor = id.toString()
          if (!fields) { await this.ack(id.toString()); continue }
          if (this.leaving) break
          await this.handle(parseEntry(id, fields), fields)
          lastMessage = Date.now()
          if (this.ending !== undefined) break
        }
      }
      if (this.ending !== undefined) {
        await this.callHook(() => this.instance?.onStop?.(this.ending!))
        await sys.remove(this.name)
      }
    } catch (err) {
      // The node cannot run this actor (its module fails to load, Redis is gone): let another node try.
      if (!this.leaving) console.error(`troupe: Redis actor '${this.name}' stopped on node ${sys.node}: ${(err as Error).message}`)
    } finally {
      clearInterval(this.renewTimer)
      for (const t of this.scheduled) clearTimeout(t)
      this.client?.disconnect()
      if (this.ending === undefined) await sys.release(this.name)
    }
  }

  private async handle(e: Entry, fields: Buffer[]): Promise<void> {
    let control: string | undefined
    for (let k = 2; k + 1 < fields.length; k += 2) if (fields[k]!.toString() === 'c') control = fields[k + 1]!.toString()
    if (control === CONTROL_CLOSE) { this.ending = 'normal'; await this.ack(e.id); return }
    if (control === CONTROL_STOP) { this.ending = 'stopped'; await this.ack(e.id); return }
    const sys = this.system
    const cur = { inbox: e.results, id: e.taskId, deferred: false }
    this.current = cur
    let value: unknown
    let ok = true
    try {
      const msg = sys.codec.decode(e.payload)
      value = this.instance!.receive(msg)
      if (value && typeof (value as PromiseLike<unknown>).then === 'function') value = await value
    } catch (err) {
      ok = false
      value = err
    } finally {
      this.current = undefined
    }
    if (cur.inbox && !cur.deferred) await sys.reply(cur.inbox, cur.id, value, !ok)
    if (!ok) {
      // A throw restarts the actor here (fresh instance, onStart again); the message is not redelivered, so it cannot loop.
      console.error(`troupe: Redis actor '${this.name}' threw on a message and is restarted: ${(value as Error)?.message ?? String(value)}`)
      await this.callHook(() => this.instance?.onStop?.('restart'))
      await this.instantiate()
    }
    // Acknowledged only after handling: a node that dies mid-message leaves it for the next node (at-least-once).
    await this.ack(e.id)
  }

  private async callHook(fn: () => unknown): Promise<void> {
    try { await fn() } catch (err) { console.error(`troupe: Redis actor '${this.name}' hook failed: ${(err as Error).message}`) }
  }

  private async ack(id: string): Promise<void> {
    await ackScript.run(this.system.conn.main, [this.keys.stream], ['actor', id])
  }

  private lostLease(): void {
    // Another node owns the actor now (this one stalled past its lease): stop at once so only one runs it.
    this.leaving = true
    this.client?.disconnect()
  }

  /** Stop here without ending the actor: another node takes it over. */
  async leave(): Promise<void> {
    this.leaving = true
    // Dropping the connection ends a blocked read at once; the message being handled (if any) still finishes.
    this.client?.disconnect()
    await this.running
    await this.system.release(this.name)
  }
}

/** A reference to an actor in Redis; works from any process that can reach that Redis, and inside messages. */
export class RedisActorRef<Msg = unknown, Reply = unknown> implements ActorRef<Msg, Reply> {
  private ended: StopReason | undefined

  /** @internal Use `system.ref(name)` or `system.spawn(...)`. */
  constructor(private readonly system: RedisActorSystem, readonly name: string) {}

  /** Fire and forget; resolves once Redis holds the message (it waits in the mailbox until the actor takes it). */
  send(msg: Msg): Promise<void> {
    return this.system.deliver(this.name, msg)
  }

  /** Request/reply through this node's inbox; rejects with the actor's error, TimeoutError (default 30 s) or AbortError. */
  ask<R = Reply>(msg: Msg, opts?: AskOptions): Promise<R> {
    return this.system.ask<R>(this.name, msg, opts)
  }

  /** End the actor once everything already in its mailbox has been handled. */
  close(): void {
    void this.system.deliver(this.name, null, CONTROL_CLOSE).catch(() => {})
  }

  /** End the actor after the messages sent before this; resolves when it has ended. */
  async stop(): Promise<void> {
    await this.system.deliver(this.name, null, CONTROL_STOP)
    await this.join()
  }

  /** Resolves once the actor has ended (it is no longer registered). */
  async join(opts: JoinOptions = {}): Promise<void> {
    const deadline = opts.timeout === undefined ? Infinity : Date.now() + opts.timeout
    let pause = 10
    while (await this.system.exists(this.name)) {
      if (Date.now() >= deadline) throw new TimeoutError(`join of Redis actor '${this.name}' did not finish within ${opts.timeout} ms`)
      await new Promise((r) => setTimeout(r, Math.min(pause, deadline - Date.now())))
      pause = Math.min(pause * 2, 200)
    }
    this.ended ??= 'normal'
  }

  /** True until this place has seen the actor end. */
  get isAlive(): boolean {
    return this.ended === undefined
  }

  get exitReason(): StopReason | undefined {
    return this.ended
  }

  /** Mailbox counters live in Redis, not here. */
  stats(): MailboxStats | undefined {
    return undefined
  }

  /** Travels as name + Redis address; revived against a system for that Redis in the receiving place. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.redis.actor', data: { name: this.name, redis: this.system.conn.address, prefix: this.system.prefix } }
  }

  toString(): string {
    return `RedisActorRef<${this.name}>`
  }
}

// One system per Redis address and prefix in each place, so revived refs share connections.
const systems = new Map<string, RedisActorSystem>()
function addressKey(a: RedisAddress, prefix: string): string {
  return `${prefix}@${typeof a === 'string' ? a : JSON.stringify(a)}`
}

registerPortable('troupe.redis.actor', (d: { name: string; redis: RedisAddress; prefix: string }) => {
  let sys = systems.get(addressKey(d.redis, d.prefix))
  if (!sys) sys = new RedisActorSystem({ redis: d.redis, prefix: d.prefix, host: false })
  return sys.ref(d.name)
}, import.meta.url)
