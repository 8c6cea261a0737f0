/**
 * Serving CPython `BaseManager` clients from a troupe manager (wire reference
 * §3). The manager server authenticates the connection, sees a pickle PROTO
 * byte first and hands the connection here; the objects are the same registry
 * entries troupe clients use, so Python and Node share one queue.
 */
import { formatAddress, type FrameConnection } from '../../net/index.js'
import {
  decodePickleAsync, encodePickle, tuple, tupleFrom, pyToken, pyText, readToken, marshal, type PyFlavor,
} from '../../codec/index.js'
import { ForbiddenGlobalError, DecodeError, UnsendableValueError, UnknownMethodError } from '../../errors.js'
import type { DialectSession, CallContext, ObjectRegistry, Entry } from '../registry.js'
import { builtinFactories } from '../builtins.js'
import { pythonExposed, pythonError, troupeArgs, troupeMethod, tracebackText } from './adapt.js'
import { pythonFace, faceMethod, callFace, pythonCreate, Served, PY_CONSTRUCTORS, type Face } from './faces.js'

/** Control functions of CPython's `Server.public` (§3.1); each one arrives on its own connection. */
export const PYTHON_CONTROL = ['shutdown', 'create', 'accept_connection', 'get_methods', 'debug_info', 'number_of_objects', 'dummy', 'incref', 'decref'] as const

type Reply = readonly [kind: string, value: unknown]
interface Request { ident: string | null; method: string; args: unknown[]; kwds: Map<unknown, unknown> | undefined }

let sessions = 0
// Frames of one connection received but not yet served, past which its socket is paused.
const MAX_QUEUED_FRAMES = 64

/** Serve one authenticated CPython connection whose first frame is `session.firstFrame`. */
export function servePythonConnection(session: DialectSession): void {
  new PythonSession(session).start()
}

/**
 * Values are held in marshalled form, as troupe clients send them, so a tuple
 * reaches a troupe client as a Tuple. A value that contains itself through an
 * OrderedDict or an opaque object has no such form: it is held as decoded
 * (Python peers get it back intact; a troupe client reads plain Maps/objects).
 */
function storedForm(v: unknown): unknown {
  try {
    return marshal(v, 'value').value
  } catch (err) {
    if (err instanceof UnsendableValueError && /contains itself/.test(err.message)) return v
    throw err
  }
}

class PythonSession {
  private readonly conn: FrameConnection
  private readonly registry: ObjectRegistry
  private readonly origin: string
  private readonly aborter = new AbortController()
  private readonly ctx: CallContext
  /** Reply in the protocol the peer wrote: Python 2.7 sends 2 and cannot read 4 (§4, issue 6). */
  private protocol = 4
  /** Which Python the peer is: Python 2 writes protocol 2; 3.12+ answers the handshake with `{digest}` (§2.2). */
  private get flavor(): PyFlavor {
    return { py2: this.protocol <= 2, py312: this.conn.peerAuthDialect === 'modern' }
  }
  private serving = false
  private chain: Promise<void> = Promise.resolve()
  private queued = 0

  constructor(private readonly session: DialectSession) {
    this.conn = session.conn
    this.registry = session.registry
    this.origin = `${formatAddress(session.address)} (pid ${process.pid})`
    this.ctx = { signal: this.aborter.signal, caller: `py${++sessions}` }
    // A Python thread blocked in get() that disconnects gives up its wait; the item stays queued.
    this.conn.onClose(() => this.aborter.abort())
  }

  start(): void {
    this.enqueue(this.session.firstFrame)
    this.conn.onFrame((f) => this.enqueue(f))
  }

  // CPython clients wait for each reply, but a pipelining peer must still be answered in order; one
  // that sends faster than its requests are served (behind a parked get) is paused, not buffered without end.
  private enqueue(frame: Buffer): void {
    if (++this.queued > MAX_QUEUED_FRAMES) this.conn.pause()
    this.chain = this.chain.then(() => this.handle(frame)).catch((err: Error) => {
      this.session.log(`python client ${this.conn.peer}: ${err.name}: ${err.message}`)
      this.conn.close(err)
    }).finally(() => {
      if (--this.queued <= MAX_QUEUED_FRAMES / 2) this.conn.resume()
    })
  }

  private async handle(frame: Buffer): Promise<void> {
    if (!this.conn.isOpen) return
    let req: Request
    try {
      req = await this.parse(frame)
    } catch (err) {
      // Refuse this request, keep the connection (as CPython's serve_client does), log why.
      const e = err as Error
      this.session.log(`refused a request from python client ${this.conn.peer}: ${e.name}: ${e.message}`)
      this.send(['#TRACEBACK', tracebackText(e, this.origin)])
      if (!this.serving) this.conn.close()
      return
    }
    if (!this.serving) return this.control(req)
    this.send(await this.callMethod(req))
  }

