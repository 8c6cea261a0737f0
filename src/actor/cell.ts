import { ActorStoppedError, ClosedError, MailboxFullError } from '../errors.js'
import { constructActor, type Actor, type ActorContext, type ActorHooks, type Cancel, type ReplyHandle, type StopReason } from './actor.js'
import { schedule, type Runnable } from './dispatcher.js'
import { allocateId, asError, describeMessage, describeReason, register, unregister, warnCrash, type Address, type Entity, type EntityInfo, type SupervisorHooks } from './entity.js'
import { Mailbox, type MailboxOptions, type MailboxStats, type ReplyTo } from './mailbox.js'
import { localAddress } from './router.js'
import { LocalRef, type ActorRef } from './ref.js'
import { cancel, schedule as scheduleTimer, scheduleAt, isScheduled, type Timed } from '../timers.js'
import { watch } from './watch.js'
import { ExitSignal } from './exit.js'

const enum State { Starting, Running, Suspended, Stopping, Stopped }

// Sentinels travel through the mailbox so they keep their place in line.
const CLOSE = Symbol('close')
const TIMEOUT = Symbol('receive-timeout')
const STARTING = Symbol('starting')

interface Waiter { msg: unknown; token: ReplyTo | undefined; resolve?: () => void; reject?: (e: unknown) => void }

/** How a cell is set up. */
export interface CellOptions {
  name?: string
  receiveTimeout?: number
  mailbox?: MailboxOptions
  supervisor?: SupervisorHooks
  /** The address other places know this actor by (a hosted actor's stand-in in its spawner). */
  alias?: Address
  /** What `this.self` is when another ref stands for the actor (a Redis actor's durable ref); default the cell's own ref. */
  selfRef?: ActorRef<any, any>
  /**
   * Asked before each message (with its reply token) and receive timeout is
   * handed to the actor; false puts it back and suspends the cell, for its
   * host to stop it (a Redis host whose lease is no longer sure).
   */
  admit?: (token: ReplyTo | undefined) => boolean
}

let anon = 0

function thenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function'
}

/**
 * Runs one actor in this thread: owns its mailbox, calls `receive` one
 * message at a time from the dispatcher, answers asks, arms the receive
 * timeout, and reports failures to its supervisor (or ends).
 */
export class LocalCell implements Entity, Runnable, ActorContext {
  readonly id = allocateId()
  readonly name: string
  readonly ref: LocalRef<any, any>
  queued = false
  /** Called after each drain pass (an actor host uses it to return mailbox credit to its spawner). */
  onDrained: (() => void) | undefined
  supervisor: SupervisorHooks | undefined
  exitReason: StopReason | undefined
  private readonly mb: Mailbox
  private instance: (Actor<unknown> & ActorHooks) | undefined
  private state = State.Starting
  // True whenever the dispatcher must not call receive: starting, awaiting an async receive, suspended, ending.
  private busy = true
  private closed = false
  private inFlight = false
  private token: ReplyTo | undefined
  private replyTaken = false
  private after: (() => void) | undefined
  private waiters: Waiter[] = []
  private readonly timeoutOverride: number | undefined
  private lastActive = 0
  private readonly idle: Timed
  private readonly timers = new Set<Timed>()
  private readonly watching = new Map<ActorRef<any, any>, Cancel>()
  private readonly exit = new ExitSignal()
  private readonly alias: Address | undefined
  private readonly self: ActorRef<any, any> | undefined
  private readonly admit: ((token: ReplyTo | undefined) => boolean) | undefined
  private closeReason: StopReason = 'normal'

  constructor(private readonly cls: new (...args: any[]) => Actor<unknown>, private readonly args: readonly unknown[], opts: CellOptions = {}) {
    this.name = opts.name ?? `${cls.name || 'actor'}-${++anon}`
    this.mb = new Mailbox(opts.mailbox)
    this.timeoutOverride = opts.receiveTimeout
    this.supervisor = opts.supervisor
    this.alias = opts.alias
    this.self = opts.selfRef
    this.admit = opts.admit
    this.ref = new LocalRef(this)
    this.idle = { slot: -1, at: 0, fire: () => this.idleFired() }
    register(this)
    this.boot()
  }

  // ---- Entity ----

  /** Where other places reach this actor. */
  address(): Address {
    return this.alias ?? localAddress(this.id, this.name)
  }

