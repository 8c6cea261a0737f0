/**
 * Actors on Redis: an actor's mailbox is a Redis stream, so messages survive
 * the node that hosts it. A fenced lease places each actor on one node at a
 * time; when that node dies, stalls or leaves, another takes the lease and
 * goes on with the same mailbox.
 *
 * A hosted actor is the same loop as every other actor: a LocalCell, fed
 * from its mailbox by the fenced consumer of backends/redis. Each mailbox
 * entry is handed to the cell with a reply token; settling the token (after
 * `receive` returned, or when a deferred reply is given) acknowledges the
 * entry, and only then answers the ask: at least once, and one answer. Asks
 * wait in actor/pending.ts like every ask, their id travelling as the
 * correlation id to this node's inbox. The node supervises each actor it
 * hosts one-for-one (restart type and intensity from `spawn`), so crashes,
 * restarts, watch, deferReply, schedule and receive timeouts behave as they
 * do everywhere else. The keys and scripts are backends/redis/keys.ts and
 * scripts.ts; docs/redis.md lists them.
 */
import { portable, registerPortable, toWireError, fromWireError, type WireError } from '../codec/index.js'
import { locate, load, placeLabel, type ModuleRef } from '../process/index.js'
import { ActorNotFoundError, ActorStoppedError, ClosedError, DecodeError, LeaseLostError } from '../errors.js'
import {
  Connection, Poster, Inbox, ExitFeed, actorKeys, systemKeys, codecFor, defaultRedis, consumerName, idMaker, transient,
  defineActor, SharedSet, actorState, takeActor, endActor, messageFields, controlOf, replyCommand, inboxStream, postCommand, postOutcome,
  type AckReply, type PostKind, type RedisTarget, type RedisAddress, type CodecName, type ValueCodec, type ActorKeys, type SystemKeys, type HeldActor, type Delivery, type Entry,
} from '../backends/index.js'
import type { Actor, ActorClass, MessageOf, ReplyOf, StopReason } from './actor.js'
import { LocalCell } from './cell.js'
import { armWait, optionsError, sleep } from '../timers.js'
import { describeReason, type Entity, type SupervisorHooks } from './entity.js'
import type { MailboxStats, ReplyTo } from './mailbox.js'
import { Pending, pendingById, type AskOptions } from './pending.js'
import { WATCH, joinWithin, type ActorRef, type JoinOptions, type Watchable } from './ref.js'
import { checkSubject, subjectMatches } from './subjects.js'
import { RestartIntensity, crashLog, reportCrash, type RestartType } from './supervisor.js'

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
  /** An actor's lease in ms (default 5,000): how long after its node dies (or stalls) it moves to another. */
  leaseMs?: number
  /** How often a hosting node looks for actors that have no node, ms (default leaseMs / 5). */
  placementMs?: number
  /** Default ask timeout in ms (default 30,000). */
  askTimeout?: number
  /** `v8` (default) or `json`. */
  codec?: CodecName
  /**
   * Where this node's crash reports go, one per failure of an actor it hosts
   * (as `supervise({ log })`: default stderr; a function gets each report as
   * one string; `false` for silence).
   */
  log?: ((line: string) => void) | false
}

/** Options of `system.spawn()`. */
export interface RedisSpawnOptions<Args extends unknown[] = unknown[]> {
  /** The actor's name, unique in this Redis (and prefix). Spawning an existing name returns a ref to it. */
  name: string
  /** Constructor arguments (sendable values). */
  args?: Args
  /** Ms without a message before `onTimeout()` runs (overrides the class's `receiveTimeout`). */
  receiveTimeout?: number
  /** When the hosting node restarts it: `'transient'` (default) after a failure, `'permanent'` also after it ended, `'temporary'` never. */
  restart?: RestartType
  /** Restarts allowed within `withinMs` before the actor ends with SupervisorGaveUpError (default 3). */
  maxRestarts?: number
  /** The intensity window in ms (default 5,000). */
  withinMs?: number
}

interface Definition { ref: ModuleRef; args: unknown[]; receiveTimeout?: number; restart?: RestartType; maxRestarts?: number; withinMs?: number }

