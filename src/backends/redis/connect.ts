import { Redis, type RedisOptions } from 'ioredis'
import { ConnectionClosedError } from '../../errors.js'
import { armWait } from '../../timers.js'

/** Where Redis is: a URL (`redis://host:6379/0`), ioredis options, or a client you own. */
export type RedisTarget = string | RedisOptions | Redis

/** Serializable form of a target, so a queue handle can travel to another process. */
export type RedisAddress = string | RedisOptions

const base: RedisOptions = {
  // RESP2 replies have the same shape on every Redis >= 6.2 that troupe supports.
  protocol: 2,
  lazyConnect: true,
  // No auto-pipelining: ioredis 6 sends `call(...)` under the wrong command name with it. Concurrent
  // commands still share the socket without waiting for each other; hot paths use explicit pipelines.
  enableAutoPipelining: false,
  connectTimeout: 5000,
}

/** A short label for errors: `127.0.0.1:6379`. */
export function describeTarget(t: RedisTarget): string {
  if (typeof t === 'string') return t.replace(/\/\/[^@/]*@/, '//***@')
  const o = (t instanceof Redis ? t.options : t) as RedisOptions
  return o.path ?? `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`
}

/** The address to hand to another process (a client object travels as its options). */
export function addressOf(t: RedisTarget): RedisAddress {
  if (t instanceof Redis) {
    const o = t.options as RedisOptions
    return { host: o.host, port: o.port, path: o.path, db: o.db, username: o.username, password: o.password, tls: o.tls }
  }
  return t
}

/** Make a new client for a target (never connected yet). */
export function makeClient(t: RedisTarget, extra: RedisOptions = {}): Redis {
  if (t instanceof Redis) return t.duplicate({ ...base, ...extra })
  return typeof t === 'string' ? new Redis(t, { ...base, ...extra }) : new Redis({ ...t, ...base, ...extra })
}

/**
 * Connect and wait until the server answers. A Redis that is not there fails
 * at once with ConnectionClosedError naming the address, instead of commands
 * queueing forever; after the first success ioredis reconnects by itself.
 */
export async function connectClient(client: Redis, label: string): Promise<Redis> {
  if (client.status === 'ready') return client
  if (client.status === 'wait') {
    try {
      await client.connect()
    } catch (err) {
      client.disconnect()
      throw new ConnectionClosedError(`cannot reach Redis at ${label}: ${(err as Error).message}`, { cause: err })
    }
  }
  if ((client.status as string) !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      const disarm = armWait({ timeout: 10_000 }, () => { cleanup(); reject(new ConnectionClosedError(`cannot reach Redis at ${label}: not ready after 10 s`)) }, () => {})
      const ok = () => { cleanup(); resolve() }
      const cleanup = () => { disarm(); client.off('ready', ok) }
      client.on('ready', ok)
    })
  }
  return client
}

/**
 * One owner's connections: `main` for ordinary commands and, made on first
 * use, `blocking` for XREADGROUP / XREAD BLOCK, which would otherwise hold
 * every other command of this owner behind it.
 *
 * Where a Redis Cluster plugs in (issue 13): keyed commands go through
 * `main` (a Cluster client routes them by slot); the keyless ones take the
 * key they serve (`blocking(key)`, `unblock(key)`: CLIENT ID / UNBLOCK must go
 * to the node owning that key's slot); commands on many keys go through
 * `exec`, which may split them by slot.
 */
export class Connection {
  readonly main: Redis
  readonly label: string
  readonly address: RedisAddress
  private blockingClient?: Redis
  private blockingReady?: Promise<Redis>
  private blockingId = -1
  private readonly ownsMain: boolean
  private opened?: Promise<void>
  private closed = false

  constructor(target: RedisTarget) {
    this.label = describeTarget(target)
    this.address = addressOf(target)
    this.ownsMain = !(target instanceof Redis)
    this.main = target instanceof Redis ? target : makeClient(target)
    // ioredis reports errors through events; reconnecting is its job, so the event only needs a listener.
    this.main.on('error', () => {})
  }

  /** Resolve once the main connection answers. */
  open(): Promise<void> {
    this.opened ??= connectClient(this.main, this.label).then(() => undefined)
    return this.opened
  }

  /** The connection for blocking reads of `key`, connected (one Redis: the same for every key). */
  blocking(_key?: string): Promise<Redis> {
    if (this.closed) return Promise.reject(new ConnectionClosedError('the Redis connection is closed'))
    this.blockingReady ??= (async () => {
      const c = makeClient(this.address)
      c.on('error', () => {})
      // After a reconnect the server gives the connection a new id; CLIENT UNBLOCK needs the current one.
      c.on('ready', () => { void c.call('CLIENT', 'ID').then((id) => { this.blockingId = Number(id) }, () => {}) })
      this.blockingClient = c
      await connectClient(c, this.label)
      this.blockingId = Number(await c.call('CLIENT', 'ID'))
      return c
    })()
    return this.blockingReady
  }

  /** Wake a blocked read of `key` on the blocking connection (it returns no entries). */
  async unblock(_key?: string): Promise<void> {
    if (this.blockingId < 0 || this.closed) return
    try { await this.main.call('CLIENT', 'UNBLOCK', this.blockingId) } catch { /* connection gone: the read fails by itself */ }
  }

  /**
   * Send keyed commands (`[name, key, ...args]`) in one round trip, in order,
   * with each command's [error, reply]. (On a Cluster they go per slot, each
   * slot's in order.)
   */
  async pipeline(commands: (string | Buffer | number)[][]): Promise<[Error | null, unknown][]> {
    if (commands.length === 0) return []
    const p = this.main.pipeline()
    for (const [name, ...args] of commands) p.call(name as string, ...args)
    return ((await p.exec()) ?? []) as [Error | null, unknown][]
  }

  /** `pipeline`, resolving with the replies; rejects with the first command's error. */
  async exec(commands: (string | Buffer | number)[][]): Promise<unknown[]> {
    const out: unknown[] = []
    for (const [err, v] of await this.pipeline(commands)) { if (err) throw err; out.push(v) }
    return out
  }

  /** Close what this connection opened (a client passed in by the user stays open). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const b = this.blockingClient
    if (b) b.disconnect()
    if (this.ownsMain) {
      try { if (this.main.status === 'ready') await this.main.quit(); else this.main.disconnect() } catch { this.main.disconnect() }
    }
  }
}

/** Errors that go away when Redis comes back (ioredis reconnects by itself). */
export function transient(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err)
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|max retries|MaxRetriesPerRequest|Stream isn't writeable|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY/i.test(m)
}
