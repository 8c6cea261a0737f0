import type { StopReason } from './actor.js'
import type { MailboxStats, ReplyTo } from './mailbox.js'
import type { ActorRef } from './ref.js'

/**
 * Where an actor can be reached from any place of this troupe: the place id
 * (a path in the spawn tree, `4711`, `4711/2`, `4711/2/1`) and the actor's id
 * in that place.
 */
export interface Address {
  place: string
  id: number
  name: string
  /** The place's gateway on the process router (for places the actor channels do not reach). */
  gw?: { place: string; id: number }
  /** The module that revives refs, for places that never imported it (the process router imports it first). */
  module?: string
}

/** What a supervisor hears from its children. */
export interface SupervisorHooks {
  /**
   * The child threw or its thread/process died; it is suspended, waiting for
   * `restart()` or `stop()`. `during` says what it was doing (`onStart()`,
   * `onTimeout()`, or the message as `describeMessage` puts it).
   */
  childFailed(child: Entity, err: Error, during?: string): void
  /** The child ended (closed, stopped, or stopped after a failure). */
  childExited(child: Entity, reason: StopReason): void
}

/**
 * Anything an ActorRef can point at in this place: an actor running here
 * (a cell), the stand-in for an actor hosted in a child thread/process (a
 * proxy), or a supervisor.
 */
export interface Entity {
  readonly id: number
  readonly name: string
  /** The one local ref for this entity. */
  readonly ref: ActorRef<any, any>
  /** Where other places reach it. */
  address(): Address
  /** Queue a message; `token` answers an ask. Throws (or rejects `token`) when refused. */
  tell(msg: unknown, token: ReplyTo | undefined): void | Promise<void>
  /** Stop once what is queued has been processed. */
  close(): void
  /** Stop after the current message; resolves once ended. */
  stop(reason?: StopReason): Promise<void>
  /** Start again with a fresh instance (supervisors only); the mailbox is kept. */
  restart(): void
  readonly alive: boolean
  /** Why it ended, once it has. */
  readonly exitReason: StopReason | undefined
  /** Call `fn` when it ends; returns a function that removes the hook. */
  onExit(fn: (reason: StopReason) => void): () => void
  /** Resolves when ended normally, rejects with the crash error. */
  join(): Promise<void>
  supervisor: SupervisorHooks | undefined
  stats(): MailboxStats | undefined
  /** What a supervision tree shows about it (dashboards). */
  info?(): EntityInfo
}

/** An entity's kind, where it runs and its state, for supervision trees. */
export interface EntityInfo {
  /** The actor class name (`'Supervisor'` for supervisors). */
  type: string
  place: 'local' | 'thread' | 'process'
  pid?: number
  state: 'starting' | 'running' | 'restarting' | 'stopped' | 'failed'
}

let nextId = 1
const entities = new Map<number, Entity>()
// A hosted actor answers to its spawner's stand-in address too, so `self` survives restarts.
const aliases = new Map<string, Entity>()

/** A fresh entity id in this place. */
export function allocateId(): number {
  return nextId++
}

/** Make an entity reachable by id from other places. */
export function register(e: Entity): void {
  entities.set(e.id, e)
}

/** Forget an entity that ended. */
export function unregister(e: Entity): void {
  if (entities.get(e.id) === e) entities.delete(e.id)
}

/** The entity with this id in this place. */
export function lookup(id: number): Entity | undefined {
  return entities.get(id)
}

/** Let `e` answer to an address of another place (its spawner's stand-in). */
export function setAlias(addr: { place: string; id: number }, e: Entity): void {
  aliases.set(`${addr.place}#${addr.id}`, e)
}

/** The entity here that answers to another place's address, if any. */
export function aliasFor(addr: { place: string; id: number }): Entity | undefined {
  return aliases.get(`${addr.place}#${addr.id}`)
}

/** How many entities are alive in this place (for tests and diagnostics). */
export function liveEntities(): number {
  return entities.size
}

/** A short text for a stop reason. */
export function describeReason(reason: StopReason | undefined): string {
  if (reason === undefined) return 'unknown'
  return typeof reason === 'string' ? reason : `${reason.name}: ${reason.message}`
}

/** Turn anything thrown into an Error. */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(`non-Error value thrown: ${String(err)}`)
}

/** A message as a crash report names it: its `type` field, its class, or a short literal. */
export function describeMessage(msg: unknown): string {
  if (msg === null || msg === undefined) return `message ${String(msg)}`
  if (typeof msg === 'object') {
    const type = (msg as { type?: unknown }).type
    if (typeof type === 'string') return `message of type '${type}'`
    const cls = Object.getPrototypeOf(msg)?.constructor?.name
    return cls && cls !== 'Object' ? `a ${cls} message` : 'an object message'
  }
  if (typeof msg === 'string') return msg.length <= 40 ? `message ${JSON.stringify(msg)}` : 'a string message'
  return `a ${typeof msg} message`
}

/** Report an unsupervised actor's crash that no asker, watcher or joiner will see. */
export function warnCrash(name: string, err: Error): void {
  process.emitWarning(`actor '${name}' crashed and stopped: ${err.stack ?? `${err.name}: ${err.message}`}`, { code: 'TROUPE_ACTOR_CRASHED' })
}