// Control words travel in the mailbox like messages, so they keep their place in line.
const CLOSE = 'close'
const STOP = 'stop'
// Messages a hosted actor's cell may hold, read ahead from its mailbox.
const WINDOW = 64
// A node that cannot load an actor's class leaves it to others for this many placement rounds.
const LOAD_BACKOFF_ROUNDS = 10

/**
 * A set of actors living in Redis. Every process that creates one with
 * `host: true` (the default) is a node that may host actors; any process can
 * spawn, send, ask, watch and publish.
 */
export class RedisActorSystem {
  /** This node's id. */
  readonly node: string
  /** @internal */ readonly conn: Connection
  /** @internal */ readonly codec: ValueCodec
  /** @internal */ readonly prefix: string
  /** @internal */ readonly leaseMs: number
  /** @internal */ readonly keys: SystemKeys
  /** @internal Where crash reports of hosted actors go. */ readonly crashLog: (line: string) => void
  private readonly askTimeout: number
  private readonly newId = idMaker()
  private readonly poster: Poster
  private readonly inbox: Inbox
  private readonly exitFeed: ExitFeed
  private readonly asking = new Set<Pending>()
  private readonly exitWatchers = new Map<string, Set<(reason: StopReason) => void>>()
  private readonly hostings = new Map<string, Hosting>()
  private readonly refs = new Map<string, RedisActorRef<any, any>>()
  private readonly loadFailures = new Map<string, number>()
  // Read every placement round and every publish: cached, re-read when their version moves.
  private readonly registry: SharedSet
  private readonly subjects: SharedSet
  private placement?: NodeJS.Timeout
  private placing = false
  private placeAgain = false
  private round = 0
  private closed = false

  constructor(options: RedisActorSystemOptions = {}) {
    this.node = options.node ?? consumerName()
    this.prefix = options.prefix ?? 'troupe'
    this.leaseMs = options.leaseMs ?? 5000
    if (!(this.leaseMs >= 10)) throw new RangeError(`leaseMs must be at least 10, got ${options.leaseMs}`)
    this.askTimeout = options.askTimeout ?? 30_000
    this.crashLog = crashLog(options.log)
    this.codec = codecFor(options.codec)
    this.conn = new Connection(options.redis ?? defaultRedis())
    this.keys = systemKeys(this.prefix)
    this.registry = new SharedSet(this.conn, this.keys.registry, this.keys.registryVersion)
    this.subjects = new SharedSet(this.conn, this.keys.subjects, this.keys.subjectsVersion)
    const warn = (what: string) => (err: Error) => process.emitWarning(`troupe: Redis actor system ${this.node}: ${what}: ${err.message}`, { code: 'TROUPE_REDIS_ACTORS' })
    this.poster = new Poster(this.conn, warn('a message or reply could not be written'))
    // The inbox lives as long as its node renews it: three leases.
    this.inbox = new Inbox(this.conn, this.node, this.prefix, this.leaseMs * 3, () => this.asking.size > 0, (d) => this.answer(d), (err) => {
      for (const p of [...this.asking]) p.fail(err)
    })
    this.exitFeed = new ExitFeed(this.conn, this.keys, () => this.exitWatchers.size > 0, (name, reason) => this.exited(name, this.decodeReason(reason)))
    systems.set(addressKey(this.conn.address, this.prefix), this)
    if (options.host ?? true) {
      const every = options.placementMs ?? Math.max(50, this.leaseMs / 5)
      this.placement = setInterval(() => void this.place(), every)
      void this.place()
    }
  }

  /**
   * Register an actor (its class located by module and export, like pool
   * tasks) and return its ref. A hosting node takes it at once; messages
   * sent before then wait in its mailbox.
   */
  async spawn<A extends Actor<any>>(cls: ActorClass<A>, opts: RedisSpawnOptions<ConstructorParameters<ActorClass<A>>>): Promise<RedisActorRef<MessageOf<A>, ReplyOf<A>>> {
    this.checkOpen()
    // Checks the name before anything is written.
    const keys = actorKeys(opts?.name, this.prefix)
    if (opts.restart !== undefined && !['permanent', 'transient', 'temporary'].includes(opts.restart)) throw new TypeError(`restart must be 'permanent', 'transient' or 'temporary', got '${opts.restart}'`)
    void new RestartIntensity(opts, 'spawn')
    const def: Definition = {
      ref: await locate(cls), args: opts.args ?? [], receiveTimeout: opts.receiveTimeout, restart: opts.restart, maxRestarts: opts.maxRestarts, withinMs: opts.withinMs,
    }
    const fresh = await defineActor(this.conn, keys, this.keys, opts.name, this.codec.encode(def, 'spawn options'))
    // A name used again: a ref to its earlier life stays ended; this life gets a new one.
    if (fresh && this.refs.get(opts.name)?.isAlive === false) this.refs.delete(opts.name)
    if (this.placement) void this.place()
    return this.ref(opts.name)
  }

