import { assertNotBootstrapping, type Kind } from '../process/index.js'
import { optionsError } from '../timers.js'
import type { Actor, ActorClass, MessageOf, ReplyOf } from './actor.js'
import { LocalCell } from './cell.js'
import type { Entity, SupervisorHooks } from './entity.js'
import type { MailboxOptions } from './mailbox.js'
import { HostedActor } from './proxy.js'
import type { ActorRef } from './ref.js'
import './remote.js'
import './subjects.js'

/** Where an actor runs. */
export type Placement = 'local' | Kind

/** Options of `spawn`. */
export interface SpawnOptions<Args extends unknown[] = unknown[]> {
  /** `'local'` (default): this thread's event loop; `'thread'`: its own worker thread; `'process'`: its own child process. */
  on?: Placement
  /** A name for logs, errors and `this.name` (default: class name + counter). */
  name?: string
  /** Constructor arguments (must be sendable for `'thread'` / `'process'`). */
  args?: Args
  /** Ms without a message before `onTimeout()` runs (overrides the class's `receiveTimeout`). */
  receiveTimeout?: number
  /** Bounded mailbox: `{ capacity, overflow }` (default unbounded). */
  mailbox?: MailboxOptions
  /** `'pipe'` exposes the host thread/process's stdout/stderr instead of sharing ours (default `'inherit'`). */
  stdio?: 'inherit' | 'pipe'
}

let anon = 0

/** @internal Create the entity behind a ref (supervisors pass themselves as `supervisor`). */
export function spawnEntity(cls: ActorClass, opts: SpawnOptions<any[]> = {}, supervisor?: SupervisorHooks): Entity {
  if (typeof cls !== 'function') throw new TypeError('spawn() needs an Actor class')
  const bad = optionsError('spawn()', opts, '{ on?, name?, args?, ... }', 2, `write spawn(${cls.name || 'Actor'}, { on: '${String(opts)}' })`)
  if (bad) throw bad
  const on = opts.on ?? 'local'
  const args = opts.args ?? []
  if (on === 'local') return new LocalCell(cls as new (...a: any[]) => Actor<unknown>, args, { name: opts.name, receiveTimeout: opts.receiveTimeout, mailbox: opts.mailbox, supervisor })
  if (on !== 'thread' && on !== 'process') throw new TypeError(`spawn: 'on' must be 'local', 'thread' or 'process', got '${String(on)}'`)
  assertNotBootstrapping(`an actor on a ${on} (${cls.name || 'actor'})`)
  return new HostedActor(cls as new (...a: any[]) => Actor<unknown>, args, {
    on,
    name: opts.name ?? `${cls.name || 'actor'}-${on}-${++anon}`,
    receiveTimeout: opts.receiveTimeout,
    mailbox: opts.mailbox,
    supervisor,
    stdio: opts.stdio,
  })
}

/**
 * Start an actor and return its ref. `on: 'thread' | 'process'` hosts it in
 * its own worker thread or child process; the class must be exported from
 * its module (it is found with `locate`, nothing to write by hand). Messages
 * sent before the host is up are queued in order.
 */
export function spawn<C extends ActorClass>(cls: C, opts: SpawnOptions<ConstructorParameters<C>> = {}): ActorRef<MessageOf<InstanceType<C>>, ReplyOf<InstanceType<C>>> {
  return spawnEntity(cls, opts as SpawnOptions<any[]>).ref
}
