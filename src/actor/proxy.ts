import { fromWireError, marshal, toWireError, type WireError } from '../codec/index.js'
import { ActorStoppedError, ClosedError, MailboxFullError } from '../errors.js'
import { Endpoint, HotParent, WAIT_SPINNING, locate, placeLabel, type ExitInfo, type HotLink, type Kind, type ModuleRef } from '../process/index.js'
import type { Actor, StopReason } from './actor.js'
import { K_ASK, K_ASKP, K_CREDIT, K_CTL, K_FRAME, K_REPLY, K_REPLYX, K_TELL, K_TELLP, Outbox } from './channel.js'
import { allocateId, describeReason, register, unregister, warnCrash, type Address, type Entity, type EntityInfo, type SupervisorHooks } from './entity.js'
import type { MailboxOptions, MailboxStats, ReplyTo } from './mailbox.js'
import { Pending } from './pending.js'
import { LocalRef } from './ref.js'
import { addChild, crashError, decodeReason, localAddress, removeChild, route, settleAnswer, type EncodedReason } from './router.js'
import { ExitSignal } from './exit.js'

/** What the host runtime receives at boot. */
export interface HostData {
  actor: ModuleRef
  args: unknown
  argsPortables: boolean
  name: string
  receiveTimeout: number | undefined
  mailbox: MailboxOptions | undefined
  /** Return mailbox credit after each drain (bounded mailboxes). */
  credit: boolean
  alias: Address
  /** Thread hosts: the fast channel batches travel on (process/hot-channel.ts). */
  hot?: HotLink
}

/** Options of a hosted actor. */
export interface HostedOptions {
  on: Kind
  name: string
  receiveTimeout?: number
  mailbox?: MailboxOptions
  supervisor?: SupervisorHooks
  stdio?: 'inherit' | 'pipe'
}

const hostRuntime: ModuleRef = { url: new URL(import.meta.url.endsWith('.ts') ? './host.ts' : './host.js', import.meta.url).href, name: 'actorHost' }

/** How long `stop()` waits for a hosted actor's onStop before killing its thread/process. */
const STOP_GRACE_MS = 5000
/** How long a host that reported its actor ended may take to exit by itself before it is killed. */
const EXIT_GRACE_MS = 2000

const enum State { Locating, Starting, Running, Suspended, Restarting, Stopping, Stopped }

/**
 * The stand-in, in the spawning place, for an actor hosted in its own worker
 * thread or child process. Its address is the actor's stable address: refs to
 * it survive restarts of the thread/process, because messages go through
 * here and on to whichever incarnation is current. It batches sends, forwards
 * asks (and rejects them if the host dies), enforces bounded mailboxes with
 * credit returned by the host, and turns a dead host into a failure for its
 * supervisor.
 */
export class HostedActor implements Entity {
  readonly id = allocateId()
  readonly name: string
  private readonly className: string
  readonly ref: LocalRef<any, any>
  supervisor: SupervisorHooks | undefined
  exitReason: StopReason | undefined
  /** The thread or process hosting the actor now. */
  endpoint: Endpoint | undefined
  private state = State.Locating
  private closed = false
  private readonly out: Outbox
  private childPlace = ''
  private module: ModuleRef | undefined
  private readonly args: { value: unknown; portables: boolean }
  private readonly inflight = new Set<Pending>()
  private readonly exit = new ExitSignal()
  private stopWaiters: (() => void)[] = []
  private killTimer: NodeJS.Timeout | undefined
  // Bounded mailbox bookkeeping (the proxy holds the window; the host returns credit).
  private readonly capacity: number
  private readonly overflow: string
  private outstanding = 0
  private processed = 0
  private dropped = 0
  private hostDropped = 0
  private waiters: { kind: number; payload: unknown; resolve?: () => void; reject?: (e: unknown) => void; token?: Pending }[] = []
  /** Thread hosts: the channel to the current incarnation. */
  private hot: HotParent | undefined
  /** The lone ask being timed (the hot channel measures whether running hot pays). */
  private timed: { ask: Pending; arm: number; since: number; posted: boolean; channel: HotParent } | undefined
  private readonly settleInflight = (p: Pending) => {
    this.inflight.delete(p)
    const t = this.timed
    if (t?.ask === p) { this.timed = undefined; if (t.posted) t.channel.waited(t.arm, performance.now() - t.since) }
  }