  /**
   * A reference to the actor called `name`. It need not exist yet: messages
   * sent to a name no actor has wait in its mailbox for a spawn (kept 24 h
   * after the last one); asks to it reject at once with ActorNotFoundError
   * (ActorStoppedError, with the reason, when it ended).
   */
  ref<Msg = unknown, Reply = unknown>(name: string): RedisActorRef<Msg, Reply> {
    let r = this.refs.get(name)
    if (!r) this.refs.set(name, r = new RedisActorRef(this, name, actorKeys(name, this.prefix)))
    return r
  }

  /** Names of the actors this node hosts now. */
  hosted(): string[] {
    return [...this.hostings.keys()]
  }

  /** Deliver `msg` to every actor subscribed to a pattern matching `subject`; resolves with how many, once Redis holds the messages. */
  async publish(subject: string, msg: unknown): Promise<number> {
    this.checkOpen()
    const tokens = checkSubject(subject, 'subject')
    const payload = this.codec.encode(msg, 'message')
    await this.conn.open()
    const members = await this.subjects.members()
    const targets = new Set<string>()
    for (const m of members) {
      const cut = m.indexOf('\n')
      if (subjectMatches(m.slice(0, cut).split('.'), tokens)) targets.add(m.slice(cut + 1))
    }
    for (const name of targets) void this.poster.post(postCommand(this.ref(name).keys, 'tell', messageFields(this.newId(), payload)))
    await this.poster.flush()
    return targets.size
  }

  /** Subscribe an actor (by ref or name) to a pattern: `evt.*` one token, `evt.>` the rest. */
  async subscribe(pattern: string, actor: ActorRef<any, any> | string): Promise<void> {
    checkSubject(pattern, 'pattern')
    await this.conn.open()
    await this.subjects.add(`${pattern}\n${typeof actor === 'string' ? actor : actor.name}`)
  }

  /** Undo `subscribe`. */
  async unsubscribe(pattern: string, actor: ActorRef<any, any> | string): Promise<void> {
    await this.conn.open()
    await this.subjects.remove(`${pattern}\n${typeof actor === 'string' ? actor : actor.name}`)
  }

  /** Resolves once every message, close and reply sent from here so far is in Redis (rejects with why one could not be written). */
  flush(): Promise<void> {
    return this.poster.flush()
  }

  /**
   * @internal Put a message (or control word) in an actor's mailbox, with this node's inbox for asks.
   * The mailbox script checks that the actor exists: a plain message to a name no actor has is kept
   * for a later spawn; an ask or a control word is not, and `refused` hears whether the name ended or never was
   * (or why the message could not be written).
   */
  deliver(ref: RedisActorRef<any, any>, msg: unknown, control?: string, askId?: number, refused?: (err: Error) => void): void | Promise<void> {
    this.checkOpen()
    const payload = this.codec.encode(msg, 'message')
    const id = askId === undefined ? this.newId() : String(askId)
    const kind: PostKind = control ? 'control' : askId === undefined ? 'tell' : 'ask'
    const fields = messageFields(id, payload, askId === undefined ? undefined : this.inbox.name, control)
    return this.poster.post(postCommand(ref.keys, kind, fields), false, kind === 'tell' ? undefined : (err, reply) => {
      // The message could not be written (not a passing outage: those are retried): an ask waiting for it would wait in vain.
      if (err) { refused?.(err); return }
      const outcome = postOutcome(reply)
      if (outcome === 'unknown') refused?.(new ActorNotFoundError(`no Redis actor named '${ref.name}' (prefix '${this.prefix}') was spawned`))
      else if (outcome === 'ended') {
        // Why it ended (kept a day after the end): one more read, only on this path.
        void actorState(this.conn, ref.keys).then((state) => {
          const reason = state.exists ? 'stopped' : state.exit ? this.decodeReason(state.exit) : 'normal'
          if (!state.exists) ref.ended(reason)
          refused?.(new ActorStoppedError(`Redis actor '${ref.name}' has stopped (${describeReason(reason)})`))
        }, (e) => refused?.(new ActorStoppedError(`Redis actor '${ref.name}' has stopped`, { cause: e })))
      }
    })
  }

