import { Redis, Cluster, type RedisOptions, type ClusterOptions } from 'ioredis'
import calculateSlot from 'cluster-key-slot'
import { getKeyIndexes, exists as isCommand } from '@ioredis/commands'
import { ConnectionClosedError } from '../../errors.js'
import { armWait, sleep } from '../../timers.js'

/** A Redis Cluster as data: a few of its nodes (the rest are discovered) and ioredis Cluster options without functions. */
export interface ClusterAddress {
  /** Startup nodes, e.g. `[{ host: '10.0.0.1', port: 7000 }]`. */
  cluster: { host: string; port: number }[]
  /** ioredis `ClusterOptions`; `redisOptions` carries what each node connection needs (password, username, tls). */
  options?: ClusterOptions
}

/** Serializable form of a target, so a queue handle can travel to another process: a URL, ioredis options, or a cluster's startup nodes. */
export type RedisAddress = string | RedisOptions | ClusterAddress

/**
 * Where Redis is: a URL (`redis://host:6379/0`, `redis-cluster://h1:7000,h2:7001`),
 * ioredis options, `{ cluster: [...] }`, or a client you own (`Redis` or `Cluster`).
 */
export type RedisTarget = RedisAddress | Redis | Cluster

/** What ioredis client troupe talks through: one server, or a Cluster routing by slot. */
export type RedisClient = Redis | Cluster

const base: RedisOptions = {
  // RESP2 replies have the same shape on every Redis >= 6.2 that troupe supports.
  protocol: 2,
  lazyConnect: true,
  // No auto-pipelining: ioredis 6 sends `call(...)` under the wrong command name with it. Concurrent
  // commands still share the socket without waiting for each other; hot paths use explicit pipelines.
  enableAutoPipelining: false,
  connectTimeout: 5000,
}

// A cluster client waits out a failover (up to 150 retries 200 ms apart: 30 s, OUTAGE_MS) where ioredis's
// default gives up after 16 retries 100 ms apart, long before a replica has been promoted.
const clusterBase: ClusterOptions = {
  lazyConnect: true,
  enableAutoPipelining: false,
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 200,
  retryDelayOnTryAgain: 200,
  maxRedirections: 150,
}

const CLUSTER_URL = /^(rediss?)-cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/

/** Whether a value is an ioredis Cluster (also one from another copy of ioredis). */
export function isCluster(c: unknown): c is Cluster {
  return c instanceof Cluster || (typeof c === 'object' && c !== null && (c as { isCluster?: unknown }).isCluster === true)
}

function isClient(t: unknown): t is RedisClient {
  return t instanceof Redis || isCluster(t)
}

/** Whether a target names a cluster (a `redis-cluster://` URL, `{ cluster }`, or a Cluster client). */
export function isClusterTarget(t: RedisTarget): boolean {
  if (typeof t === 'string') return CLUSTER_URL.test(t)
  return isCluster(t) || (typeof t === 'object' && t !== null && Array.isArray((t as ClusterAddress).cluster))
}

/**
 * `redis-cluster://[user:password@]host:port[,host:port...]` (or `rediss-cluster://`
 * for TLS) as startup nodes and options; TypeError naming what is wrong.
 */
export function parseClusterUrl(url: string): ClusterAddress {
  const m = CLUSTER_URL.exec(url)
  if (!m) throw new TypeError(`not a Redis Cluster URL: '${url}' (expected redis-cluster://host:port[,host:port...])`)
  const nodes = m[3]!.split(',').map((hp) => {
    const at = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp.trim())
    if (!at) throw new TypeError(`bad node '${hp}' in Redis Cluster URL (expected host:port)`)
    return { host: at[1]!.replace(/^\[|\]$/g, ''), port: at[2] ? Number(at[2]) : 6379 }
  })
  const redisOptions: RedisOptions = {}
  if (m[2]) {
    const cut = m[2].indexOf(':')
    const user = decodeURIComponent(cut < 0 ? m[2] : m[2].slice(0, cut))
    if (cut >= 0) redisOptions.password = decodeURIComponent(m[2].slice(cut + 1))
    if (user) redisOptions.username = user
  }
  if (m[1] === 'rediss') redisOptions.tls = {}
  return { cluster: nodes, options: { redisOptions } }
}

