/**
 * troupe as a client of a CPython `BaseManager` server (wire reference §3.5):
 * each control call (create, incref, decref, ...) on its own authenticated
 * connection, as Python does; method calls on persistent `accept_connection`
 * connections, one call at a time each. A small pool of those lets a blocked
 * `get()` on one connection not hold up a `put()` on another.
 */
import { connectTo, formatAddress, type Address, type FrameConnection } from '../../net/index.js'
import { decodePickleWithProtocol, encodePickle, tuple, tupleFrom, readToken, pyText } from '../../codec/index.js'
import { AbortError, ConnectionClosedError, ProtocolError, RemoteError, UnknownMethodError } from '../../errors.js'
import { registerDialect, type ChannelOptions, type ChannelResult, type ManagerChannel, type RequestOptions } from '../channel.js'
import { camelCase, errorFromPython, snakeCase, tracebackError } from './adapt.js'

// troupe's control names -> CPython's Server.public names.
const CONTROL: Record<string, string> = {
  create: 'create', incref: 'incref', decref: 'decref', dummy: 'dummy', shutdown: 'shutdown',
  numberOfObjects: 'number_of_objects', debugInfo: 'debug_info', getMethods: 'get_methods',
}
const CONTAINER_ALIASES: [string, string][] = [
  ['get', '__getitem__'], ['set', '__setitem__'], ['delete', '__delitem__'], ['has', '__contains__'], ['size', '__len__'], ['length', '__len__'],
]
/** Idle method-call connections kept open for reuse. */
const IDLE_KEEP = 4
/**
 * Most method-call connections open at once (each is a server thread in
 * CPython). More concurrent calls wait for a free one; so more than this many
 * calls blocked at once (e.g. parked `get()`s) hold up the rest.
 */
export const PYTHON_MAX_CONNECTIONS = 32
// Python blocking calls take (block, timeout-in-seconds); troupe passes { block, timeout } in ms as the last argument.
const BLOCKING = new Set(['get', 'put', 'acquire', 'wait', 'join'])

type Decoded = { kind: string; value: unknown; protocol: number }

/** A channel to a CPython manager server. */
export class PythonChannel implements ManagerChannel {
  readonly dialect = 'python'
  readonly closed: Promise<void>
  private readonly label: string
  private readonly idle: FrameConnection[] = []
  private readonly busy = new Set<FrameConnection>()
  private opening = 0
  private readonly waiting: (() => void)[] = []
  /** Python method names of each proxied object, by the name troupe code calls. */
  private readonly names = new Map<string, Map<string, string>>()
  /** Pickle protocol to write: 4, or 2 once the server turns out to be Python 2. */
  private protocol: 2 | 4 = 4
  private isClosed = false
  private resolveClosed!: () => void

  private constructor(readonly address: Address, private readonly opts: ChannelOptions) {
    this.label = formatAddress(address)
    this.closed = new Promise((r) => { this.resolveClosed = r })
  }

  /** Connect: a `dummy` control call checks the address, the key and the server's pickle protocol. */
  static async open(opts: ChannelOptions): Promise<PythonChannel> {
    const ch = new PythonChannel(opts.address, opts)
    const first = await ch.controlRaw('dummy', [])
    // A Python 2 server cannot read protocol 4: it answers with a protocol-2 traceback, and we switch.
    if (first.protocol === 2) {
      ch.protocol = 2
      ch.unwrap(await ch.controlRaw('dummy', []))
    } else ch.unwrap(first)
    return ch
  }