  /** @internal Ask: the ask waits in the pending table; its id is the correlation id of the answer in this node's inbox. */
  ask<R>(ref: RedisActorRef<any, any>, msg: unknown, opts: AskOptions = {}): Promise<R> {
    const bad = optionsError('ask()', opts, undefined, 2)
    if (bad) return Promise.reject(bad)
    // No timeout given: the system's askTimeout; `timeout: null` waits without a limit, as a local ask does.
    const p = new Pending<R>(ref.name, { timeout: opts.timeout === undefined ? this.askTimeout : opts.timeout, signal: opts.signal })
    const id = p.register()
    this.asking.add(p as Pending)
    p.onSettle = () => this.asking.delete(p as Pending)
    try {
      // A name with no actor: the ask is not left in Redis, and rejects now.
      const r = this.deliver(ref, msg, undefined, id, (err) => p.fail(err))
      if (r) r.catch((err) => p.fail(err))
      this.inbox.start()
    } catch (err) {
      p.fail(err)
    }
    return p.promise
  }

  private answer(d: Delivery): void {
    const p = pendingById(Number(d.taskId))
    if (!p) return
    let value: unknown
    try { value = this.codec.decode(d.payload) } catch (err) { p.fail(err); return }
    if (d.error) p.fail(fromWireError(value as WireError))
    else p.settle(true, value)
  }

  /** @internal Answer an ask whose message was handled (or refused) here; `now`: send without waiting for the end of this turn. */
  reply(inbox: string, id: string, ok: boolean, value: unknown, now = false): void {
    const r = this.answerFor(inbox, id, ok, value)
    void this.poster.post(replyCommand(inbox, this.prefix, r.ttlMs, id, r.payload, r.error), now)
  }

  /** @internal An answer as the reply script records it in inbox `inbox` (the queue name an ask carried). */
  answerFor(inbox: string, id: string, ok: boolean, value: unknown): AckReply {
    let payload: Buffer
    try {
      payload = this.codec.encode(ok ? value : toWireError(value, `redis actor node ${this.node} (${placeLabel()})`), 'reply')
    } catch (err) {
      payload = this.codec.encode(toWireError(err, `redis actor node ${this.node}`))
      ok = false
    }
    // The inbox lives as long as its node renews it; a reply to a dead node's inbox makes it expire after three leases.
    return { stream: inboxStream(inbox, this.prefix), ttlMs: this.leaseMs * 3, id, payload, error: !ok }
  }

  /** @internal Call `fn` once the actor ends (anywhere); returns a cancel function. */
  watchExit(ref: RedisActorRef<any, any>, fn: (reason: StopReason) => void): () => void {
    let set = this.exitWatchers.get(ref.name)
    if (!set) this.exitWatchers.set(ref.name, set = new Set())
    set.add(fn)
    // Follow the exits from now on, then look whether it ended before (only then can an end be missed).
    void this.exitFeed.start().then(async () => {
      const state = await actorState(this.conn, ref.keys)
      if (!state.exists) this.exited(ref.name, state.exit ? this.decodeReason(state.exit) : 'normal')
    }).catch(() => { /* Redis away: the feed catches up when it is back */ })
    return () => {
      set.delete(fn)
      if (set.size === 0 && this.exitWatchers.get(ref.name) === set) this.exitWatchers.delete(ref.name)
    }
  }

  private exited(name: string, reason: StopReason): void {
    this.refs.get(name)?.ended(reason)
    const set = this.exitWatchers.get(name)
    if (!set) return
    this.exitWatchers.delete(name)
    for (const fn of set) {
      try { fn(reason) } catch { /* a watcher's failure is its own */ }
    }
  }

  /** @internal How an exit reason is stored in the exits stream. */
  encodeReason(reason: StopReason): Buffer {
    return this.codec.encode(reason instanceof Error ? { error: toWireError(reason, `redis actor node ${this.node} (${placeLabel()})`) } : { reason })
  }