  /** False once ended. */
  get alive(): boolean {
    return this.state !== State.Stopped
  }

  /** Queue a message (the hot path: no allocation once the ring has grown). */
  tell(msg: unknown, token: ReplyTo | undefined): void | Promise<void> {
    if (this.closed || this.state >= State.Stopping) return this.refuse(token)
    const mb = this.mb
    if (mb.size >= mb.capacity || this.waiters.length > 0) return this.overflow(msg, token)
    mb.push(msg, token)
    if (!this.busy && !this.queued) schedule(this)
  }

  /** Stop once what is queued has been processed (ending with `reason`, default 'normal'). */
  close(reason: StopReason = 'normal'): void {
    if (this.closed || this.state >= State.Stopping) return
    this.closed = true
    this.closeReason = reason
    this.mb.push(CLOSE, undefined)
    if (!this.busy && !this.queued) schedule(this)
  }

  /** Stop after the current message. */
  stop(reason: StopReason = 'stopped'): Promise<void> {
    if (this.state === State.Stopped) return Promise.resolve()
    const done = this.exit.wait().catch(() => {})
    if (this.state !== State.Stopping) {
      this.state = State.Stopping
      this.busy = true
      if (this.inFlight) this.after = () => this.terminate(reason)
      else this.terminate(reason)
    }
    return done
  }

  /** Start again with a fresh instance, keeping the mailbox (called by a supervisor). */
  restart(): void {
    if (this.state === State.Stopped) {
      // A permanent child that ended normally comes back under the same ref.
      this.exitReason = undefined
      this.closed = false
      register(this)
    }
    this.state = State.Starting
    this.busy = true
    if (this.inFlight) this.after = () => this.restartNow()
    else this.restartNow()
  }

  /** Call `fn` when this actor ends. */
  onExit(fn: (reason: StopReason) => void): () => void {
    return this.exit.onExit(fn)
  }

  /** Resolves when ended normally, rejects with the crash error. */
  join(): Promise<void> {
    if (this.state === State.Stopped) return this.exitReason instanceof Error ? Promise.reject(this.exitReason) : Promise.resolve()
    return this.exit.wait()
  }

  /** Mailbox counters. */
  stats(): MailboxStats {
    return this.mb.stats()
  }

  /** Class, place and state for supervision trees. */
  info(): EntityInfo {
    const state = this.state === State.Starting ? 'starting' : this.state === State.Running ? 'running'
      : this.state === State.Suspended ? 'restarting' : this.exitReason instanceof Error ? 'failed' : 'stopped'
    return { type: this.cls.name || 'Actor', place: 'local', pid: process.pid, state }
  }

  // ---- ActorContext (what `this.` gives the actor) ----

  /** `this.self` of the actor. */
  get selfRef(): ActorRef<any, any> {
    return this.self ?? this.ref
  }

  /** `this.name` of the actor. */
  get actorName(): string {
    return this.name
  }

  /** Take over the current ask's answer. */
  deferReply(): ReplyHandle<any> {
    if (!this.inFlight) throw new Error('deferReply() can only be called while receive() handles a message')
    const token = this.token
    this.replyTaken = true
    return {
      resolve: (v) => token?.settle(true, v),
      reject: (e) => token?.settle(false, e),
    }
  }

  /** Send `msg` to self after `ms`. */
  scheduleSelf(ms: number, msg: unknown): Cancel {
    const t: Timed = {
      slot: -1,
      at: 0,
      fire: () => {
        this.timers.delete(t)
        if (this.state < State.Stopping && !this.closed) void this.tell(msg, undefined)
      },
    }
    this.timers.add(t)
    scheduleTimer(t, ms, true)
    return () => { this.timers.delete(t); cancel(t) }
  }

  /** Death watch for the actor's own code. */
  watchRef(ref: ActorRef<any, any>): void {
    if (this.watching.has(ref)) return
    this.watching.set(ref, watch(ref, this.ref))
  }

  /** Undo `watchRef`. */
  unwatchRef(ref: ActorRef<any, any>): void {
    this.watching.get(ref)?.()
    this.watching.delete(ref)
  }

  /** `this.stop()` inside the actor. */
  stopSelf(): void {
    void this.stop('stopped')
  }

  /** `this.close()` inside the actor. */
  closeSelf(): void {
    this.close()
  }

