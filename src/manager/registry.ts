/**
 * The server's object registry, shared by every wire dialect (troupe's v8
 * dialect here, CPython's pickle dialect in ./python). It knows typeids,
 * exposed method names, method_to_typeid, idents (strings) and refcounts, and
 * nothing about bytes on a socket.
 */
import { ProtocolError, UnknownMethodError } from '../errors.js'
import { checkArguments, type Signature } from './arguments.js'

/** How a typeid was registered on the server. */
export interface TypeSpec {
  /** Makes a new object for `create(typeid, ...args)`; absent for typeids only returned by methods (`create_method=False`). */
  factory?: (...args: any[]) => unknown
  /** Method names clients may call (default: the object's public methods). */
  exposed?: readonly string[]
  /** Methods whose result is registered as a new object of the given typeid and returned as a proxy. */
  methodToTypeid?: Readonly<Record<string, string>>
  /** Arguments each method accepts, checked before the call (see arguments.ts); methods without one are not checked. */
  signatures?: Readonly<Record<string, Signature>>
  /** Arguments the factory accepts, checked before `create` calls it. */
  createSignature?: Signature
  /**
   * Methods that hand out what the object held (a queue's gets), and how to put it back when the
   * reply cannot be delivered (too big for a frame, or its caller gone): `{ getMany: { via: 'returnItems', many: true } }`.
   */
  giveBack?: Readonly<Record<string, { via: string; many: boolean }>>
}

/**
 * Whether a factory is a class to construct (Python's `register('Counter', Counter)`):
 * class syntax, or a function whose prototype has methods (a built-in like Map, an
 * ES5 constructor). A plain factory function or an arrow is called.
 */
function isConstructor(fn: (...args: any[]) => unknown): boolean {
  if (Function.prototype.toString.call(fn).startsWith('class')) return true
  const proto = (fn as { prototype?: object }).prototype
  return proto !== undefined && Object.getOwnPropertyNames(proto).some((name) => name !== 'constructor')
}

/** One live object on the server. */
export interface Entry {
  readonly ident: string
  readonly typeid: string
  readonly obj: any
  readonly exposed: readonly string[]
  /** `exposed` as a set, for the per-call check. */
  readonly exposedSet: ReadonlySet<string>
  readonly methodToTypeid: Readonly<Record<string, string>>
  /** Argument checks by method name (from the TypeSpec). */
  readonly signatures: Readonly<Record<string, Signature>> | undefined
  /** How to put back what a method handed out (from the TypeSpec). */
  readonly giveBack: TypeSpec['giveBack']
  refcount: number
}

/** What a method call produced: a plain value, or a new server object the client gets a proxy for. */
export type CallResult =
  | { kind: 'return'; value: unknown }
  | { kind: 'proxy'; typeid: string; ident: string; exposed: readonly string[] }

/**
 * Who is calling: lets blocking methods give up when the caller goes away
 * (the connection's signal aborts) and lets RLock/Condition know their owner.
 */
export interface CallContext {
  /** Aborted when the calling connection closes: a waiting `get` is cancelled and no item is lost. */
  signal?: AbortSignal
  /** A stable id of the calling connection (the owner of an RLock). */
  caller?: string
}

/**
 * Who holds references: each connection is an owner; its references are
 * dropped when it closes, so objects are released when their clients go
 * away. Dialects whose refcounts are not tied to a connection (CPython's
 * separate incref/decref connections) pass no owner.
 */
export type Owner = object

let current: CallContext = {}

/**
 * A server object may implement `[callerGone](caller)` to undo what a client
 * that disconnected still held (a Lock it acquired), so nobody waits forever
 * on a client that died. The registry calls it when a connection closes.
 */
export const callerGone: unique symbol = Symbol.for('troupe.manager.callerGone')

/**
 * The context of the server-side method call now starting. Read it
 * synchronously at the top of a method (before any await); the registry sets
 * it just around the call, which is cheaper than AsyncLocalStorage on the hot path.
 */
export function callContext(): CallContext {
  return current
}

/** Public methods of an object: callables on it and its prototype chain, not starting with `_`, minus `constructor`. */
export function publicMethods(obj: object): string[] {
  const names = new Set<string>()
  for (let o: object | null = obj; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const k of Object.getOwnPropertyNames(o)) {
      if (k === 'constructor' || k.startsWith('_') || names.has(k)) continue
      const d = Object.getOwnPropertyDescriptor(o, k)
      if (d && typeof d.value === 'function') names.add(k)
    }
  }
  return [...names]
}