  /** @internal Why an actor ended, from its encoded form. */
  decodeReason(b: Buffer): StopReason {
    try {
      const v = this.codec.decode(b) as { reason?: 'normal' | 'stopped'; error?: WireError }
      return v.error ? fromWireError(v.error) : v.reason ?? 'normal'
    } catch (err) {
      return new DecodeError(`cannot decode why a Redis actor ended: ${(err as Error).message}`)
    }
  }

  // Take the lease of every registered actor that no live node holds (exactly one node wins each).
  private async place(): Promise<void> {
    if (this.closed) return
    // A pass is under way: it may have listed the actors before the one just spawned, so go again after it.
    if (this.placing) { this.placeAgain = true; return }
    this.placing = true
    this.placeAgain = false
    this.round++
    try {
      await this.conn.open()
      for (const name of await this.registry.members()) {
        if (this.hostings.has(name) || this.closed) continue
        if ((this.loadFailures.get(name) ?? 0) > this.round) continue
        const keys = actorKeys(name, this.prefix)
        const held = await takeActor(this.conn, keys, this.node, this.leaseMs, (err) => this.hostings.get(name)?.leaseLost(err))
        if (held === 'held') continue
        if (held === 'gone') { await this.registry.remove(name); continue }
        if (this.closed) { await held.release(); continue }
        let def: Definition
        try { def = this.codec.decode(held.definition) as Definition } catch (err) { this.cannotHost(name, err); await held.release(); continue }
        const h = new Hosting(this, name, keys, held, def)
        this.hostings.set(name, h)
        void h.run().finally(() => { if (this.hostings.get(name) === h) this.hostings.delete(name) })
      }
    } catch (err) {
      if (!transient(err) && !this.closed) process.emitWarning(`troupe: Redis actor node ${this.node} could not place actors: ${(err as Error).message}`, { code: 'TROUPE_REDIS_ACTORS' })
    } finally {
      this.placing = false
    }
    if (this.placeAgain) void this.place()
  }

  /** @internal This node cannot run the actor (its module fails to load here): say so and leave it to other nodes for a while. */
  cannotHost(name: string, err: unknown): void {
    this.loadFailures.set(name, this.round + LOAD_BACKOFF_ROUNDS)
    process.emitWarning(`troupe: Redis actor '${name}' cannot run on node ${this.node}: ${(err as Error)?.message ?? String(err)}`, { code: 'TROUPE_REDIS_ACTORS' })
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError('the Redis actor system is closed')
  }

  /**
   * Leave: hosted actors stop after the message they handle (onStop runs)
   * and their leases are released, so other nodes take them over with their
   * mailboxes; asks still waiting reject with ClosedError.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.placement) clearInterval(this.placement)
    await Promise.all([...this.hostings.values()].map((h) => h.leave()))
    await this.poster.flush().catch(() => {})
    for (const p of [...this.asking]) p.fail(new ClosedError('the Redis actor system was closed before the answer came'))
    await this.inbox.close()
    await this.exitFeed.close()
    systems.delete(addressKey(this.conn.address, this.prefix))
    await this.conn.close()
  }

  /** `await using system = new RedisActorSystem(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/** The reply token of one mailbox entry: settling it acknowledges the entry, then answers the ask. */
class EntryToken implements ReplyTo {
  /** Handed to `receive` (a message still queued when its node leaves stays in the mailbox for the next node). */
  started = false
  private done = false

  constructor(private readonly hosting: Hosting, readonly entry: Delivery) {}

  settle(ok: boolean, value: unknown): void {
    if (this.done) return
    this.done = true
    this.hosting.settled(this, ok, value)
  }
}

/**
 * One actor this node hosts while it holds the lease: its LocalCell, fed
 * from the mailbox, and its one-for-one supervision.
 */
class Hosting implements SupervisorHooks {
  private cell?: LocalCell
  private feeding = true
  /** Leaving (node closing, lease lost): no new message is handed over; unstarted ones stay in Redis. */
  private leaving = false
  /** The lease is gone: nothing more is acknowledged or answered from here. */
  private abandoned = false
  private acks: { token: EntryToken; ok: boolean; value: unknown }[] = []
  private ackFlush?: Promise<void>
  private room?: () => void
  private readonly intensity: RestartIntensity
  private finished!: () => void
  private readonly ended = new Promise<void>((r) => { this.finished = r })

