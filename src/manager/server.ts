import { randomUUID } from 'node:crypto'
import { listen, formatAddress, defaultLog, SpinPolicy, type AddressLike, type Address, type FrameConnection, type Listener } from '../net/index.js'
import { toWireError, V8_FIRST_BYTE } from '../codec/index.js'
import { ProtocolError, UnknownMethodError } from '../errors.js'
import { ObjectRegistry, type CallContext, type CallResult, type DialectSession } from './registry.js'
import { decodeRequests, encodeBatch, Status, CONNECTION_REPLY_ID, type FrameLimits, type Reply, type Request, type ProxyInfo } from './protocol.js'

/** A manager's connection settings: the server applies them to every connection (a client, to its own: frame limits, handshake, polling). */
export interface ServeOptions {
  /** Largest accepted frame payload in bytes (default 64 MiB). */
  maxFrameSize?: number
  /** Most values one request frame may decode to, weighted by decode cost (default 1,000,000; docs/manager.md "Limits"). */
  maxFrameValues?: number
  /** Deepest nesting of a request's arguments (default 1000). */
  maxDepth?: number
  /** Longest int a Python client may send as decimal text, in digits (default 4300, CPython's own limit). */
  maxIntDigits?: number
  /** How long a handshake may take in ms (default 10,000). */
  handshakeTimeout?: number
  /** Poll for a client's next request after each reply, while that measurably pays (default true; docs/manager.md "Latency"). */
  poll?: boolean
}

/** Just the ServeOptions of `o`, to hand on to a server (here, or in the process that will run it). */
export function serveOptions(o: ServeOptions): ServeOptions {
  return {
    maxFrameSize: o.maxFrameSize, maxFrameValues: o.maxFrameValues, maxDepth: o.maxDepth, maxIntDigits: o.maxIntDigits,
    handshakeTimeout: o.handshakeTimeout, poll: o.poll,
  }
}

/** Options of a manager server. */
export interface ServerOptions extends ServeOptions {
  /** The shared secret clients must know. */
  authkey: string | Uint8Array
  /** The registry to serve (typeids and live objects). */
  registry: ObjectRegistry
  /** Where refused connections and protocol errors are reported (default: stderr; `false` for silence). */
  log?: ((line: string) => void) | false
  /** Called when a client asks the server to shut down. */
  onShutdown?: () => void
}

/** Longest a server polls for a connection's next request (ms), when polling is on and pays. */
const REQUEST_POLL_MS = 0.2

const PICKLE_PROTO = 0x80
/** Calls one troupe connection may have waiting at once (parked gets, acquires); more are refused with ProtocolError. */
export const MAX_IN_FLIGHT = 65_536
let sessionCounter = 0

/**
 * A manager server: a listener whose authenticated connections are served
 * from one ObjectRegistry. The first byte of the first request picks the
 * dialect: 0xFF (v8) is a troupe peer, 0x80 (pickle PROTO) a CPython peer.
 */
export class ManagerServer {
  readonly registry: ObjectRegistry
  /** A random id of this server, so a proxy arriving in a process already connected to it (by any address) reuses that connection. */
  readonly id = randomUUID()
  private listener!: Listener
  private readonly sessions = new Set<FrameConnection>()
  private readonly log: (line: string) => void
  private readonly opts: ServerOptions
  private stopped = false

  private constructor(opts: ServerOptions) {
    this.opts = opts
    this.registry = opts.registry
    this.log = opts.log === false ? () => {} : opts.log ?? defaultLog
  }

  /** Start listening on `address` (port 0 picks a free port; see `.address`). */
  static async listen(address: AddressLike, opts: ServerOptions): Promise<ManagerServer> {
    const server = new ManagerServer(opts)
    server.listener = await listen(address, {
      authkey: opts.authkey,
      maxFrameSize: opts.maxFrameSize,
      handshakeTimeout: opts.handshakeTimeout,
      log: server.log,
      onConnection: (conn) => server.accept(conn),
    })
    return server
  }

