import { Queue, JoinableQueue } from './shared/queue.js'
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier } from './shared/sync.js'
import { Dict, List, Namespace, Value, SharedArray } from './shared/containers.js'
import type { ObjectRegistry } from './registry.js'

/** The shared types a `Manager` serves, by typeid (the names of Python's SyncManager). */
export const builtinFactories: Record<string, (...args: any[]) => unknown> = {
  Queue: (maxsize?: number) => new Queue(maxsize ?? 0),
  JoinableQueue: (maxsize?: number) => new JoinableQueue(maxsize ?? 0),
  dict: (init?: Iterable<[unknown, unknown]> | Record<string, unknown>) => new Dict(init),
  list: (init?: Iterable<unknown>) => new List(init),
  Namespace: (init?: Record<string, unknown>) => new Namespace(init),
  Lock: () => new Lock(),
  RLock: () => new RLock(),
  Semaphore: (value?: number) => new Semaphore(value ?? 1),
  BoundedSemaphore: (value?: number) => new BoundedSemaphore(value ?? 1),
  Event: () => new Event(),
  Condition: () => new Condition(),
  Barrier: (parties: number, timeout?: number) => new Barrier(parties, timeout),
  Value: (typecode: string, value: unknown) => new Value(typecode, value),
  Array: (typecode: string, init: Iterable<unknown> | number) => new SharedArray(typecode, init),
}

/** Register every built-in shared type on a registry. */
export function registerBuiltins(registry: ObjectRegistry): void {
  for (const [typeid, factory] of Object.entries(builtinFactories)) registry.register(typeid, { factory })
}