function clusterAddress(t: RedisTarget): ClusterAddress | undefined {
  if (typeof t === 'string') return CLUSTER_URL.test(t) ? parseClusterUrl(t) : undefined
  if (typeof t === 'object' && t !== null && !isClient(t) && Array.isArray((t as ClusterAddress).cluster)) return t as ClusterAddress
  return undefined
}

/** A short label for errors: `127.0.0.1:6379`, `cluster 127.0.0.1:7000,...` (passwords hidden). */
export function describeTarget(t: RedisTarget): string {
  if (typeof t === 'string') return t.replace(/\/\/[^@/]*@/, '//***@')
  if (isCluster(t) || clusterAddress(t)) {
    const nodes = isCluster(t) ? startupNodes(t) : clusterAddress(t)!.cluster
    return `cluster ${nodes.map((n) => `${n.host}:${n.port}`).join(',')}`
  }
  const o = (t instanceof Redis ? t.options : t) as RedisOptions
  return o.path ?? `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`
}

// The nodes a Cluster client was made with (what its own `duplicate()` uses), else the nodes it knows now.
function startupNodes(c: Cluster): { host: string; port: number }[] {
  const given = (c as unknown as { startupNodes?: unknown[] }).startupNodes ?? []
  const out: { host: string; port: number }[] = []
  for (const n of given) {
    if (typeof n === 'number') out.push({ host: '127.0.0.1', port: n })
    else if (typeof n === 'string') { const u = /^(?:redis:\/\/)?([^:]+):(\d+)/.exec(n); if (u) out.push({ host: u[1]!, port: Number(u[2]) }) }
    else if (n && typeof n === 'object') out.push({ host: (n as { host?: string }).host ?? '127.0.0.1', port: (n as { port?: number }).port ?? 6379 })
  }
  if (out.length === 0) for (const r of c.nodes('master')) out.push({ host: r.options.host ?? '127.0.0.1', port: r.options.port ?? 6379 })
  return out
}

/**
 * The options of a Cluster client that another process needs: what each node
 * connection takes, and the NAT map (a function one cannot travel: checkSendable
 * and marshalling refuse it by name, rather than workers connecting elsewhere).
 */
function plainClusterOptions(o: ClusterOptions): ClusterOptions {
  const r = o.redisOptions ?? {}
  const redisOptions: RedisOptions = {}
  for (const k of ['username', 'password', 'tls', 'db', 'connectTimeout', 'family'] as const) if (r[k] !== undefined) (redisOptions as Record<string, unknown>)[k] = r[k]
  const out: ClusterOptions = { redisOptions }
  if (o.natMap) out.natMap = o.natMap
  return out
}

/** The address to hand to another process (a client object travels as its options; a Cluster as its startup nodes). */
export function addressOf(t: RedisTarget): RedisAddress {
  if (isCluster(t)) return { cluster: startupNodes(t), options: plainClusterOptions(t.options) }
  if (t instanceof Redis) {
    const o = t.options as RedisOptions
    return { host: o.host, port: o.port, path: o.path, db: o.db, username: o.username, password: o.password, tls: o.tls }
  }
  return t
}

/** TypeError naming the first option of `a` that cannot be sent to another process (a function). */
export function checkSendable(a: RedisAddress, what: string): void {
  if (typeof a === 'string') return
  const walk = (o: object, path: string): void => {
    for (const [k, v] of Object.entries(o)) {
      if (typeof v === 'function') throw new TypeError(`redis option '${path}${k}' is a function and cannot be sent to ${what}; pass a URL or plain options`)
      if (v && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v)) walk(v, `${path}${k}.`)
    }
  }
  walk(a, '')
}