  /** The bound address. */
  get address(): Address {
    return this.listener.address
  }

  /** Stop listening and close every connection. */
  async close(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    // server.close() waits for open connections, so they are closed first.
    const closing = this.listener.close()
    for (const c of this.sessions) c.close()
    await closing
  }

  private accept(conn: FrameConnection): void {
    if (this.stopped) { conn.close(); return }
    if (this.opts.poll ?? true) conn.pollAnswers(new SpinPolicy(REQUEST_POLL_MS))
    this.sessions.add(conn)
    conn.onClose((reason) => {
      this.sessions.delete(conn)
      if (reason && !(reason as NodeJS.ErrnoException).code?.startsWith('ECONNRESET')) this.log(`closed connection from ${conn.peer}: ${reason.name}: ${reason.message}`)
    })
    conn.readFrame().then((first) => {
      if (first[0] === V8_FIRST_BYTE) new TroupeSession(this.registry, conn, this.log, () => this.shutdownRequested(), `manager ${formatAddress(this.address)} (pid ${process.pid})`, this.id, this.limits).start(first)
      else if (first[0] === PICKLE_PROTO) void this.handOverPython(conn, first)
      else conn.close(new ProtocolError(`unknown dialect: first payload byte 0x${(first[0] ?? 0).toString(16).padStart(2, '0')} is neither v8 (0xff) nor pickle (0x80)`))
    }, () => { /* closed before a request: nothing to do */ })
  }

  private async handOverPython(conn: FrameConnection, firstFrame: Buffer): Promise<void> {
    // Imported by a computed specifier: the Python dialect is optional and lives in its own folder.
    const spec = './python/index.js'
    let mod: { servePythonConnection?: (s: DialectSession) => void }
    try {
      mod = await import(spec)
    } catch {
      mod = {}
    }
    if (typeof mod.servePythonConnection !== 'function') {
      conn.close(new ProtocolError('a Python (pickle) client connected, but the Python dialect is not available in this build'))
      return
    }
    mod.servePythonConnection({
      conn, firstFrame, registry: this.registry, address: this.address, log: this.log,
      shutdown: () => this.shutdownRequested(), limits: { ...this.limits, maxIntDigits: this.opts.maxIntDigits },
    })
  }

  private get limits(): FrameLimits {
    return { maxValues: this.opts.maxFrameValues, maxDepth: this.opts.maxDepth }
  }

  private shutdownRequested(): void {
    // Reply first, then stop: the requester gets its answer before the socket closes.
    setImmediate(() => { void this.close().then(() => this.opts.onShutdown?.()) })
  }
}

/** One troupe client connection: decodes request batches, calls the registry, batches replies. */
class TroupeSession {
  private readonly registry: ObjectRegistry
  private readonly conn: FrameConnection
  private readonly log: (line: string) => void
  private readonly onShutdown: () => void
  private readonly ctx: CallContext
  // A call that may wait reads its signal (park does); it gets an AbortController of its own then, and only
  // then. One signal shared by every waiting call would cost O(n) per listener added: O(n²) for n waiting calls.
  private signalOfCall: AbortController | undefined
  private readonly waiting = new Set<AbortController>()
  private readonly cancellers = new Map<number, AbortController>()
  private gone = false
  // Calls of this connection still waiting (a parked get): each holds memory, so their number is bounded.
  private inFlight = 0
  private outbox: Reply[] = []
  // Replies in the outbox that hand out items (a queue's gets), by id: put back if the reply cannot be sent.
  private readonly handedOut = new Map<number, [ident: string, method: string, value: unknown]>()
  private flushQueued = false
  private readonly origin: string

  private readonly serverId: string
  private readonly limits: FrameLimits