  constructor(cls: new (...args: any[]) => Actor<unknown>, args: readonly unknown[], private readonly opts: HostedOptions) {
    this.name = opts.name
    this.className = cls.name || 'Actor'
    this.supervisor = opts.supervisor
    this.capacity = opts.mailbox?.capacity ?? Infinity
    this.overflow = opts.mailbox?.overflow ?? 'backpressure'
    if (!(this.capacity >= 1)) throw new RangeError(`mailbox capacity must be at least 1, got ${opts.mailbox?.capacity}`)
    // Arguments are checked here so an unsendable one fails spawn() itself, naming its path.
    this.args = marshal(args, 'args')
    this.ref = new LocalRef(this)
    this.out = new Outbox((batch) => this.sendBatch(batch), true)
    register(this)
    locate(cls).then((mod) => {
      this.module = mod
      if (this.state === State.Locating) this.spawnHost()
    }, (err) => this.ended(err as Error))
  }

  /** Where other places reach this actor (stable across restarts). */
  address(): Address {
    return localAddress(this.id, this.name)
  }

  /** False once ended. */
  get alive(): boolean {
    return this.state !== State.Stopped
  }

  private spawnHost(): void {
    this.state = State.Starting
    this.out.paused = true
    const data: HostData = {
      actor: this.module!,
      args: this.args.value,
      argsPortables: this.args.portables,
      name: this.name,
      receiveTimeout: this.opts.receiveTimeout,
      mailbox: this.overflow === 'drop-oldest' ? this.opts.mailbox : undefined,
      credit: this.capacity !== Infinity,
      alias: this.address(),
    }
    // A thread host gets a channel of its own with shared counters beside it: it can wait for the
    // next batch on Atomics, and an ask's answer can be taken here without an event-loop turn.
    const hot = this.opts.on === 'thread' ? new HotParent() : undefined
    if (hot) { data.hot = hot.link; hot.onMessage((batch) => this.fromHost(batch)) }
    const ep = new Endpoint({ kind: this.opts.on, runtime: hostRuntime, data, name: this.name, stdio: this.opts.stdio, transfer: hot ? [hot.link.port] : undefined })
    this.endpoint = ep
    this.hot = hot
    ep.onMessage((batch) => this.fromHost(batch))
    void ep.exited.then((info) => {
      // What the host sent just before it ended may still sit in the channel: take it first.
      hot?.drain()
      hot?.close()
      this.hostExited(ep, info)
    })
  }

  private sendBatch(batch: unknown[]): void {
    const hot = this.hot
    if (!hot) { this.endpoint?.send(batch); return }
    hot.post(batch)
    // A lone ask just left: time its wait, and when the channel runs hot wait for the answer right here.
    const t = this.timed
    if (t && !t.posted && t.channel === hot) {
      t.posted = true
      t.since = performance.now()
      t.arm = hot.beginWait()
      if (t.arm === WAIT_SPINNING) hot.spinForReply()
    }
  }

  private fromHost(batch: unknown): void {
    if (!Array.isArray(batch)) {
      // The worker entry reports a runtime that failed to load as a plain record.
      const m = batch as { t?: string; error?: WireError }
      if (m.t === 'boot-error' && m.error) this.failed(fromWireError(m.error))
      return
    }
    for (let i = 0; i < batch.length; i += 2) {
      const kind = batch[i] as number
      const payload = batch[i + 1] as any
      switch (kind) {
        case K_REPLY: settleAnswer(payload, true, batch[i + 2], false); i++; break
        case K_REPLYX: settleAnswer(payload[0], payload[1], payload[2], payload[3]); break
        case K_CREDIT: this.credit(payload, batch[i + 2] as number); i++; break
        case K_FRAME: route(payload); break
        case K_CTL: this.control(payload); break
      }
    }
  }

  private control(c: { t: string; [k: string]: unknown }): void {
    switch (c.t) {
      case 'ready':
        // The host's place address (given by the process router) is where frames for places under it go.
        this.childPlace = c.place as string
        addChild(this.childPlace, this.out)
        if (this.state === State.Starting || this.state === State.Restarting) this.state = State.Running
        this.out.resume()
        break
      case 'failed':
        this.failed(fromWireError(c.error as WireError), c.answered === true, c.during as string | undefined)
        break
      case 'stopped':
        this.hostStopped(decodeReason(c.reason as EncodedReason))
        break
    }
  }

  /** The host took `n` more messages out of its mailbox (`dropped`: its drop-oldest count so far). */
  private credit(n: number, dropped: number): void {
    this.outstanding -= n
    this.processed += n
    this.hostDropped = dropped
    if (this.waiters.length > 0) this.admitWaiters()
  }