/** Make a new client for a target (never connected yet); `extra` applies to every server connection. */
export function makeClient(t: RedisTarget, extra: RedisOptions = {}): RedisClient {
  if (isCluster(t)) {
    return t.duplicate(undefined, { ...clusterBase, redisOptions: { ...t.options.redisOptions, ...nodeOptions(extra) } })
  }
  if (t instanceof Redis) return t.duplicate({ ...base, ...extra })
  const c = clusterAddress(t)
  if (c) {
    const o = c.options ?? {}
    return new Cluster(c.cluster, { ...clusterBase, ...o, redisOptions: { ...nodeOptions(base), ...o.redisOptions, ...nodeOptions(extra) } })
  }
  return typeof t === 'string' ? new Redis(t, { ...base, ...extra }) : new Redis({ ...(t as RedisOptions), ...base, ...extra })
}

// What a Cluster lets each node connection take (it manages lazy connecting, retrying and the offline queue itself).
function nodeOptions(o: RedisOptions): RedisOptions {
  const { lazyConnect: _l, retryStrategy: _r, enableOfflineQueue: _q, enableAutoPipelining: _a, host: _h, port: _p, path: _pa, ...rest } = o
  return rest
}

/**
 * Connect and wait until the server answers. A Redis that is not there fails
 * at once with ConnectionClosedError naming the address, instead of commands
 * queueing forever; after the first success ioredis reconnects by itself.
 */
export async function connectClient<C extends RedisClient>(client: C, label: string): Promise<C> {
  if (client.status === 'ready') return client
  let connecting: Promise<void> | undefined
  if (client.status === 'wait') {
    connecting = client.connect()
    // A Cluster's first attempt that reaches a node while a failover is under way (CLUSTER INFO says
    // `fail`) reconnects by itself and never settles this promise: its 'ready' event says when it is up.
    if (!isCluster(client)) connecting = connecting.then(() => {})
  }
  const waitMs = isCluster(client) ? OUTAGE_MS : 10_000
  try {
    await new Promise<void>((resolve, reject) => {
      const disarm = armWait({ timeout: waitMs }, () => { cleanup(); reject(new Error(`not ready after ${waitMs / 1000} s`)) }, () => {})
      const ok = () => { cleanup(); resolve() }
      const cleanup = () => { disarm(); client.off('ready', ok) }
      client.on('ready', ok)
      connecting?.then(ok, (err) => { cleanup(); reject(err) })
      if (client.status === 'ready') ok()
    })
  } catch (err) {
    if (connecting) client.disconnect()
    throw new ConnectionClosedError(`cannot reach Redis at ${label}: ${(err as Error).message}`, { cause: err })
  }
  return client
}

/** A command as troupe sends it: `[name, ...args]`. */
export type Command = (string | Buffer | number)[]

/** The cluster slot a command's keys are in (-1: it has none). */
export function commandSlot(command: Command): number {
  const name = String(command[0]).toLowerCase()
  if (!isCommand(name)) return -1
  const args = command.slice(1).map((a) => (typeof a === 'number' ? String(a) : a))
  const at = getKeyIndexes(name, args as string[])
  return at.length ? calculateSlot(args[at[0]!]! as string) : -1
}

/**
 * Send commands in pipelines and return each one's `[error, reply]` in the
 * order given. On a Cluster one pipeline goes to each node (commands grouped
 * by their key's slot, each node's in order), all at once.
 */
export async function pipelined(client: RedisClient, commands: Command[]): Promise<[Error | null, unknown][]> {
  if (commands.length === 0) return []
  if (!isCluster(client)) return run(client, commands)
  const groups = new Map<string, number[]>()
  for (let i = 0; i < commands.length; i++) {
    const slot = commandSlot(commands[i]!)
    // ioredis accepts a pipeline whose slots are all served by one node group (master and replicas).
    const group = slot < 0 ? `?${i}` : client.slots[slot]?.join(';') ?? `slot ${slot}`
    let g = groups.get(group)
    if (!g) groups.set(group, g = [])
    g.push(i)
  }
  const out = new Array<[Error | null, unknown]>(commands.length)
  await Promise.all([...groups.values()].map(async (idx) => {
    const replies = await run(client, idx.map((i) => commands[i]!)).catch((err: Error) => idx.map(() => [err, null] as [Error, null]))
    idx.forEach((i, k) => { out[i] = replies[k]! })
  }))
  return out
}