  /** Call a method on a pooled proxy connection, or a control function (ident '') on its own connection. */
  async request(ident: string, method: string, args: unknown[], opts?: RequestOptions): Promise<ChannelResult> {
    if (this.isClosed) throw new ConnectionClosedError(`connection to Python manager ${this.label} is closed`)
    if (ident === '') return this.control(method, args)
    const pyName = this.names.get(ident)?.get(method) ?? snakeCase(method)
    const [posArgs, kwds] = pythonArgs(pyName, args)
    const conn = await this.take()
    const onAbort = () => conn.close(new AbortError(`'${method}' was cancelled`))
    opts?.signal?.addEventListener('abort', onAbort, { once: true })
    let reply: Decoded
    try {
      if (opts?.signal?.aborted) throw new AbortError(`'${method}' was cancelled`)
      conn.send(this.encode(tuple(ident, pyName, tupleFrom(posArgs), kwds)))
      reply = this.decode(await conn.readFrame())
    } catch (err) {
      conn.close(err as Error)
      this.release(conn)
      throw this.connectionError(err, method)
    } finally {
      opts?.signal?.removeEventListener('abort', onAbort)
    }
    this.release(conn)
    if (reply.kind === '#PROXY') return this.proxyResult(reply.value)
    return { kind: 'return', value: this.unwrap(reply) }
  }

  /** Drop a reference without waiting for the answer. */
  decrefSoon(ident: string): void {
    if (!this.isClosed) void this.controlRaw('decref', [ident]).catch(() => {})
  }

  /** Close every connection; calls in flight reject with ConnectionClosedError. */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    for (const c of [...this.idle, ...this.busy]) c.close()
    this.idle.length = 0
    this.busy.clear()
    for (const wake of this.waiting.splice(0)) wake()
    this.resolveClosed()
  }

  private async control(method: string, args: unknown[]): Promise<ChannelResult> {
    const name = CONTROL[method]
    if (!name) throw new UnknownMethodError(`control method '${method}' is not available on a Python manager (available: ${Object.keys(CONTROL).join(', ')})`)
    // `m.dict()` sends create('dict', undefined): Python must see dict(), not dict(None).
    while (args.length && args[args.length - 1] === undefined) args = args.slice(0, -1)
    const value = this.unwrap(await this.controlRaw(name, args))
    if (name !== 'create') return { kind: 'return', value }
    // create returns (ident, exposed); we own the one reference the server counted.
    const [ident, exposed] = value as [unknown, unknown[]]
    return this.remember(String(args[0]), pyText(ident) ?? String(ident), exposed)
  }

  /** One control request on a fresh connection, closed after the reply (CPython's `dispatch`). */
  private async controlRaw(name: string, args: unknown[]): Promise<Decoded> {
    const conn = await connectTo(this.address, this.opts)
    try {
      conn.send(this.encode(tuple(null, name, tupleFrom([...args]), new Map())))
      return this.decode(await conn.readFrame())
    } catch (err) {
      throw this.connectionError(err, name)
    } finally {
      conn.close()
    }
  }

  private proxyResult(value: unknown): ChannelResult {
    const [exposed, tokenObj] = (Array.isArray(value) ? value : []) as [unknown[], unknown]
    const token = readToken(tokenObj)
    if (!token || !Array.isArray(exposed)) throw new ProtocolError(`Python manager ${this.label} sent a malformed #PROXY reply`)
    // The server counted one reference for us (Python's client increfs and decrefs again, a net zero).
    return this.remember(token.typeid, token.id, exposed)
  }

  private remember(typeid: string, ident: string, exposed: unknown[]): ChannelResult {
    const map = new Map<string, string>()
    for (const e of exposed) {
      const py = pyText(e)
      if (py !== undefined) map.set(camelCase(py), py)
    }
    // troupe's container names for Python's protocol methods, so a Python dict/list proxy reads like troupe's Dict/List.
    for (const [alias, dunder] of CONTAINER_ALIASES) if (map.has(dunder) && !map.has(alias)) map.set(alias, dunder)
    this.names.set(ident, map)
    return { kind: 'proxy', typeid, ident, exposed: [...map.keys()] }
  }

  /** A free method-call connection, opening one (handshake + accept_connection) when none is idle. */
  private async take(): Promise<FrameConnection> {
    for (;;) {
      let conn = this.idle.pop()
      while (conn && !conn.isOpen) conn = this.idle.pop()
      if (conn) {
        conn.ref()
        this.busy.add(conn)
        return conn
      }
      if (this.busy.size + this.opening < PYTHON_MAX_CONNECTIONS) break
      await new Promise<void>((r) => this.waiting.push(r))
      if (this.isClosed) throw new ConnectionClosedError(`connection to Python manager ${this.label} is closed`)
    }
    this.opening++
    let conn: FrameConnection
    try {
      conn = await connectTo(this.address, this.opts)
      conn.send(this.encode(tuple(null, 'accept_connection', tuple('troupe'), new Map())))
      try {
        this.unwrap(this.decode(await conn.readFrame()))
      } catch (err) {
        conn.close()
        throw err
      }
    } finally {
      this.opening--
    }
    this.busy.add(conn)
    return conn
  }

  private release(conn: FrameConnection): void {
    this.busy.delete(conn)
    if (this.isClosed || !conn.isOpen || (this.idle.length >= IDLE_KEEP && !this.waiting.length)) conn.close()
    else {
      // An idle connection must not keep the process alive.
      conn.unref()
      this.idle.push(conn)
    }
    this.waiting.shift()?.()
  }

  private encode(value: unknown): Buffer {
    return encodePickle(value, { protocol: this.protocol })
  }

  private decode(frame: Buffer): Decoded {
    const { value, protocol } = decodePickleWithProtocol(frame)
    if (!Array.isArray(value) || value.length !== 2) throw new ProtocolError(`Python manager ${this.label} sent a reply that is not a (kind, value) pair`)
    return { kind: pyText(value[0]) ?? '', value: value[1], protocol }
  }

  /** The value of a #RETURN, or the error a reply stands for (§3.2). */
  private unwrap(reply: Decoded): unknown {
    const origin = `Python manager ${this.label}`
    switch (reply.kind) {
      case '#RETURN': return reply.value
      case '#ERROR': throw errorFromPython(reply.value, origin)
      case '#TRACEBACK': throw tracebackError(pyText(reply.value) ?? String(reply.value), origin)
      case '#UNSERIALIZABLE': {
        const err = new RemoteError(`Unserializable message: ${pyText(reply.value) ?? ''}`)
        err.origin = origin
        throw err
      }
      default: throw new ProtocolError(`${origin} sent an unrecognized reply kind ${JSON.stringify(reply.kind)}`)
    }
  }

  private connectionError(err: unknown, method: string): Error {
    if (err instanceof ConnectionClosedError && !(err.message.includes(this.label))) {
      const e = new ConnectionClosedError(`connection to Python manager ${this.label} closed while '${method}' was in flight`, { cause: err })
      e.origin = this.label
      return e
    }
    return err as Error
  }
}