  private async parse(frame: Buffer): Promise<Request> {
    // Read the protocol before decoding, so even a refused pickle is answered in a form its writer can read.
    if (frame[0] === 0x80 && frame.length > 1) this.protocol = Math.min(5, Math.max(2, frame[1]!))
    // Bounded (values, nesting, int digits) and decoded a slice at a time, so a big pickle stalls no other client.
    const { value } = await decodePickleAsync(frame, this.session.limits)
    if (!Array.isArray(value) || value.length !== 4) throw new DecodeError('a manager request must be a 4-tuple (ident, methodname, args, kwds)')
    const [ident, method, args, kwds] = value
    const name = pyText(method)
    if (name === undefined) throw new DecodeError('methodname must be a str')
    if (!Array.isArray(args)) throw new DecodeError('args must be a tuple')
    if (kwds !== null && kwds !== undefined && !(kwds instanceof Map)) throw new DecodeError('kwds must be a dict')
    return { ident: ident === null ? null : pyText(ident) ?? String(ident), method: name, args: [...args], kwds: kwds ?? undefined }
  }

  /** One control request (§3.3); the connection closes after the reply unless it becomes a proxy connection. */
  private async control(req: Request): Promise<void> {
    let reply: Reply
    try {
      reply = ['#RETURN', await this.controlValue(req)]
    } catch (err) {
      // CPython's handle_request answers every failed control call with a traceback (a RemoteError in the client).
      reply = ['#TRACEBACK', tracebackText(err instanceof Error ? err : new Error(String(err)), this.origin)]
    }
    this.send(reply)
    if (req.method === 'accept_connection' && reply[0] === '#RETURN') { this.serving = true; return }
    if (req.method === 'shutdown') this.session.shutdown()
    this.conn.close()
  }

  private async controlValue(req: Request): Promise<unknown> {
    const r = this.registry
    const a = req.args
    switch (req.method) {
      case 'dummy': return null
      case 'accept_connection': return null
      case 'create': {
        const typeid = pyText(a[0])
        if (typeid === undefined) throw new TypeError('create() needs a typeid')
        const entry = await this.create(typeid, a.slice(1), req.kwds)
        return tuple(entry.ident, this.exposedOf(entry))
      }
      case 'incref': r.incref(this.ident(a[0])); return null
      case 'decref': r.decref(this.ident(a[0])); return null
      case 'get_methods': {
        const token = readToken(a[0])
        return this.exposedOf(r.lookup(token ? token.id : this.ident(a[0])))
      }
      case 'number_of_objects': return r.numberOfObjects()
      case 'debug_info':
        return r.debugInfo().map((e) => `  ${e.ident}:       refcount=${e.refcount}\n    <${e.typeid}>`).join('\n')
      case 'shutdown': return null
      default:
        throw new UnknownMethodError(`AssertionError: ${JSON.stringify(req.method)} unrecognized (control functions: ${PYTHON_CONTROL.join(', ')})`)
    }
  }

  /**
   * SyncManager's typeids are built as CPython's server builds them (Python's
   * arguments, checks and defaults); other typeids call their troupe factory.
   * Python refcounts travel on separate incref/decref connections, so they belong to no connection (§3.5).
   */
  private async create(typeid: string, args: unknown[], kwds: Map<unknown, unknown> | undefined): Promise<Entry> {
    const r = this.registry
    const spec = r.spec(typeid)
    if (spec?.factory && spec.factory === builtinFactories[typeid] && PY_CONSTRUCTORS[typeid]) {
      const obj = r.invoke(this.ctx, () => pythonCreate(typeid, storedForm(args) as unknown[], storedForm(kwds ?? new Map()) as Map<unknown, unknown>, this.flavor))
      return r.add(typeid, obj)
    }
    if (kwds?.size) args = [...args, Object.fromEntries([...kwds].map(([k, v]) => [pyText(k) ?? String(k), v]))]
    return r.create(typeid, storedForm(args) as unknown[])
  }

  /**
   * The Python face of a served object: its class's, unless a user registered
   * the typeid with an explicit `exposed` list, which then rules (as in CPython).
   */
  private faceOf(entry: Entry): Face | undefined {
    const spec = this.registry.spec(entry.typeid)
    if (spec?.exposed && spec.factory !== builtinFactories[entry.typeid]) return undefined
    return pythonFace(entry.obj)
  }