async function run(client: RedisClient, commands: Command[]): Promise<[Error | null, unknown][]> {
  const p = client.pipeline()
  for (const [name, ...args] of commands) p.call(name as string, ...args)
  return ((await p.exec()) ?? []) as [Error | null, unknown][]
}

/** The masters of a Cluster (connected), or the one server. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client]
}

/** Every key matching `pattern` (of `type`, when given), SCANning every master of a Cluster. */
export async function scanKeys(client: RedisClient, pattern: string, type?: string, count = 500): Promise<string[]> {
  const found = new Set<string>()
  for (const node of masters(client)) {
    let cursor = '0'
    do {
      const [next, keys] = await node.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', count, ...(type ? ['TYPE', type] : [])) as [string, string[]]
      cursor = next
      for (const k of keys) found.add(k)
    } while (cursor !== '0')
  }
  return [...found]
}

/** Send `commands` on one connection (pipelined when several; each after ASKING when `asking`); replies as Buffers, the first error thrown. */
async function send(c: Redis, commands: Command[], asking: boolean): Promise<unknown[]> {
  if (commands.length === 1 && !asking) return [await c.callBuffer(String(commands[0]![0]), ...commands[0]!.slice(1))]
  const p = c.pipeline()
  // ASK: each command goes to the importing node right after ASKING on the same connection.
  for (const cmd of commands) {
    if (asking) p.call('ASKING')
    p.callBuffer(String(cmd[0]), ...cmd.slice(1))
  }
  const replies = await p.exec()
  if (!replies) throw new Error('a pipeline to Redis was aborted')
  const out: unknown[] = []
  for (let i = asking ? 1 : 0; i < replies.length; i += asking ? 2 : 1) {
    const [err, reply] = replies[i]!
    if (err) throw err
    out.push(reply)
  }
  return out
}

/** A connection for blocking reads on one server, and its client id there (what CLIENT UNBLOCK takes). */
interface Blocker {
  client: Redis
  /** `host:port` of the server (on a Cluster, as the slot table names it). */
  node: string
  /** The connection's CLIENT ID while it is connected; -1 otherwise. */
  id: number
  ready: Promise<Redis>
}

/**
 * One owner's connections: `main` for ordinary commands and, made on first
 * use, a blocking connection for XREADGROUP / XREAD BLOCK, which would
 * otherwise hold every other command of this owner behind it.
 *
 * On a Redis Cluster `main` is a Cluster client (keyed commands go by slot;
 * MOVED/ASK and failovers are followed by ioredis). The keyless ones are
 * placed here: a blocking read of `key` goes on a connection to the master
 * serving the key's slot (following MOVED and ASK itself), and CLIENT UNBLOCK
 * goes to that same server with the id that connection has there: client ids
 * are per server, so the same id elsewhere is somebody else. `pipeline` /
 * `exec` split commands on many keys by node.
 */
export class Connection {
  readonly main: RedisClient
  readonly label: string
  readonly address: RedisAddress
  readonly cluster: boolean
  private readonly blockers = new Map<string, Blocker>()
  // Which server each key's latest blocking read went to (what `unblock(key)` wakes).
  private readonly blockedOn = new Map<string, string>()
  private readonly ownsMain: boolean
  private opened?: Promise<void>
  private closed = false

  constructor(target: RedisTarget) {
    this.label = describeTarget(target)
    this.address = addressOf(target)
    this.cluster = isClusterTarget(target)
    this.ownsMain = !isClient(target)
    this.main = isClient(target) ? target : makeClient(target)
    // ioredis reports errors through events; reconnecting is its job, so the event only needs a listener.
    this.main.on('error', () => {})
  }