/** The registry of typeids and live objects that a manager server serves. */
export class ObjectRegistry {
  private readonly types = new Map<string, TypeSpec>()
  private readonly objects = new Map<string, Entry>()
  private readonly owners = new WeakMap<Owner, Map<string, number>>()
  // One ident per live object, as CPython does: a factory that returns the same shared queue to every client yields one entry.
  private readonly byObject = new Map<object, Entry>()
  private nextId = 1

  /** Register (or replace) a typeid. */
  register(typeid: string, spec: TypeSpec): void {
    this.types.set(typeid, spec)
  }

  /** Registered typeids and their specs. */
  typeids(): string[] {
    return [...this.types.keys()]
  }

  /** The spec of a typeid, or undefined. */
  spec(typeid: string): TypeSpec | undefined {
    return this.types.get(typeid)
  }

  /** Call the typeid's factory and register the result with refcount 1 (owned by `owner` when given). */
  async create(typeid: string, args: unknown[], owner?: Owner): Promise<Entry> {
    const spec = this.types.get(typeid)
    if (!spec) throw new UnknownMethodError(`unknown typeid '${typeid}' (registered: ${this.typeids().join(', ') || 'none'})`)
    if (!spec.factory) throw new UnknownMethodError(`typeid '${typeid}' has no factory; it is only returned by other methods`)
    if (spec.createSignature) checkArguments(typeid, spec.createSignature, args)
    const obj = isConstructor(spec.factory) ? new (spec.factory as unknown as new (...a: unknown[]) => unknown)(...args) : await spec.factory(...args)
    return this.add(typeid, obj, owner)
  }

  /** Register an existing object under `typeid` with refcount 1 (as a method listed in method_to_typeid does). */
  add(typeid: string, obj: unknown, owner?: Owner): Entry {
    const known = obj !== null && typeof obj === 'object' ? this.byObject.get(obj) : undefined
    if (known && known.typeid === typeid) {
      this.incref(known.ident, owner)
      return known
    }
    const spec = this.types.get(typeid) ?? {}
    const m2t = spec.methodToTypeid ?? {}
    let exposed = spec.exposed ?? (obj !== null && typeof obj === 'object' ? publicMethods(obj) : [])
    const extra = Object.keys(m2t).filter((k) => !exposed.includes(k))
    if (extra.length) exposed = [...exposed, ...extra]
    const ident = (this.nextId++).toString(16)
    const entry: Entry = { ident, typeid, obj, exposed, exposedSet: new Set(exposed), methodToTypeid: m2t, signatures: spec.signatures, giveBack: spec.giveBack, refcount: 0 }
    this.objects.set(ident, entry)
    if (obj !== null && typeof obj === 'object' && !known) this.byObject.set(obj, entry)
    this.incref(ident, owner)
    return entry
  }

  /** The live object with this ident; UnknownMethodError when there is none. */
  lookup(ident: string): Entry {
    const e = this.objects.get(ident)
    if (!e) throw new UnknownMethodError(`no object with ident '${ident}' on this manager (released, or never created)`)
    return e
  }

  /** Exposed method names of an object. */
  exposed(ident: string): readonly string[] {
    return this.lookup(ident).exposed
  }

  /** Add a reference. */
  incref(ident: string, owner?: Owner): void {
    const e = this.lookup(ident)
    e.refcount++
    if (owner) {
      let m = this.owners.get(owner)
      if (!m) this.owners.set(owner, (m = new Map()))
      m.set(ident, (m.get(ident) ?? 0) + 1)
    }
  }

  /**
   * Drop a reference; the object is released at zero. An owner may only drop
   * references it holds, so no client can release an object others still use.
   */
  decref(ident: string, owner?: Owner): void {
    const e = this.lookup(ident)
    if (owner) {
      const m = this.owners.get(owner)
      const n = m?.get(ident) ?? 0
      if (n === 0) throw new ProtocolError(`this connection holds no reference to object '${ident}' to release`)
      if (n > 1) m!.set(ident, n - 1)
      else m!.delete(ident)
    }
    if (--e.refcount <= 0) this.drop(e)
  }

  private drop(e: Entry): void {
    this.objects.delete(e.ident)
    if (this.byObject.get(e.obj) === e) this.byObject.delete(e.obj)
  }

  /** Drop every reference `owner` still holds (its connection closed). */
  releaseOwner(owner: Owner): void {
    const m = this.owners.get(owner)
    if (!m) return
    this.owners.delete(owner)
    for (const [ident, n] of m) {
      const e = this.objects.get(ident)
      if (!e) continue
      e.refcount -= n
      if (e.refcount <= 0) this.drop(e)
    }
  }