/**
 * troupe call arguments as Python (args, kwds): a trailing `{ block, timeout }`
 * (ms) of a blocking method becomes Python keywords (seconds); any other
 * argument, plain objects included, is passed positionally (a dict).
 */
function pythonArgs(pyName: string, args: unknown[]): [unknown[], Map<string, unknown>] {
  const kwds = new Map<string, unknown>()
  // An omitted optional argument (`get(undefined)`) must not become Python's None: get(None) means block=False.
  while (args.length && args[args.length - 1] === undefined) args = args.slice(0, -1)
  const last = args[args.length - 1]
  if (!last || typeof last !== 'object' || Object.getPrototypeOf(last) !== Object.prototype) return [args, kwds]
  const opts = last as Record<string, unknown>
  if (BLOCKING.has(pyName)) {
    if (!Object.keys(opts).every((k) => k === 'block' || k === 'timeout' || k === 'signal')) return [args, kwds]
    if (opts.block === false) kwds.set(pyName === 'acquire' ? 'blocking' : 'block', false)
    // Python's JoinableQueue.join() takes no timeout; the wait is bounded only by the caller's signal.
    if (typeof opts.timeout === 'number' && pyName !== 'join') kwds.set('timeout', opts.timeout / 1000)
    return [args.slice(0, -1), kwds]
  }
  return [args, kwds]
}

registerDialect('python', (opts) => PythonChannel.open(opts))