  /** Resolve once the main connection answers. */
  open(): Promise<void> {
    this.opened ??= connectClient(this.main, this.label).then(() => undefined, (err) => { this.opened = undefined; throw err })
    return this.opened
  }

  /**
   * Run a blocking read of `key` (`XREADGROUP ... BLOCK ... STREAMS key`,
   * `XREAD ... BLOCK`) on this owner's blocking connection to the server
   * serving `key`; replies as Buffers.
   */
  async blockingCall(key: string, command: Command): Promise<unknown> {
    return (await this.blocking(key, [command]))[0]
  }

  /**
   * A blocking read of `key`, and `after` (a command on the same slot)
   * pipelined behind it on the same connection: the server runs `after` the
   * moment the read wakes, so a wake-up and what it leads to cost one round
   * trip. Replies to both, as Buffers; throws the first error.
   */
  blockingThen(key: string, command: Command, after: Command): Promise<unknown[]> {
    return this.blocking(key, [command, after])
  }

  /**
   * `before` (a command on `key`'s slot, say an acknowledgement), then a
   * blocking read of `key`, pipelined on the blocking connection: one write
   * and one round trip. Replies to both, as Buffers; throws the first error.
   */
  blockingAfter(key: string, before: Command, command: Command): Promise<unknown[]> {
    return this.blocking(key, [before, command])
  }

  private async blocking(key: string, commands: Command[]): Promise<unknown[]> {
    if (this.closed) throw new ConnectionClosedError('the Redis connection is closed')
    if (!isCluster(this.main)) {
      const b = this.blocker('main', () => makeClient(this.address) as Redis)
      this.blockedOn.set(key, 'main')
      return send(await b.ready, commands, false)
    }
    await this.open()
    const cluster = this.main
    let node = ownerOf(cluster, key)
    let asking = false
    for (let hop = 0; ; hop++) {
      if (!node) {
        // The slot table does not name a master (a failover under way): ask again, then say why.
        await refreshSlots(cluster)
        node = ownerOf(cluster, key)
        if (!node) throw new ConnectionClosedError(`CLUSTERDOWN no master serves the slot of '${key}' now`)
      }
      const b = this.blocker(node, () => nodeClient(cluster, node!))
      this.blockedOn.set(key, node)
      try {
        return await send(await b.ready, commands, asking)
      } catch (err) {
        const redirect = /^(MOVED|ASK) \d+ (\S+)/.exec(String((err as Error).message))
        if (!redirect) {
          // The server went away (a failover): learn the new owner before the caller tries again.
          if (b.client.status !== 'ready') void refreshSlots(cluster).catch(() => {})
          throw err
        }
        if (hop >= 5) throw err
        asking = redirect[1] === 'ASK'
        if (!asking) void refreshSlots(cluster).catch(() => {})
        node = redirect[2]!
      }
    }
  }

  private blocker(node: string, make: () => Redis): Blocker {
    let b = this.blockers.get(node)
    if (b && b.client.status !== 'end') return b
    const client = make()
    client.on('error', () => {})
    const entry: Blocker = { client, node, id: -1, ready: Promise.resolve(client) }
    // After a reconnect the server gives the connection a new id; an old one may name another client there by then.
    client.on('close', () => { entry.id = -1 })
    client.on('ready', () => { void client.call('CLIENT', 'ID').then((id) => { if (client.status === 'ready') entry.id = Number(id) }, () => {}) })
    client.on('end', () => { if (this.blockers.get(node) === entry) this.blockers.delete(node) })
    entry.ready = (async () => {
      await connectClient(client, node === 'main' ? this.label : node)
      entry.id = Number(await client.call('CLIENT', 'ID'))
      return client
    })()
    entry.ready.catch(() => { if (this.blockers.get(node) === entry) this.blockers.delete(node); client.disconnect() })
    this.blockers.set(node, entry)
    return entry
  }

