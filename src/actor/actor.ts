import type { ActorRef } from './ref.js'

/**
 * Why an actor ended: `'normal'` after `close()` drained its mailbox,
 * `'stopped'` after `stop()`, or the Error that crashed it (a throw from
 * `receive`, a dead thread/process, a supervisor that gave up).
 */
export type StopReason = 'normal' | 'stopped' | Error

/** The death-watch notice `watch(ref)` delivers to the watching actor. */
export interface Terminated {
  type: 'troupe.terminated'
  /** The actor that ended. */
  ref: ActorRef<any, any>
  /** Why it ended. */
  reason: StopReason
}

/** True when a message is a death-watch notice. */
export function isTerminated(msg: unknown): msg is Terminated {
  return typeof msg === 'object' && msg !== null && (msg as Terminated).type === 'troupe.terminated'
}

/** Answers the current ask later, from anywhere in this place (`this.deferReply()`). */
export interface ReplyHandle<R = unknown> {
  /** Answer the ask with a value. */
  resolve(value: R): void
  /** Answer the ask with an error. */
  reject(err: unknown): void
}

/** Cancels something scheduled. */
export type Cancel = () => void

/** What the runtime gives an actor instance (implemented by the cell that runs it). */
export interface ActorContext {
  readonly selfRef: ActorRef<any, any>
  readonly actorName: string
  deferReply(): ReplyHandle<any>
  scheduleSelf(ms: number, msg: unknown): Cancel
  watchRef(ref: ActorRef<any, any>): void
  unwatchRef(ref: ActorRef<any, any>): void
  stopSelf(): void
  closeSelf(): void
}

/** Internal slot holding the context of an actor instance. */
export const CONTEXT: unique symbol = Symbol('troupe.actor.context')

let constructing: ActorContext | undefined

/** Construct an actor instance bound to its runtime context (the only way actors are made). */
export function constructActor<A>(ctx: ActorContext, cls: new (...args: any[]) => A, args: readonly unknown[]): A {
  const prev = constructing
  constructing = ctx
  try {
    return new cls(...args)
  } finally {
    constructing = prev
  }
}

/**
 * Base class of every actor. Write `receive(msg)` (sync or async); what it
 * returns answers an `ask`. The runtime calls it one message at a time, in
 * FIFO order per sender, and owns the loop, the mailbox and the timers.
 * Optional hooks (plain methods, no `override` needed; see ActorHooks):
 * `onStart()`, `onStop(reason)`, and `onTimeout()` which runs after
 * `receiveTimeout` ms without a message (again every `receiveTimeout` ms
 * while idle). Create actors with `spawn(MyActor, options)`, never `new`.
 */
export abstract class Actor<Msg = unknown> {
  /** Ms without a message before `onTimeout()` runs; set it any time (undefined or 0 turns it off). */
  receiveTimeout?: number
  private readonly [CONTEXT]: ActorContext

  constructor() {
    if (!constructing) throw new TypeError(`${new.target.name} is an Actor: create it with spawn(${new.target.name}, options), not with new`)
    this[CONTEXT] = constructing
  }

  /** Handle one message; the value returned (or resolved) answers an `ask`. A throw crashes the actor (its supervisor restarts it). */
  abstract receive(msg: Msg): unknown

  /** This actor's own reference, to put in messages or subscriptions; it works from any place. */
  get self(): ActorRef<Msg> {
    return this[CONTEXT].selfRef
  }

  /** The name given at spawn (or a generated one). */
  get name(): string {
    return this[CONTEXT].actorName
  }

  /** Take over answering the current ask: `receive`'s return value is then ignored and the handle answers. */
  deferReply<R = unknown>(): ReplyHandle<R> {
    return this[CONTEXT].deferReply()
  }

  /** Send `msg` to this actor after `ms` ms (through the shared timer; cancelled when the actor stops or restarts). */
  schedule(ms: number, msg: Msg): Cancel {
    return this[CONTEXT].scheduleSelf(ms, msg)
  }

  /** Death watch: when `ref` ends, this actor receives a `Terminated` notice with the reason. */
  watch(ref: ActorRef<any, any>): void {
    this[CONTEXT].watchRef(ref)
  }

  /** Stop watching `ref`. */
  unwatch(ref: ActorRef<any, any>): void {
    this[CONTEXT].unwatchRef(ref)
  }

  /** Stop after the current message; what is still queued is dropped (asks among it reject). */
  stop(): void {
    this[CONTEXT].stopSelf()
  }

  /** Stop once every message already queued has been processed. */
  close(): void {
    this[CONTEXT].closeSelf()
  }
}

/** The optional lifecycle methods an actor may define (looked up at run time). */
export interface ActorHooks {
  /** Runs before the first message (again after each restart). */
  onStart?(): unknown
  /** Runs once when the actor ends (and on the old instance before a restart, with `'restart'`). */
  onStop?(reason: StopReason | 'restart'): unknown
  /** Runs after `receiveTimeout` ms without a message. */
  onTimeout?(): unknown
}

/** A concrete actor class with its constructor arguments. */
export type ActorClass<A extends Actor<any> = Actor<any>, Args extends unknown[] = any[]> = new (...args: Args) => A

/** The message type of an actor class's instances. */
export type MessageOf<A> = A extends { receive(msg: infer M): unknown } ? M : never

/** The answer type of an actor's `receive`. */
export type ReplyOf<A> = A extends { receive(msg: any): infer R } ? Awaited<R> : never
