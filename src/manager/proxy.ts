import { portable, registerPortable, type Portable } from '../codec/index.js'
import { ClosedError } from '../errors.js'
import { parseAddress } from '../net/index.js'
import type { ManagerClient } from './client.js'
import { ManagerClient as Client } from './client.js'

/** What identifies a server object. */
export interface ProxyInfoFull { typeid: string; ident: string; exposed: readonly string[] }

const STATE = Symbol('troupe.manager.proxy')
const PORTABLE_TYPE = 'troupe.manager.proxy'

interface State extends ProxyInfoFull { client: ManagerClient; released: boolean }

type Fn = (...a: any[]) => any
type Remote<F> = F extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never
type MethodKeys<T> = { [K in keyof T]: K extends string ? (T[K] extends Fn ? (K extends `_${string}` | 'then' ? never : K) : never) : never }[keyof T]

/** What every proxy has besides the object's methods. */
export interface ProxyHandle {
  /** Drop this proxy's reference on the server (also happens when it is garbage-collected or its client disconnects). */
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * The proxy of a server object of type T: every public method of T, async.
 * A proxy of a `Queue<number>` has `put(item: number, opts?) => Promise<void>`,
 * and queues are async-iterable.
 */
export type Proxied<T> = { [K in MethodKeys<T>]: Remote<T[K]> } & ProxyHandle &
  (T extends { getMany(max: number, ...rest: any[]): any } ? AsyncIterable<T extends { get(...a: any[]): infer R } ? Awaited<R> : unknown> : unknown)

// Each proxy holds one server reference; when it is garbage-collected, the reference is dropped.
const finalizer = new FinalizationRegistry<{ client: ManagerClient; ident: string }>(({ client, ident }) => client.decrefSoon(ident))

/** How many items a `for await` loop over a queue proxy fetches per request. */
export const ITERATION_PREFETCH = 512

class ProxyBase implements Portable {
  declare [STATE]: State

  [portable](): { type: string; data: unknown } {
    const s = this[STATE]
    return {
      type: PORTABLE_TYPE,
      // The key travels with the reference, as Python's proxies carry their manager's authkey to child processes.
      data: {
        address: s.client.label, serverId: s.client.serverId, authkey: s.client.authkey.toString('hex'), dialect: s.client.dialect,
        typeid: s.typeid, ident: s.ident, exposed: s.exposed,
      },
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    releaseProxy(this)
  }

  get [Symbol.toStringTag](): string {
    const s = this[STATE]
    return `Proxy ${s.typeid} ${s.ident} @ ${s.client.label}`
  }
}

/** Build a proxy for a server object. Exposed method names become async methods. */
export function makeProxy<T = any>(client: ManagerClient, info: ProxyInfoFull): Proxied<T> {
  const p = Object.create(ProxyBase.prototype) as ProxyBase & Record<string, unknown>
  const state: State = { ...info, client, released: false }
  Object.defineProperty(p, STATE, { value: state })
  const ident = info.ident
  for (const name of info.exposed) {
    // `then` would make the proxy look like a promise to `await`.
    if (name === 'then') continue
    p[name] = (...args: unknown[]) => client.call(ident, name, args)
  }
  // Plain puts and taskDones may be merged on the wire when the server object can take them in bulk.
  if (info.exposed.includes('put') && info.exposed.includes('putMany')) {
    p.put = (...args: unknown[]) => client.call(ident, 'put', args, args.length === 1 ? 'putMany' : undefined)
  }
  if (info.exposed.includes('taskDone') && info.exposed.includes('taskDoneBatch')) {
    p.taskDone = (...args: unknown[]) => client.call(ident, 'taskDone', args, args.length === 0 ? 'taskDone' : undefined)
  }
  if (info.exposed.includes('getMany')) Object.defineProperty(p, Symbol.asyncIterator, { value: () => iterate(client, ident) })
  finalizer.register(p, { client, ident }, p)
  return p as unknown as Proxied<T>
}

/**
 * Consume a queue proxy with `for await`: fetch up to ITERATION_PREFETCH items
 * per round trip, with the next request already in flight while the current
 * batch is consumed (so the consumer never waits a full round trip between
 * batches); stop when the queue is closed and drained; when the loop stops
 * early, cancel the request in flight and put back every unused item.
 */
async function* iterate(client: ManagerClient, ident: string): AsyncGenerator<unknown> {
  let batch: unknown[] = []
  let i = 0
  let ahead: { promise: Promise<unknown[]>; abort: AbortController } | undefined
  const fetch = () => {
    const abort = new AbortController()
    const promise = client.call(ident, 'getMany', [ITERATION_PREFETCH, { signal: abort.signal }]) as Promise<unknown[]>
    promise.catch(() => {})
    return { promise, abort }
  }
  try {
    for (;;) {
      if (i >= batch.length) {
        const req = ahead ?? fetch()
        ahead = undefined
        try {
          batch = await req.promise
        } catch (err) {
          if (err instanceof ClosedError) return
          throw err
        }
        i = 0
        // A full batch means more is probably waiting: ask for it now, while this one is consumed.
        if (batch.length >= ITERATION_PREFETCH) ahead = fetch()
      }
      yield batch[i++]
    }
  } finally {
    const unused = batch.slice(i)
    if (ahead) {
      ahead.abort.abort()
      try { unused.push(...await ahead.promise) } catch { /* cancelled before it took anything */ }
    }
    if (unused.length) await client.call(ident, 'returnItems', [unused]).catch(() => {})
  }
}

/** The typeid, ident and exposed methods of a proxy; undefined for anything else. */
export function proxyInfo(p: unknown): (ProxyInfoFull & { address: string }) | undefined {
  const s = (p as ProxyBase | undefined)?.[STATE]
  return s ? { typeid: s.typeid, ident: s.ident, exposed: s.exposed, address: s.client.label } : undefined
}

/** Whether a value is a manager proxy. */
export function isProxy(p: unknown): boolean {
  return p instanceof ProxyBase
}

/** Drop a proxy's server reference now (idempotent). */
export function releaseProxy(p: unknown): void {
  const s = (p as ProxyBase)[STATE]
  if (!s || s.released) return
  s.released = true
  finalizer.unregister(p as object)
  s.client.decrefSoon(s.ident)
}

registerPortable(PORTABLE_TYPE, (d: { address: string; serverId?: string; authkey: string; dialect: string } & ProxyInfoFull) => {
  const client = Client.shared({ address: parseAddress(d.address), serverId: d.serverId, authkey: Buffer.from(d.authkey, 'hex'), dialect: d.dialect })
  // The revived proxy holds its own reference, taken over this process's connection before any call it makes.
  client.increfSoon(d.ident)
  return makeProxy(client, { typeid: d.typeid, ident: d.ident, exposed: d.exposed })
})