  constructor(private readonly system: RedisActorSystem, readonly name: string, private readonly keys: ActorKeys,
    private readonly held: HeldActor, private readonly def: Definition) {
    this.intensity = new RestartIntensity(def, 'spawn')
  }

  /** Host the actor until it ends, the lease is lost or the node leaves. */
  async run(): Promise<void> {
    let cls: new (...a: any[]) => Actor<unknown>
    try {
      cls = await load<new (...a: any[]) => Actor<unknown>>(this.def.ref)
    } catch (err) {
      this.system.cannotHost(this.name, err)
      await this.held.release()
      return
    }
    if (this.leaving) { await this.held.release(); return }
    this.cell = new LocalCell(cls, this.def.args, {
      name: this.name, receiveTimeout: this.def.receiveTimeout, supervisor: this, selfRef: this.system.ref(this.name),
      admit: (token) => this.admit(token),
    })
    this.cell.onDrained = () => this.wake(false)
    void this.feed().catch((err) => this.leaseLost(new LeaseLostError(`feeding the actor failed: ${(err as Error).message}`, { cause: err })))
    await this.ended
  }

  // Before each message: only while the lease is sure (a node whose event loop stalled past it stops here).
  private admit(token: ReplyTo | undefined): boolean {
    if (this.leaving || !this.held.mailbox.leaseValid) {
      if (!this.leaving) this.leaseLost(new LeaseLostError(`the lease of actor '${this.name}' on node ${this.system.node} ran out`))
      return false
    }
    if (token instanceof EntryToken) token.started = true
    return true
  }

  private async feed(): Promise<void> {
    const cell = this.cell!
    while (this.feeding) {
      const queued = cell.stats().queued
      if (queued >= WINDOW) { await new Promise<void>((r) => { this.room = r }); continue }
      let got: Delivery[]
      try {
        got = await this.held.mailbox.read(WINDOW - queued, 1000)
      } catch (err) {
        if (!this.feeding) return
        if (err instanceof LeaseLostError) return this.leaseLost(err)
        // Redis away for a moment: the lease renewal decides whether this node keeps the actor.
        if (transient(err)) { await sleep(100); continue }
        process.emitWarning(`troupe: Redis actor '${this.name}' cannot read its mailbox on node ${this.system.node}: ${(err as Error).message}`, { code: 'TROUPE_REDIS_ACTORS' })
        return this.leaseLost(new LeaseLostError(`reading the mailbox failed: ${(err as Error).message}`, { cause: err }))
      }
      for (const d of got) {
        if (!this.feeding) break
        this.hand(d)
      }
    }
  }

  // One mailbox entry into the cell.
  private hand(d: Delivery): void {
    const cell = this.cell!
    const control = controlOf(d)
    if (control === CLOSE || control === STOP) {
      this.feeding = false
      this.settled(new EntryToken(this, d), true, undefined)
      cell.close(control === STOP ? 'stopped' : 'normal')
      return
    }
    const token = new EntryToken(this, d)
    let msg: unknown
    try {
      msg = this.system.codec.decode(d.payload)
    } catch (err) {
      token.settle(false, err instanceof DecodeError ? err : new DecodeError(`a message to Redis actor '${this.name}' cannot be decoded: ${(err as Error).message}`, { cause: err }))
      return
    }
    const r = cell.tell(msg, token)
    if (r) r.catch(() => {})
  }

  private wake(always: boolean): void {
    if (!this.room) return
    if (!always && (this.cell?.stats().queued ?? 0) >= WINDOW / 2) return
    const r = this.room
    this.room = undefined
    r()
  }

  /** @internal A reply token was settled: acknowledge (batched), then answer. */
  settled(token: EntryToken, ok: boolean, value: unknown): void {
    // Leaving: what never reached `receive` stays in the mailbox for the next node.
    if (this.abandoned || (this.leaving && !token.started && !controlOf(token.entry))) return
    this.acks.push({ token, ok, value })
    // After the dispatcher's pass: every message it handled is acknowledged in one call.
    this.ackFlush ??= Promise.resolve().then(() => this.flushAcks())
  }

