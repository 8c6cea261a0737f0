/**
 * The client's seam between proxies and a wire dialect. A channel carries
 * requests to one manager server and brings back results; troupe's own
 * channel pipelines them over one connection (./troupe-channel.ts), the
 * Python dialect (./python) speaks CPython's one-call-at-a-time protocol.
 */
import type { Address } from '../net/index.js'

/** A reply as proxies see it: a value, or a new server object to wrap in a proxy. */
export type ChannelResult = { kind: 'return'; value: unknown } | { kind: 'proxy'; typeid: string; ident: string; exposed: readonly string[] }

/** Per-call options a channel may honour. */
export interface RequestOptions {
  /** Cancel the call on the server when this aborts (a parked `get` gives up and takes no item). */
  signal?: AbortSignal
  /**
   * Consecutive calls with the same hint on the same object may travel as one
   * request: `put(item)` runs as `putMany(items)`, `taskDone()` as `taskDoneBatch(n)`.
   * Only a hint: a dialect may ignore it.
   */
  merge?: 'putMany' | 'taskDone'
}

/** One client's connection(s) to a manager server, in some dialect. */
export interface ManagerChannel {
  /** Dialect name, e.g. 'troupe' or 'python'. */
  readonly dialect: string
  /** The server address. */
  readonly address: Address
  /** Call `method` on the object `ident`; ident '' calls a control method (create, incref, decref, shutdown, ...). */
  request(ident: string, method: string, args: unknown[], opts?: RequestOptions): Promise<ChannelResult>
  /** Release a reference without waiting for the answer (used by finalizers). */
  decrefSoon(ident: string): void
  /** Close the connection(s); in-flight calls reject with ConnectionClosedError. */
  close(): void
  /** Optional: wait up to `timeoutMs` for in-flight calls to be answered before a graceful close. */
  drain?(timeoutMs: number): Promise<void>
  /** Resolves when the channel is closed. */
  readonly closed: Promise<void>
}

/** What a dialect needs to open a channel. */
export interface ChannelOptions {
  address: Address
  authkey: string | Uint8Array
  maxFrameSize?: number
  /** Most weighted values one frame may hold (the troupe dialect splits batches to stay within it). */
  maxFrameValues?: number
  /** Deepest nesting of one request's arguments. */
  maxDepth?: number
  handshakeTimeout?: number
  /** Poll for replies instead of sleeping in epoll while that measurably pays (default true; see net/hot.ts). */
  poll?: boolean
}

/** Opens a channel in one dialect. */
export type DialectFactory = (opts: ChannelOptions) => Promise<ManagerChannel>

const dialects = new Map<string, DialectFactory>()

/** Make a dialect available to `connect({ dialect })` (the Python dialect registers itself when its module loads). */
export function registerDialect(name: string, factory: DialectFactory): void {
  dialects.set(name, factory)
}

/** The factory of a dialect, loading the optional Python dialect on first use. */
export async function dialectFactory(name: string): Promise<DialectFactory> {
  if (!dialects.has(name) && name === 'python') {
    const spec = './python/index.js'
    try { await import(spec) } catch (err) {
      throw new Error(`the python dialect is not available: ${(err as Error).message}`)
    }
  }
  const f = dialects.get(name)
  if (!f) throw new TypeError(`unknown manager dialect '${name}' (known: ${[...dialects.keys()].join(', ')})`)
  return f
}