  /** Nothing queued and nothing being processed (a thread host may then block briefly for the next message). */
  get isIdle(): boolean {
    return !this.busy && this.mb.size === 0 && this.state === State.Running
  }

  // ---- the loop ----

  /** Process up to `budget` messages (called by the dispatcher). */
  drain(budget: number): number {
    const mb = this.mb
    const inst = this.instance!
    const admit = this.admit
    let n = 0
    while (n < budget && mb.size > 0 && !this.busy) {
      const msg = mb.shift()
      const token = mb.lastToken
      if (admit !== undefined && !admit(token)) { mb.unshift(msg, token); this.busy = true; break }
      n++
      let r: unknown
      this.inFlight = true
      this.token = token
      this.replyTaken = false
      try {
        if (msg === CLOSE) { this.inFlight = false; this.token = undefined; void this.stop(this.closeReason); break }
        r = msg === TIMEOUT ? inst.onTimeout?.() : inst.receive(msg)
      } catch (err) {
        this.inFlight = false
        this.token = undefined
        this.failed(err, token, msg)
        break
      }
      if (thenable(r)) { this.awaitResult(r, token, msg); break }
      this.inFlight = false
      this.token = undefined
      if (token !== undefined && !this.replyTaken) token.settle(true, r)
      if (this.after) { this.runAfter(); break }
    }
    if (this.waiters.length > 0) this.admitWaiters()
    if (!this.busy) {
      if (mb.size > 0) { if (!this.queued) schedule(this) }
      else if (this.instance?.receiveTimeout) this.armIdle()
    }
    if (this.onDrained) this.onDrained()
    return n
  }

  private awaitResult(r: PromiseLike<unknown>, token: ReplyTo | undefined, msg: unknown): void {
    this.busy = true
    r.then((v) => {
      this.inFlight = false
      this.token = undefined
      if (token !== undefined && !this.replyTaken) token.settle(true, v)
      this.resume()
      if (this.onDrained) this.onDrained()
    }, (err) => {
      this.inFlight = false
      this.token = undefined
      this.failed(err, token, msg)
    })
  }

  private resume(): void {
    if (this.after) return this.runAfter()
    if (this.state !== State.Running) return
    this.busy = false
    if (this.waiters.length > 0) this.admitWaiters()
    if (this.mb.size > 0) { if (!this.queued) schedule(this) }
    else if (this.instance?.receiveTimeout) this.armIdle()
  }

  private runAfter(): void {
    const f = this.after!
    this.after = undefined
    f()
  }

  private refuse(token: ReplyTo | undefined): void {
    const err = this.closed && this.state < State.Stopping
      ? new ClosedError(`actor '${this.name}' is closed: it takes no more messages`)
      : new ActorStoppedError(`actor '${this.name}' has stopped (${describeReason(this.exitReason ?? 'stopped')})`)
    if (token) token.settle(false, err)
    else throw err
  }

  private overflow(msg: unknown, token: ReplyTo | undefined): void | Promise<void> {
    const mb = this.mb
    switch (mb.overflow) {
      case 'fail': {
        mb.dropped++
        const err = new MailboxFullError(`mailbox of actor '${this.name}' is full (capacity ${mb.capacity})`)
        if (token) return token.settle(false, err)
        throw err
      }
      case 'drop-newest':
        mb.dropped++
        token?.settle(false, new MailboxFullError(`mailbox of actor '${this.name}' is full (capacity ${mb.capacity}); the message was dropped`))
        return
      case 'drop-oldest': {
        const old = mb.dropOldest()
        old?.settle(false, new MailboxFullError(`mailbox of actor '${this.name}' is full (capacity ${mb.capacity}); the message was dropped`))
        mb.push(msg, token)
        if (!this.busy && !this.queued) schedule(this)
        return
      }
      default:
        // Backpressure: the message waits outside the mailbox, in order, until there is room.
        if (token) { this.waiters.push({ msg, token }); return }
        return new Promise<void>((resolve, reject) => this.waiters.push({ msg, token, resolve, reject }))
    }
  }

  private admitWaiters(): void {
    const mb = this.mb
    let k = 0
    while (k < this.waiters.length && mb.size < mb.capacity) {
      const w = this.waiters[k++]!
      mb.push(w.msg, w.token)
      w.resolve?.()
    }
    if (k > 0) this.waiters.splice(0, k)
    if (k > 0 && !this.busy && !this.queued) schedule(this)
  }

