import { portable, type Portable } from '../codec/index.js'
import { TimeoutError } from '../errors.js'
import { optionsError, withTimeout } from '../timers.js'
import type { StopReason } from './actor.js'
import type { Entity } from './entity.js'
import type { MailboxStats } from './mailbox.js'
import { Pending, type AskOptions } from './pending.js'

/** Options of `join`. */
export interface JoinOptions {
  /** Reject with TimeoutError after this many ms. */
  timeout?: number
}

/**
 * A reference to an actor, the same whether it runs here, in a worker
 * thread or in a child process. It can be put inside messages to actors
 * anywhere in the troupe and still works there.
 */
export interface ActorRef<Msg = unknown, Reply = unknown> {
  /** The actor's name. */
  readonly name: string
  /**
   * Fire and forget. Returns a promise only when a bounded mailbox with
   * `overflow: 'backpressure'` is full (resolves once the message is queued);
   * throws MailboxFullError under `'fail'`, ClosedError after `close()`,
   * ActorStoppedError once the actor has ended.
   */
  send(msg: Msg): void | Promise<void>
  /** Request/reply: resolves with what `receive` returned; rejects with its error, TimeoutError, AbortError, or ActorStoppedError if the actor ends first. */
  ask<R = Reply>(msg: Msg, opts?: AskOptions): Promise<R>
  /** Stop once everything already queued has been processed (seed 001's sentinel). */
  close(): void
  /** Stop after the current message; queued asks reject. Resolves once it has ended. */
  stop(): Promise<void>
  /** Resolves when the actor ends normally; rejects with the error that ended it. */
  join(opts?: JoinOptions): Promise<void>
  /** False once this place knows the actor ended. */
  readonly isAlive: boolean
  /** Why it ended, once known here. */
  readonly exitReason: StopReason | undefined
  /** Mailbox counters, when this place holds them (actors spawned from here). */
  stats(): MailboxStats | undefined
}

/**
 * Refs to actors that live elsewhere (another process, Redis) implement
 * `[WATCH](fn)`: call `fn` with the reason once the actor ends; returns a
 * function that stops watching. `watch()` uses it.
 */
export const WATCH: unique symbol = Symbol('troupe.watch')

/** A ref whose actor's end can be watched from here. */
export interface Watchable {
  [WATCH](fn: (reason: StopReason) => void): () => void
}

/** The portable type tag of an ActorRef. */
export const REF_TYPE = 'troupe.actor'

/** A ref to an entity of this place: calls go straight to its cell or proxy. */
export class LocalRef<Msg = unknown, Reply = unknown> implements ActorRef<Msg, Reply>, Portable {
  /** @internal */
  readonly entity: Entity

  constructor(entity: Entity) {
    this.entity = entity
  }

  /** The actor's name. */
  get name(): string {
    return this.entity.name
  }

  /** Fire and forget (see ActorRef.send). */
  send(msg: Msg): void | Promise<void> {
    return this.entity.tell(msg, undefined)
  }

  /** Request/reply (see ActorRef.ask). */
  ask<R = Reply>(msg: Msg, opts?: AskOptions): Promise<R> {
    const p = new Pending<R>(this.entity.name, opts)
    this.entity.tell(msg, p)
    return p.promise
  }

  /** Stop once what is queued has been processed. */
  close(): void {
    this.entity.close()
  }

  /** Stop after the current message. */
  stop(): Promise<void> {
    return this.entity.stop()
  }

  /** Wait for the end. */
  join(opts?: JoinOptions): Promise<void> {
    return joinWithin(this.entity.join(), opts, `join of actor '${this.entity.name}'`)
  }

  /** False once the actor has ended. */
  get isAlive(): boolean {
    return this.entity.alive
  }

  /** Why it ended, once it has. */
  get exitReason(): StopReason | undefined {
    return this.entity.exitReason
  }

  /** Mailbox counters. */
  stats(): MailboxStats | undefined {
    return this.entity.stats()
  }

  /** Describe this ref for another place. */
  [portable](): { type: string; data: unknown } {
    return { type: REF_TYPE, data: this.entity.address() }
  }

  /** Shows up in console.log as `ActorRef<name>`. */
  toString(): string {
    return `ActorRef<${this.entity.name}>`
  }
}

/** A join as users await it: bounded by `timeout` (TimeoutError), holding the place open until it settles. */
export function joinWithin<T>(p: Promise<T>, opts: JoinOptions | undefined, what: string): Promise<T> {
  const bad = optionsError('join()', opts, '{ timeout? }')
  if (bad) { p.catch(() => {}); return Promise.reject(bad) }
  const timeout = opts?.timeout
  return withTimeout(p, { timeout }, () => new TimeoutError(`${what} did not finish within ${timeout} ms`))
}