  private async flushAcks(): Promise<void> {
    this.ackFlush = undefined
    const batch = this.acks
    this.acks = []
    if (batch.length === 0 || this.abandoned) return
    // Answers go out only once the acknowledgement is taken under the lease (a node that lost it answers nothing):
    // on one Redis in the same Lua call (one round trip, not two on each ask's path), on a Cluster right after it.
    const mailbox = this.held.mailbox
    const together = !mailbox.conn.cluster
    const answers: AckReply[] = []
    for (const x of together ? batch : []) {
      const e = x.token.entry
      if (e.results) answers.push(this.system.answerFor(e.results, e.taskId, x.ok, x.value))
    }
    for (let attempt = 0; ; attempt++) {
      try {
        await mailbox.ack(batch.map((x) => x.token.entry.id), answers)
        break
      } catch (err) {
        if (err instanceof LeaseLostError) return this.leaseLost(err)
        if (!transient(err) || !mailbox.leaseValid) return
        await sleep(50 * (attempt + 1))
      }
    }
    if (together) return
    for (const x of batch) {
      const e = x.token.entry
      if (e.results) this.system.reply(e.results, e.taskId, x.ok, x.value, true)
    }
  }

  // ---- SupervisorHooks: the node supervises each actor it hosts, one for one ----

  /** The actor threw: restart it in place within the intensity, else it ends with SupervisorGaveUpError; either way one crash report. */
  childFailed(child: Entity, err: Error, during?: string): void {
    const supervisor = `redis node ${this.system.node}`
    const report = (outcome: string) => reportCrash(this.system.crashLog, { child, err, during, supervisor, outcome, where: supervisor })
    if (this.leaving || this.def.restart === 'temporary') {
      report(this.leaving ? 'stopping it (the node is leaving it)' : RestartIntensity.notRestartingTemporary)
      void child.stop(err)
      return
    }
    const delay = this.intensity.next()
    if (delay < 0) {
      report(this.intensity.givingUp())
      void child.stop(this.intensity.gaveUp(supervisor, this.name, err))
      return
    }
    report(this.intensity.restarting(delay))
    // On a fresh stack (an actor failing in onStart would otherwise recurse through here).
    if (delay <= 0) queueMicrotask(() => child.restart())
    else armWait({ timeout: delay, precise: true }, () => child.restart(), () => {})
  }

  /** The cell ended: for good (close, stop, a crash past its restarts), or because this node let it go. */
  childExited(child: Entity, reason: StopReason): void {
    if (this.leaving) { void this.letGo(); return }
    if (this.def.restart === 'permanent' && this.intensity.next() >= 0) { queueMicrotask(() => child.restart()); return }
    void this.endForGood(reason)
  }

  private async endForGood(reason: StopReason): Promise<void> {
    this.feeding = false
    this.wake(true)
    try {
      await this.settleAcks()
      let left: Entry[] = []
      try {
        left = await endActor(this.system.conn, this.keys, this.system.keys, this.name, this.held.holder, this.system.encodeReason(reason))
      } catch (err) {
        if (err instanceof LeaseLostError) return void await this.letGo()
        throw err
      }
      // Asks still in the mailbox would otherwise wait for their timeout.
      const stopped = new ActorStoppedError(`Redis actor '${this.name}' stopped (${describeReason(reason)}) before answering`)
      for (const e of left) if (e.results && !controlOf(e)) this.system.reply(e.results, e.taskId, false, stopped)
    } catch (err) {
      process.emitWarning(`troupe: Redis actor '${this.name}' ended but could not be removed: ${(err as Error).message}`, { code: 'TROUPE_REDIS_ACTORS' })
    }
    await this.held.release()
    this.finished()
  }

  private async settleAcks(): Promise<void> {
    while (this.ackFlush || this.acks.length) await (this.ackFlush ?? this.flushAcks())
  }

  // This node stops hosting the actor (it stays registered for another node).
  private async letGo(): Promise<void> {
    this.feeding = false
    this.wake(true)
    if (!this.abandoned) await this.settleAcks().catch(() => {})
    await this.held.release()
    this.finished()
  }