  constructor(registry: ObjectRegistry, conn: FrameConnection, log: (line: string) => void, onShutdown: () => void, origin: string, serverId: string, limits: FrameLimits) {
    this.serverId = serverId
    this.limits = limits
    this.registry = registry
    this.conn = conn
    this.log = log
    this.onShutdown = onShutdown
    const session = this
    this.ctx = {
      caller: `c${++sessionCounter}`,
      get signal(): AbortSignal {
        if (!session.signalOfCall) {
          session.signalOfCall = new AbortController()
          if (session.gone) session.signalOfCall.abort()
        }
        return session.signalOfCall.signal
      },
    }
    this.origin = origin
    conn.onClose(() => {
      // Replies not sent yet give back what they took; parked calls of this client give up (their items
      // stay queued); then its references are dropped.
      for (const out of [...this.handedOut.values()].reverse()) this.registry.giveBack(...out)
      this.handedOut.clear()
      this.outbox = []
      this.gone = true
      for (const ac of this.waiting) ac.abort()
      // Locks and semaphore units this client still held are given back, so no one waits on a dead client.
      this.registry.callerGone(this.ctx.caller!)
      this.registry.releaseOwner(this)
    })
  }

  start(first: Buffer): void {
    this.onFrame(first)
    this.conn.onFrame((f) => this.onFrame(f))
  }

  private onFrame(frame: Buffer): void {
    if (!this.conn.isOpen) return
    let batch
    try {
      batch = decodeRequests(frame, this.limits)
    } catch (err) {
      this.refuseFrame(err as Error)
      return
    }
    if (batch.refused.length) {
      const [id, first] = batch.refused[0]!
      this.log(`refused ${batch.refused.length} request(s) from ${this.conn.peer} (first: ${id}, ${first.name}: ${first.message})`)
      for (const [rid, err] of batch.refused) this.outbox.push([rid, Status.Error, toWireError(err, this.origin)])
    }
    for (const req of batch.requests) this.handle(req)
    this.flush()
  }

  // A frame that cannot be used at all: its requests cannot be told apart, so the client is told why and the connection goes.
  private refuseFrame(err: Error): void {
    this.flush()
    this.log(`closed connection from ${this.conn.peer}: ${err.name}: ${err.message}`)
    try { this.conn.send(encodeBatch([[CONNECTION_REPLY_ID, Status.Error, toWireError(err, this.origin)]])) } catch { /* closing anyway */ }
    this.conn.close(undefined)
  }