  /** Tell every live object that `caller` disconnected (see `callerGone`); call before `releaseOwner`. */
  callerGone(caller: string): void {
    for (const e of this.objects.values()) {
      const fn = (e.obj as { [callerGone]?: (c: string) => void } | null)?.[callerGone]
      if (typeof fn === 'function') {
        try { fn.call(e.obj, caller) } catch { /* one object's cleanup must not stop the others' */ }
      }
    }
  }

  /** How many objects are alive (Python's `number_of_objects`). */
  numberOfObjects(): number {
    return this.objects.size
  }

  /** Idents with refcounts and typeids, for debugging. */
  debugInfo(): { ident: string; typeid: string; refcount: number }[] {
    return [...this.objects.values()].map((e) => ({ ident: e.ident, typeid: e.typeid, refcount: e.refcount }))
  }

  /**
   * Call an exposed method. A result of a method in method_to_typeid is
   * registered (refcount 1, owned by `owner`) and returned as a proxy result.
   * Sync methods return without a promise hop, which keeps the hot path of
   * pipelined puts/gets cheap.
   */
  call(ident: string, method: string, args: unknown[], ctx: CallContext = {}, owner?: Owner): CallResult | Promise<CallResult> {
    const e = this.lookup(ident)
    if (!e.exposedSet.has(method)) {
      throw new UnknownMethodError(`method '${method}' of ${e.typeid} is not exposed (exposed: ${e.exposed.join(', ')})`)
    }
    const fn = e.obj[method]
    if (typeof fn !== 'function') throw new UnknownMethodError(`${e.typeid}.${method} is not a function on the server object`)
    const sig = e.signatures && Object.hasOwn(e.signatures, method) ? e.signatures[method] : undefined
    if (sig) checkArguments(`${e.typeid}.${method}`, sig, args)
    const prev = current
    current = ctx
    let out: unknown
    try {
      out = fn.apply(e.obj, args)
    } finally {
      current = prev
    }
    const typeid = e.methodToTypeid[method]
    if (out instanceof Promise) return out.then((v) => this.wrap(v, typeid, owner))
    return this.wrap(out, typeid, owner)
  }

  /** Whether `method` of object `ident` hands out what the object held (see TypeSpec.giveBack). */
  handsOut(ident: string, method: string): boolean {
    const g = this.objects.get(ident)?.giveBack
    return g !== undefined && Object.hasOwn(g, method)
  }

  /** Put back what `method` of `ident` handed out in `value`, because its reply could not be delivered; false when it cannot be. */
  giveBack(ident: string, method: string, value: unknown): boolean {
    const e = this.objects.get(ident)
    const how = e?.giveBack && Object.hasOwn(e.giveBack, method) ? e.giveBack[method] : undefined
    if (!e || !how || typeof e.obj[how.via] !== 'function') return false
    try {
      e.obj[how.via](how.many ? value : [value])
      return true
    } catch {
      return false
    }
  }

  /**
   * Run `fn` as a method call made by `ctx` (what `callContext()` reads inside
   * it): how a dialect that calls objects its own way (CPython's, through the
   * Python faces) gives Locks and queues their caller and signal.
   */
  invoke<T>(ctx: CallContext, fn: () => T): T {
    const prev = current
    current = ctx
    try {
      return fn()
    } finally {
      current = prev
    }
  }

  private wrap(value: unknown, typeid: string | undefined, owner?: Owner): CallResult {
    if (typeid === undefined) return { kind: 'return', value }
    const child = this.add(typeid, value, owner)
    return { kind: 'proxy', typeid, ident: child.ident, exposed: child.exposed }
  }
}

/**
 * What a non-troupe dialect gets from the manager server: the authenticated
 * connection, the first frame already read (so the dialect byte is not lost),
 * and the shared registry. `src/manager/python/index.ts` exports
 * `servePythonConnection(session: DialectSession): void` with this argument.
 */
export interface DialectSession {
  /** The authenticated framed connection; call `onFrame` to receive the rest. */
  conn: import('../net/index.js').FrameConnection
  /** The first request frame (its first byte told the dialect). */
  firstFrame: Buffer
  /** The server's shared object registry. */
  registry: ObjectRegistry
  /** The server's address as clients write it (`127.0.0.1:5000` or a path), for Tokens. */
  address: import('../net/index.js').Address
  /** Log a reason (refused request, closed connection). */
  log(line: string): void
  /** Stop the whole manager server (the `shutdown` control request). */
  shutdown(): void
  /** What one request frame may hold (the server's maxFrameValues, maxDepth, maxIntDigits). */
  limits?: { maxValues?: number; maxDepth?: number; maxIntDigits?: number }
}