  /** The lease is gone (refused or failed renewal, past due, a fenced read or ack refused): stop at once. */
  leaseLost(_err: LeaseLostError): void {
    if (this.abandoned) return
    this.abandoned = true
    this.leaving = true
    this.feeding = false
    this.wake(true)
    if (this.cell) void this.cell.stop('stopped')
    else void this.letGo()
  }

  /** The node leaves: the actor stops after the message it handles; what is not handled stays for the next node. */
  async leave(): Promise<void> {
    if (!this.leaving) {
      this.leaving = true
      this.feeding = false
      this.wake(true)
      await this.held.mailbox.conn.unblock(this.keys.mailbox.stream)
      if (this.cell) void this.cell.stop('stopped')
      else await this.letGo()
    }
    await this.ended
  }
}

/** A reference to an actor in Redis; works from any process that can reach that Redis, and inside messages. */
export class RedisActorRef<Msg = unknown, Reply = unknown> implements ActorRef<Msg, Reply>, Watchable {
  private reason: StopReason | undefined

  /** @internal Use `system.ref(name)` or `system.spawn(...)`. */
  constructor(private readonly system: RedisActorSystem, readonly name: string, /** @internal */ readonly keys: ActorKeys) {}

  /**
   * Fire and forget: the message goes to Redis with others of this turn, in
   * order. Returns a promise only when many messages are still waiting to be
   * written (backpressure); `system.flush()` says when they are in Redis.
   * Throws UnsendableValueError (by path), ClosedError after the system
   * closed, ActorStoppedError once this place knows the actor ended.
   */
  send(msg: Msg): void | Promise<void> {
    this.checkAlive()
    return this.system.deliver(this, msg)
  }

  /** Request/reply through this node's inbox; rejects with the actor's error, TimeoutError (default 30 s), AbortError or ActorStoppedError. */
  ask<R = Reply>(msg: Msg, opts?: AskOptions): Promise<R> {
    try { this.checkAlive() } catch (err) { return Promise.reject(err) }
    return this.system.ask<R>(this, msg, opts)
  }

  /** End the actor once everything already in its mailbox has been handled. */
  close(): void {
    if (this.reason === undefined) void this.system.deliver(this, null, CLOSE)
  }

  /** End the actor after the messages sent before this; resolves once it has ended. */
  async stop(): Promise<void> {
    if (this.reason !== undefined) return
    await this.system.deliver(this, null, STOP)
    await this.join().catch(() => {})
  }

  /** Resolves once the actor has ended normally; rejects with the error that ended it (or TimeoutError after `timeout`). */
  join(opts: JoinOptions = {}): Promise<void> {
    if (this.reason !== undefined) return this.reason instanceof Error ? Promise.reject(this.reason) : Promise.resolve()
    let cancel = () => {}
    const ended = new Promise<void>((resolve, reject) => {
      cancel = this.system.watchExit(this, (reason) => reason instanceof Error ? reject(reason) : resolve())
    })
    // A join that timed out stops watching.
    return joinWithin(ended, opts, `join of Redis actor '${this.name}'`).finally(cancel)
  }

  /** Death watch (used by `watch()`): `fn` gets the reason once the actor ends, wherever it ran. */
  [WATCH](fn: (reason: StopReason) => void): () => void {
    if (this.reason !== undefined) { const r = this.reason; queueMicrotask(() => fn(r)); return () => {} }
    return this.system.watchExit(this, fn)
  }

  /** True until this place has seen the actor end. */
  get isAlive(): boolean {
    return this.reason === undefined
  }

  /** Why it ended, once this place knows. */
  get exitReason(): StopReason | undefined {
    return this.reason
  }

  /** Mailbox counters live in Redis, not here. */
  stats(): MailboxStats | undefined {
    return undefined
  }

  /** @internal This place learned that the actor ended. */
  ended(reason: StopReason): void {
    this.reason ??= reason
  }

  /** Travels as name + Redis address; revived against a system for that Redis in the receiving place. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.redis.actor', data: { name: this.name, redis: this.system.conn.address, prefix: this.system.prefix } }
  }

  toString(): string {
    return `RedisActorRef<${this.name}>`
  }

  private checkAlive(): void {
    if (this.reason !== undefined) throw new ActorStoppedError(`Redis actor '${this.name}' has stopped (${describeReason(this.reason)})`)
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