  // ---- lifecycle ----

  private boot(): void {
    this.state = State.Starting
    this.busy = true
    let inst: Actor<unknown> & ActorHooks
    try {
      inst = constructActor(this, this.cls, this.args) as Actor<unknown> & ActorHooks
      if (this.timeoutOverride !== undefined) inst.receiveTimeout = this.timeoutOverride
      this.instance = inst
      this.inFlight = true
      const r = inst.onStart?.()
      if (thenable(r)) {
        r.then(() => { this.inFlight = false; this.started() }, (err) => { this.inFlight = false; this.failed(err, undefined, STARTING) })
        return
      }
      this.inFlight = false
    } catch (err) {
      this.inFlight = false
      this.failed(err, undefined, STARTING)
      return
    }
    this.started()
  }

  private started(): void {
    if (this.after) return this.runAfter()
    if (this.state !== State.Starting) return
    this.state = State.Running
    this.lastActive = performance.now()
    this.resume()
  }

  private restartNow(): void {
    this.cancelTimers()
    const old = this.instance
    this.instance = undefined
    if (old?.onStop) {
      try {
        const r = old.onStop('restart')
        if (thenable(r)) { r.then(() => this.boot(), () => this.boot()); return }
      } catch { /* the old instance is discarded either way */ }
    }
    this.boot()
  }

  // `msg` is what it was handling: a message, TIMEOUT (onTimeout) or STARTING (onStart).
  private failed(err: unknown, token: ReplyTo | undefined, msg: unknown): void {
    const error = asError(err)
    token?.settle(false, error)
    if (this.state >= State.Stopping) {
      if (this.after) this.runAfter()
      return
    }
    this.lastFailureAnswered = token !== undefined
    if (this.supervisor) {
      this.state = State.Suspended
      this.busy = true
      this.after = undefined
      this.supervisor.childFailed(this, error, msg === STARTING ? 'onStart()' : msg === TIMEOUT ? 'onTimeout()' : describeMessage(msg))
    } else {
      // Nobody hears a crash caused by a plain send unless something watches: say it, like Erlang's crash report.
      if (!token && !this.exit.observed) warnCrash(this.name, error)
      this.state = State.Stopping
      this.busy = true
      this.terminate(error)
    }
  }

  /** Whether the last failure was answered to an asker (it was thrown while handling an ask). */
  lastFailureAnswered = false

  private terminate(reason: StopReason): void {
    this.cancelTimers()
    const inst = this.instance
    this.instance = undefined
    let r: unknown
    try {
      r = inst?.onStop?.(reason)
    } catch { /* onStop's failure does not change why the actor ended */ }
    if (thenable(r)) r.then(() => this.ended(reason), () => this.ended(reason))
    else this.ended(reason)
  }

  private ended(reason: StopReason): void {
    this.state = State.Stopped
    this.exitReason = reason
    this.busy = true
    unregister(this)
    const err = new ActorStoppedError(`actor '${this.name}' stopped (${describeReason(reason)}) before answering`, reason instanceof Error ? { cause: reason } : undefined)
    for (const t of this.mb.clear()) t.settle(false, err)
    for (const w of this.waiters) w.token ? w.token.settle(false, err) : w.reject!(err)
    this.waiters = []
    for (const cancel of this.watching.values()) cancel()
    this.watching.clear()
    this.exit.fire(reason)
    this.supervisor?.childExited(this, reason)
  }

  private cancelTimers(): void {
    cancel(this.idle)
    for (const t of this.timers) cancel(t)
    this.timers.clear()
  }

  // ---- receive timeout ----

  private armIdle(): void {
    this.lastActive = performance.now()
    if (isScheduled(this.idle) || !this.instance?.onTimeout) return
    scheduleAt(this.idle, this.lastActive + this.instance.receiveTimeout!)
  }

  private idleFired(): void {
    const ms = this.instance?.receiveTimeout
    if (!ms || this.state !== State.Running) return
    // Still working, or messages arrived: the drain re-arms when it goes idle again.
    if (this.busy || this.mb.size > 0) return
    const due = this.lastActive + ms
    if (performance.now() + 1 < due) {
      scheduleAt(this.idle, due)
      return
    }
    this.mb.push(TIMEOUT, undefined)
    if (!this.queued) schedule(this)
  }
}
