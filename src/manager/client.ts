import { formatAddress, authkeyBytes, type Address } from '../net/index.js'
import { marshal, unmarshal } from '../codec/index.js'
import { dialectFactory, type ChannelResult, type ManagerChannel } from './channel.js'
import './troupe-channel.js'
import { makeProxy, type ProxyInfoFull } from './proxy.js'

/** How to reach a manager: address, key, dialect and wire limits. */
export interface ClientOptions {
  address: Address
  authkey: string | Uint8Array
  dialect?: string
  maxFrameSize?: number
  maxFrameValues?: number
  maxDepth?: number
  handshakeTimeout?: number
  /** Poll for replies while that pays (default true; see net/hot.ts). */
  poll?: boolean
}

/**
 * One client of one manager server: owns the channel, turns replies into
 * values and proxies. Calls made before the connection is up are queued in
 * order behind it, so a proxy revived in another process works at once.
 */
export class ManagerClient {
  readonly address: Address
  readonly authkey: Buffer
  readonly dialect: string
  /** The server's random id (troupe servers), known once connected. */
  serverId: string | undefined
  private channel: ManagerChannel | undefined
  private readonly ready: Promise<ManagerChannel>
  private readonly key: string

  private constructor(opts: ClientOptions) {
    this.address = opts.address
    this.authkey = authkeyBytes(opts.authkey)
    this.dialect = opts.dialect ?? 'troupe'
    this.key = clientKey(this.address, this.authkey, this.dialect)
    this.ready = dialectFactory(this.dialect).then((open) => open({ ...opts, authkey: this.authkey })).then((ch) => {
      this.channel = ch
      void ch.closed.then(() => { if (cache.get(this.key) === this) cache.delete(this.key) })
      return ch
    })
    // A failed connect is reported by the first call that awaits it; this keeps it from being an unhandled rejection meanwhile.
    this.ready.catch(() => { if (cache.get(this.key) === this) cache.delete(this.key) })
  }

  /** Open a new client (and make it the one shared by proxies revived in this process). */
  static async open(opts: ClientOptions): Promise<ManagerClient> {
    const c = new ManagerClient(opts)
    await c.ready
    cache.set(c.key, c)
    await c.learnServerId()
    return c
  }

  /**
   * The shared client for a proxy that arrived in this process: the client
   * already connected to the same server (by id, whatever address it used:
   * the sender's address may not be reachable from this host), else one for
   * this address/key/dialect, connecting lazily.
   */
  static shared(opts: ClientOptions & { serverId?: string }): ManagerClient {
    const byId = opts.serverId ? byServer.get(opts.serverId) : undefined
    if (byId) return byId
    const key = clientKey(opts.address, authkeyBytes(opts.authkey), opts.dialect ?? 'troupe')
    let c = cache.get(key)
    if (!c) { c = new ManagerClient(opts); cache.set(key, c); void c.learnServerId() }
    return c
  }

  private async learnServerId(): Promise<void> {
    if (this.dialect !== 'troupe') return
    try {
      this.serverId = (await this.call('', 'serverId', [])) as string
      if (!byServer.has(this.serverId)) byServer.set(this.serverId, this)
      void this.ready.then((ch) => ch.closed).then(() => { if (byServer.get(this.serverId!) === this) byServer.delete(this.serverId!) })
    } catch { /* an older or foreign server: addresses only */ }
  }

  /** The address as users write it. */
  get label(): string {
    return formatAddress(this.address)
  }

  /**
   * Call a method (ident '' = control); arguments are checked for unsendable
   * parts, proxies in them travel as references. Not an async function: on
   * the hot path it adds a single promise reaction to the channel's promise.
   */
  call(ident: string, method: string, args: unknown[], merge?: 'putMany' | 'taskDone'): Promise<unknown> {
    let signal: AbortSignal | undefined
    const last = args[args.length - 1] as { signal?: unknown } | undefined
    if (last && typeof last === 'object' && last.signal instanceof AbortSignal) {
      // An AbortSignal cannot travel; it stays here and cancels the call on the server instead.
      signal = last.signal
      const { signal: _s, ...rest } = last
      args = [...args.slice(0, -1), rest]
    }
    let sent: unknown[]
    try {
      sent = marshal(args, 'args').value as unknown[]
    } catch (err) {
      return Promise.reject(err)
    }
    const opts = signal ? { signal } : merge ? { merge } : undefined
    const ch = this.channel
    if (ch) return ch.request(ident, method, sent, opts).then(this.resolveBound)
    return this.ready.then((c) => c.request(ident, method, sent, opts)).then(this.resolveBound)
  }

  private readonly resolveBound = (r: ChannelResult): unknown => this.resolve(r)

  /** Turn a channel result into a value or a proxy. */
  resolve(r: ChannelResult): unknown {
    if (r.kind === 'proxy') return makeProxy(this, { typeid: r.typeid, ident: r.ident, exposed: r.exposed } satisfies ProxyInfoFull)
    return unmarshal(r.value)
  }

  /** Add a reference without waiting (a revived proxy announces itself). */
  increfSoon(ident: string): void {
    void this.call('', 'incref', [ident]).catch(() => {})
  }

  /** Drop a reference without waiting (finalizers, release). */
  decrefSoon(ident: string): void {
    if (this.channel) this.channel.decrefSoon(ident)
    else void this.ready.then((ch) => ch.decrefSoon(ident), () => {})
  }

  /** Wait up to `timeoutMs` for calls in flight to be answered. */
  async drain(timeoutMs: number): Promise<void> {
    await this.channel?.drain?.(timeoutMs)
  }

  /** Close the connection; pending calls reject with ConnectionClosedError. */
  close(): void {
    if (cache.get(this.key) === this) cache.delete(this.key)
    if (this.serverId && byServer.get(this.serverId) === this) byServer.delete(this.serverId)
    if (this.channel) this.channel.close()
    else void this.ready.then((ch) => ch.close(), () => {})
  }
}

const cache = new Map<string, ManagerClient>()
const byServer = new Map<string, ManagerClient>()

function clientKey(address: Address, key: Buffer, dialect: string): string {
  return `${dialect}|${formatAddress(address)}|${key.toString('hex')}`
}