  /** The method names a Python client is told an object has: CPython's, for the types with a Python face. */
  private exposedOf(entry: Entry): unknown {
    const face = this.faceOf(entry)
    return face ? tupleFrom([...face.exposed(this.flavor)]) : pythonExposed(entry.exposed)
  }

  private ident(v: unknown): string {
    const s = pyText(v)
    if (s === undefined) throw new TypeError('expected an ident (str)')
    return s
  }

  /** One method call on a proxy connection (`serve_client`, §3.4). */
  private async callMethod(req: Request): Promise<Reply> {
    try {
      if (req.ident === null) throw new UnknownMethodError(`control function ${req.method} sent on a proxy connection`)
      const entry = this.registry.lookup(req.ident)
      const face = this.faceOf(entry)
      if (face) return await this.callFaced(entry, face, req)
      const method = troupeMethod(req.method, entry.exposed)
      if (method === undefined) return this.fallback(entry, undefined, req)
      // Stored values are in marshalled form, as a troupe client's are: a tuple then reaches troupe clients as a Tuple.
      const args = storedForm(troupeArgs(entry.obj, method, req.args, req.kwds)) as unknown[]
      const out = await this.registry.call(req.ident, method, args, this.ctx)
      if (out.kind === 'return') return ['#RETURN', out.value]
      return ['#PROXY', tuple(pythonExposed(out.exposed), pyToken(out.typeid, this.tokenAddress(), out.ident))]
    } catch (err) {
      return pythonError(err, this.origin, this.flavor)
    }
  }

  /** A SyncManager type's method, called as CPython's server calls it (faces.ts). */
  private async callFaced(entry: Entry, face: Face, req: Request): Promise<Reply> {
    const flavor = this.flavor
    const method = faceMethod(face, req.method, flavor)
    if (!method) return this.fallback(entry, face, req)
    const args = storedForm(req.args) as unknown[]
    const kwds = req.kwds?.size ? storedForm(req.kwds) as Map<unknown, unknown> : undefined
    let out = this.registry.invoke(this.ctx, () => callFace(method, entry.obj, args, kwds, { flavor, caller: this.ctx.caller }))
    if (out instanceof Promise) out = await out
    if (!(out instanceof Served)) return ['#RETURN', out ?? null]
    // method_to_typeid: the result is served as a new object, the client gets a proxy for it (§3.4).
    const child = this.registry.add(out.typeid, out.obj)
    return ['#PROXY', tuple(this.exposedOf(child), pyToken(out.typeid, this.tokenAddress(), child.ident))]
  }

  /** CPython's fallbacks for names an object does not expose: `#GETVALUE`, `__str__`, `__repr__`; else a traceback. */
  private fallback(entry: Entry, face: Face | undefined, req: Request): Reply {
    if (req.method === '#GETVALUE') return ['#RETURN', face ? face.value?.(entry.obj, this.flavor) ?? entry.obj : entry.obj]
    if (req.method === '__str__' || req.method === '__repr__') {
      return ['#RETURN', face?.str?.(entry.obj, this.flavor, entry.ident) ?? `<troupe ${entry.typeid} object ${entry.ident}>`]
    }
    const exposed = face ? face.exposed(this.flavor) : pythonExposed(entry.exposed)
    throw new UnknownMethodError(`AttributeError: method '${req.method}' of ${entry.typeid} is not exposed (exposed: ${exposed.join(', ')})`)
  }

  // The Python client replaces the address in a #PROXY token with its own (§3.6), so any faithful form works.
  private tokenAddress(): unknown {
    const a = this.session.address
    return a.kind === 'tcp' ? tuple(a.host, a.port) : a.path
  }

  private send(reply: Reply): void {
    if (!this.conn.isOpen) return
    const protocol = this.protocol as 2 | 3 | 4 | 5
    let payload: Buffer
    try {
      payload = encodePickle(tuple(reply[0], this.text(reply[0], reply[1])), { protocol })
    } catch (err) {
      const why = err instanceof UnsendableValueError || err instanceof ForbiddenGlobalError ? err.message : String(err)
      payload = encodePickle(tuple('#UNSERIALIZABLE', this.text('#UNSERIALIZABLE', `troupe could not pickle the result: ${why}\n`)), { protocol })
    }
    this.conn.send(payload)
  }

  // Python 2's client asserts `type(result) is str` for traceback texts: its str is bytes (protocol 2 = Python 2).
  private text(kind: string, value: unknown): unknown {
    return this.protocol === 2 && typeof value === 'string' && (kind === '#TRACEBACK' || kind === '#UNSERIALIZABLE') ? Buffer.from(value, 'utf8') : value
  }
}