  // ---- Entity ----

  /** Forward a message (batched) to the host. */
  tell(msg: unknown, token: ReplyTo | undefined): void | Promise<void> {
    if (this.closed || this.state >= State.Stopping) return this.refuse(token)
    let m
    try {
      m = marshal(msg, 'message')
    } catch (err) {
      if (token) return token.settle(false, err)
      throw err
    }
    let kind: number
    let payload: unknown
    let pending: Pending | undefined
    if (token === undefined) {
      kind = m.portables ? K_TELLP : K_TELL
    } else {
      pending = token instanceof Pending ? token : this.relay(token)
      kind = m.portables ? K_ASKP : K_ASK
    }
    payload = m.value
    if (this.capacity !== Infinity && this.overflow !== 'drop-oldest' && (this.outstanding >= this.capacity || this.waiters.length > 0)) {
      return this.overflowed(kind, payload, pending)
    }
    this.forward(kind, payload, pending)
  }

  // An ask from another place gets a local pending whose answer is relayed back.
  private relay(token: ReplyTo): Pending {
    const p = new Pending(this.name, undefined)
    p.promise.then((v) => token.settle(true, v), (e) => token.settle(false, e))
    return p
  }

  private forward(kind: number, payload: unknown, pending: Pending | undefined): void {
    if (pending) {
      const a = pending.register()
      this.inflight.add(pending)
      pending.onSettle = this.settleInflight
      // One ask at a time to a thread actor: time its wait, and maybe spin for it (sendBatch).
      if (this.hot && this.inflight.size === 1 && this.timed === undefined) {
        this.timed = { ask: pending, arm: 0, since: 0, posted: false, channel: this.hot }
      }
      this.outstanding++
      this.out.post2(kind, payload, a)
      return
    }
    this.outstanding++
    this.out.post(kind, payload)
  }

  private overflowed(kind: number, payload: unknown, pending: Pending | undefined): void | Promise<void> {
    const full = `mailbox of actor '${this.name}' is full (capacity ${this.capacity})`
    if (this.overflow === 'fail') {
      this.dropped++
      const err = new MailboxFullError(full)
      if (pending) return pending.fail(err)
      throw err
    }
    if (this.overflow === 'drop-newest') {
      this.dropped++
      pending?.fail(new MailboxFullError(`${full}; the message was dropped`))
      return
    }
    if (pending) { this.waiters.push({ kind, payload, token: pending }); return }
    return new Promise<void>((resolve, reject) => this.waiters.push({ kind, payload, resolve, reject }))
  }

  private admitWaiters(): void {
    let k = 0
    while (k < this.waiters.length && this.outstanding < this.capacity) {
      const w = this.waiters[k++]!
      this.forward(w.kind, w.payload, w.token)
      w.resolve?.()
    }
    if (k > 0) this.waiters.splice(0, k)
  }

  private refuse(token: ReplyTo | undefined): void {
    const err = this.closed && this.state < State.Stopping
      ? new ClosedError(`actor '${this.name}' is closed: it takes no more messages`)
      : new ActorStoppedError(`actor '${this.name}' has stopped (${describeReason(this.exitReason ?? 'stopped')})`)
    if (token) token.settle(false, err)
    else throw err
  }

  /** Stop once what is queued has been processed. */
  close(): void {
    if (this.closed || this.state >= State.Stopping) return
    this.closed = true
    // Queued behind every message sent so far (the outbox keeps order even before the host is up).
    this.out.post(K_CTL, { op: 'close' })
  }

  /** Stop after the current message; kills the thread/process if onStop takes longer than the grace period. */
  stop(reason: StopReason = 'stopped'): Promise<void> {
    if (this.state === State.Stopped) return Promise.resolve()
    const done = new Promise<void>((resolve) => this.stopWaiters.push(resolve))
    if (this.state === State.Stopping) return done
    const wasLocating = this.state === State.Locating
    this.state = State.Stopping
    if (wasLocating || !this.endpoint?.alive) { this.ended(reason); return done }
    // Behind what is already queued; a host still starting gets it with the rest once it is ready.
    this.out.post(K_CTL, { op: 'stop', reason: typeof reason === 'string' ? reason : toWireError(reason, placeLabel()) })
    this.killTimer = setTimeout(() => { void this.endpoint?.kill() }, STOP_GRACE_MS)
    this.pendingStopReason = reason
    return done
  }

  private pendingStopReason: StopReason | undefined