  /** Wake the blocked read of `key` (every blocked read of this owner, without a key): it returns no entries. */
  async unblock(key?: string): Promise<void> {
    if (this.closed) return
    const nodes = key === undefined ? [...this.blockers.keys()] : [this.blockedOn.get(key)].filter((n): n is string => n !== undefined)
    await Promise.all(nodes.map(async (node) => {
      const b = this.blockers.get(node)
      if (!b || b.id < 0 || b.client.status !== 'ready') return
      // The id is only meaningful on the server that gave it: send it there and nowhere else.
      const via = node === 'main' ? this.main as Redis : serverOf(this.main as Cluster, node)
      if (!via) return
      try { await via.call('CLIENT', 'UNBLOCK', b.id) } catch { /* connection gone: the read fails by itself */ }
    }))
  }

  /** Keyed commands in as few round trips as possible, each's `[error, reply]` in order (on a Cluster: a pipeline per node, in parallel). */
  async pipeline(commands: Command[]): Promise<[Error | null, unknown][]> {
    await this.open()
    return pipelined(this.main, commands)
  }

  /**
   * Run keyed commands (`[name, key, ...args]`) in one round trip per node,
   * each node's in order; rejects with the first command's error.
   */
  async exec(commands: Command[]): Promise<unknown[]> {
    const replies = await this.pipeline(commands)
    const out: unknown[] = []
    for (const [err, v] of replies) { if (err) throw err; out.push(v) }
    return out
  }

  /** Close what this connection opened (a client passed in by the user stays open). */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const b of this.blockers.values()) b.client.disconnect()
    this.blockers.clear()
    if (this.ownsMain) {
      try { if (this.main.status === 'ready') await this.main.quit(); else this.main.disconnect() } catch { this.main.disconnect() }
    }
  }
}

/** `host:port` of the master serving `key`'s slot, by the client's slot table. */
function ownerOf(c: Cluster, key: string): string | undefined {
  return c.slots[calculateSlot(key)]?.[0]
}

/** The Cluster's own connection to server `node` (`host:port`). */
function serverOf(c: Cluster, node: string): Redis | undefined {
  return c.nodes('all').find((r) => `${r.options.host}:${r.options.port}` === node)
}

/** A connection of its own to one server of a Cluster, with the cluster's node options; it does not reconnect (the slot table may have moved on). */
function nodeClient(c: Cluster, node: string): Redis {
  const cut = node.lastIndexOf(':')
  return new Redis({
    ...nodeOptions(base), ...c.options.redisOptions, host: node.slice(0, cut), port: Number(node.slice(cut + 1)),
    lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false,
  })
}

/** Ask the Cluster for its slot table again (coalesced with a refresh under way). */
export function refreshSlots(c: Cluster): Promise<void> {
  return new Promise((resolve, reject) => c.refreshSlotsCache((err) => (err ? reject(err) : resolve())))
}

/** How long Redis being away (a restart, a Cluster failover) is waited out before callers hear of it. */
export const OUTAGE_MS = 30_000

/**
 * One reader's view of an outage: `waitOut(err)` pauses and resolves true
 * while transient errors have lasted less than OUTAGE_MS, else false (the
 * caller reports `err`); `ok()` after a success ends the outage.
 */
export class Outage {
  private since = 0

  ok(): void { this.since = 0 }

  async waitOut(err: unknown): Promise<boolean> {
    if (!transient(err)) return false
    const now = Date.now()
    if (this.since === 0) this.since = now
    if (now - this.since >= OUTAGE_MS) { this.since = 0; return false }
    await sleep(200)
    return true
  }
}

/** Errors that go away when Redis comes back (ioredis reconnects by itself) or a Cluster failover completes. */
export function transient(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err)
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|max retries|MaxRetriesPerRequest|Stream isn't writeable|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|Too many Cluster redirections|None of startup nodes|Failed to refresh slots cache|enableOfflineQueue/i.test(m)
}