  private handle(req: Request): void {
    const [id, ident, method, args, cancellable] = req
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.outbox.push([id, Status.Error, toWireError(new ProtocolError(`more than ${MAX_IN_FLIGHT} calls are waiting on this connection; wait for some before making more`), this.origin)])
      return
    }
    this.signalOfCall = undefined
    try {
      let out: unknown
      if (ident === '') out = this.control(method, args)
      else out = this.registry.call(ident, method, args, this.ctx, this)
      const ac = this.signalOfCall
      this.signalOfCall = undefined
      if (out instanceof Promise) {
        this.inFlight++
        if (ac) {
          this.waiting.add(ac)
          if (cancellable) this.cancellers.set(id, ac)
        }
        out.then((v) => this.reply(id, v as CallResult | ControlResult, ident, method), (err) => this.replyError(id, err)).finally(() => {
          this.inFlight--
          if (ac) {
            this.waiting.delete(ac)
            if (this.cancellers.get(id) === ac) this.cancellers.delete(id)
          }
        })
      } else {
        this.push(id, out as CallResult | ControlResult, ident, method)
      }
    } catch (err) {
      this.signalOfCall = undefined
      this.outbox.push([id, Status.Error, toWireError(err, this.origin)])
    }
  }

  private control(method: string, args: unknown[]): ControlResult | Promise<ControlResult> {
    const r = this.registry
    switch (method) {
      case 'create':
        return r.create(name(args, 'typeid'), args.slice(1), this).then((e) => ({ proxy: { typeid: e.typeid, ident: e.ident, exposed: e.exposed } }))
      case 'incref': r.incref(name(args, 'ident'), this); return { value: null }
      case 'decref': r.decref(name(args, 'ident'), this); return { value: null }
      case 'cancel': this.cancellers.get(Number(args[0]))?.abort(); return { value: null }
      case 'dummy': return { value: null }
      case 'serverId': return { value: this.serverId }
      case 'numberOfObjects': return { value: r.numberOfObjects() }
      case 'getMethods': return { value: [...r.exposed(name(args, 'ident'))] }
      case 'typeids': return { value: r.typeids() }
      case 'debugInfo': return { value: r.debugInfo() }
      case 'shutdown': this.onShutdown(); return { value: null }
      default: throw new UnknownMethodError(`unknown manager control method '${method}'`)
    }
  }

  private toReply(id: number, out: CallResult | ControlResult): Reply {
    if ('kind' in out) {
      if (out.kind === 'return') return out.value === undefined ? [id, Status.Return] : [id, Status.Return, out.value]
      return [id, Status.Proxy, { typeid: out.typeid, ident: out.ident, exposed: out.exposed } satisfies ProxyInfo]
    }
    if ('proxy' in out) return [id, Status.Proxy, out.proxy]
    return out.value === undefined ? [id, Status.Return] : [id, Status.Return, out.value]
  }

  private push(id: number, out: CallResult | ControlResult, ident: string, method: string): void {
    if ('kind' in out && out.kind === 'return' && ident !== '' && this.registry.handsOut(ident, method)) this.handedOut.set(id, [ident, method, out.value])
    this.outbox.push(this.toReply(id, out))
  }

  private reply(id: number, out: CallResult | ControlResult, ident: string, method: string): void {
    if (!this.conn.isOpen) {
      // Its caller is gone: what it took goes back.
      if ('kind' in out && out.kind === 'return' && ident !== '') this.registry.giveBack(ident, method, out.value)
      return
    }
    this.push(id, out, ident, method)
    this.scheduleFlush()
  }

  private replyError(id: number, err: unknown): void {
    if (!this.conn.isOpen) return
    this.outbox.push([id, Status.Error, toWireError(err, this.origin)])
    this.scheduleFlush()
  }

  // Replies that become ready later (a parked get) are gathered for the rest of this turn and sent as one frame.
  private scheduleFlush(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    queueMicrotask(() => { this.flushQueued = false; this.flush() })
  }

  private flush(): void {
    if (!this.outbox.length || !this.conn.isOpen) return
    const batch = this.outbox
    this.outbox = []
    let payload: Buffer | undefined
    try {
      payload = encodeBatch(batch)
    } catch { /* one reply could not be serialized: sent one by one below */ }
    if (payload && payload.length <= this.conn.maxFrameSize) {
      this.conn.send(payload)
    } else {
      // Each reply alone, so only one that cannot be serialized, or is too big for any frame, becomes an error.
      const frames: (Buffer | Error)[] = batch.map((r) => this.encodeOne(r))
      // What those calls handed out goes back, last first, so the queue's order is kept.
      for (let i = batch.length - 1; i >= 0; i--) {
        const f = frames[i]!
        const out = this.handedOut.get(batch[i]![0])
        if (f instanceof Error && out && this.registry.giveBack(...out)) f.message += '; what it took was put back'
      }
      frames.forEach((f, i) => this.conn.send(f instanceof Error ? encodeBatch([[batch[i]![0], Status.Error, toWireError(f, this.origin)]]) : f))
    }
    this.handedOut.clear()
  }

  // One reply as its own frame, or why it cannot be sent.
  private encodeOne(r: Reply): Buffer | Error {
    try {
      const payload = encodeBatch([r])
      if (payload.length <= this.conn.maxFrameSize) return payload
      return new ProtocolError(`the reply of ${payload.length} bytes exceeds the frame limit of ${this.conn.maxFrameSize} bytes (maxFrameSize)`)
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err))
    }
  }
}

type ControlResult = { value: unknown } | { proxy: ProxyInfo }

// The first argument of a control method that names something (a typeid, an ident).
function name(args: unknown[], what: string): string {
  const v = args[0]
  if (typeof v !== 'string') throw new ProtocolError(`the ${what} must be a string, got ${v === null ? 'null' : typeof v}`)
  return v
}