  /** Start a fresh instance: in the same thread/process if it is alive, otherwise in a new one. */
  restart(): void {
    if (this.state === State.Stopped) {
      this.exitReason = undefined
      this.closed = false
      register(this)
    }
    if (this.endpoint?.alive && this.state !== State.Stopped) {
      this.state = State.Running
      this.out.post(K_CTL, { op: 'restart' })
      this.out.resume()
      return
    }
    this.state = State.Restarting
    if (this.module) this.spawnHost()
  }

  /** Call `fn` when the actor ends. */
  onExit(fn: (reason: StopReason) => void): () => void {
    return this.exit.onExit(fn)
  }

  /** Resolves when ended normally, rejects with the crash error. */
  join(): Promise<void> {
    if (this.state === State.Stopped) return this.exitReason instanceof Error ? Promise.reject(this.exitReason) : Promise.resolve()
    return this.exit.wait()
  }

  /** Class, place, pid and state for supervision trees. */
  info(): EntityInfo {
    const state = this.state <= State.Starting ? 'starting' : this.state === State.Running ? 'running'
      : this.state === State.Suspended || this.state === State.Restarting ? 'restarting'
        : this.exitReason instanceof Error ? 'failed' : 'stopped'
    return { type: this.className, place: this.opts.on, pid: this.endpoint?.pid, state }
  }

  /** Counters kept here: messages in flight to the host count as queued. */
  stats(): MailboxStats {
    return { queued: Math.max(0, this.outstanding) + this.waiters.length, processed: this.processed, dropped: this.dropped + this.hostDropped }
  }

  // ---- failures and ends ----

  private failed(err: Error, answered = false, during?: string): void {
    if (this.state >= State.Stopping) return
    if (this.supervisor) {
      this.state = State.Suspended
      this.supervisor.childFailed(this, err, during)
      return
    }
    if (!answered && !this.exit.observed) warnCrash(this.name, err)
    void this.stop(err)
  }

  private hostStopped(reason: StopReason): void {
    // The host exits by itself once idle, which flushes its stdout; the actor has ended when it has gone.
    this.hostDone = this.pendingStopReason instanceof Error ? this.pendingStopReason : reason
    if (this.state < State.Stopping) this.state = State.Stopping
    clearTimeout(this.killTimer)
    this.killTimer = setTimeout(() => { void this.endpoint?.kill() }, EXIT_GRACE_MS)
  }

  private hostDone: StopReason | undefined

  private hostExited(ep: Endpoint, info: ExitInfo): void {
    if (ep !== this.endpoint) return
    const crash = crashError(this.name, this.opts.on, info)
    if (this.childPlace) removeChild(this.childPlace)
    this.rejectInflight(crash)
    if (this.state === State.Stopped) return
    if (this.hostDone !== undefined) { this.ended(this.hostDone); return }
    if (this.state === State.Stopping) { this.ended(this.pendingStopReason ?? 'stopped'); return }
    // Exited cleanly after close(), though the 'stopped' notice was lost with the channel.
    if (this.closed && info.exitCode === 0) { this.ended('normal'); return }
    // Restarting happens in a new thread/process; what was sent to the dead one is lost, what waits in the outbox is kept.
    this.out.paused = true
    this.outstanding = 0
    if (this.supervisor) {
      this.state = State.Suspended
      this.supervisor.childFailed(this, crash)
    } else this.ended(crash)
  }

  private rejectInflight(cause: Error): void {
    if (this.inflight.size === 0) return
    const err = new ActorStoppedError(`actor '${this.name}' died before answering: ${cause.message}`, { cause })
    for (const p of [...this.inflight]) p.fail(err)
  }

  private ended(reason: StopReason): void {
    if (this.state === State.Stopped && this.exitReason !== undefined) return
    this.state = State.Stopped
    this.exitReason = reason
    this.hostDone = undefined
    clearTimeout(this.killTimer)
    this.pendingStopReason = undefined
    unregister(this)
    if (this.childPlace) removeChild(this.childPlace)
    const err = new ActorStoppedError(`actor '${this.name}' stopped (${describeReason(reason)}) before answering`, reason instanceof Error ? { cause: reason } : undefined)
    this.rejectInflight(err)
    this.out.drainUnsent()
    for (const w of this.waiters) w.token ? w.token.fail(err) : w.reject!(err)
    this.waiters = []
    for (const r of this.stopWaiters) r()
    this.stopWaiters = []
    this.exit.fire(reason)
    this.supervisor?.childExited(this, reason)
  }
}
