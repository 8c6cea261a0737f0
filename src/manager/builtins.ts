import { Queue, JoinableQueue } from './shared/queue.js'
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier } from './shared/sync.js'
import { Dict, List, Namespace, Value, SharedArray } from './shared/containers.js'
import type { ObjectRegistry, TypeSpec } from './registry.js'
import type { Signature } from './arguments.js'

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

const queue: Record<string, Signature> = {
  qsize: [], empty: [], full: [], stats: [], closed: [], close: [], purge: [],
  put: ['any', 'opts?'], putNowait: ['any'], putMany: ['array', 'opts?'], get: ['opts?'], getNowait: [],
  getMany: ['count', 'opts?'], returnItems: ['array'],
}
const acquire: Signature = ['opts?']
// A get whose reply cannot be delivered puts its items back at the front, in order.
const giveBack = { get: { via: 'returnItems', many: false }, getNowait: { via: 'returnItems', many: false }, getMany: { via: 'returnItems', many: true } }

/**
 * What each built-in type's factory and methods accept (arguments.ts), checked
 * by the registry before the call. RLock's exposed list leaves out the helpers
 * Condition uses (a client must not restore a lock into another's hands).
 */
export const builtinSpecs: Record<string, Omit<TypeSpec, 'factory'>> = {
  Queue: { createSignature: ['count?'], signatures: queue, giveBack },
  JoinableQueue: {
    createSignature: ['count?'],
    giveBack,
    signatures: { ...queue, taskDone: ['count?'], taskDoneBatch: ['count'], unfinishedTasks: [], join: ['opts?'] },
  },
  dict: {
    createSignature: ['entries?'],
    signatures: {
      get: ['any', 'any?'], set: ['any', 'any'], has: ['any'], delete: ['any'], pop: ['any', 'any?'], setdefault: ['any', 'any'],
      increment: ['any', 'number?'], update: ['entries'], keys: [], values: [], items: [], size: [], clear: [], copy: [], toObject: [],
    },
  },
  list: {
    createSignature: ['array?'],
    signatures: {
      get: ['index'], set: ['index', 'any'], append: ['any'], extend: ['array'], insert: ['index', 'any'], pop: ['index?'],
      remove: ['any'], index: ['any'], count: ['any'], reverse: [], sort: ['object?'], slice: ['index?', 'index?'],
      length: [], clear: [], toArray: [],
    },
  },
  Namespace: { createSignature: ['object?'], signatures: { get: ['string'], set: ['string', 'any'], delete: ['string'], has: ['string'], toObject: [] } },
  Lock: { createSignature: [], signatures: { acquire, release: [], locked: [] } },
  RLock: { createSignature: [], exposed: ['acquire', 'release', 'locked'], signatures: { acquire, release: [], locked: [] } },
  Semaphore: { createSignature: ['count?'], signatures: { acquire, release: ['count?'], getValue: [] } },
  BoundedSemaphore: { createSignature: ['count?'], signatures: { acquire, release: ['count?'], getValue: [] } },
  Event: { createSignature: [], signatures: { set: [], clear: [], isSet: [], wait: ['opts?'] } },
  Condition: { createSignature: [], signatures: { acquire, release: [], wait: ['opts?'], notify: ['count?'], notifyAll: [] } },
  Barrier: { createSignature: ['count', 'number?'], signatures: { wait: ['opts?'], abort: [], reset: [], parties: [], nWaiting: [], broken: [] } },
  Value: { createSignature: ['string', 'any'], signatures: { get: [], set: ['any'], increment: ['number?'] } },
  Array: { createSignature: ['string', 'array|size'], signatures: { get: ['index'], set: ['index', 'any'], length: [], slice: ['index?', 'index?'], toArray: [] } },
}

/** Register every built-in shared type on a registry. */
export function registerBuiltins(registry: ObjectRegistry): void {
  for (const [typeid, factory] of Object.entries(builtinFactories)) registry.register(typeid, { factory, ...builtinSpecs[typeid] })
}
