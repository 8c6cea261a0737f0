/**
 * The Python faces of troupe's shared objects: what CPython's own manager
 * server does when a Python client calls `d[(1, 2)]`, `l[10]`, `q.get(timeout=-1)`
 * or `lock.release()`, written against the troupe objects (docs/interop.md,
 * "Served to Python clients"). Each face lists CPython's exposed method names
 * and implements each method with CPython's signature, return values and
 * exception classes, for Python 2 and 3; test/interop/oracle.test.ts diffs
 * them against CPython's SyncManager.
 */
import {
  pyEquals, pyRepr, pySort, pyTruthy, pyTypeName, isPyInt, isPyNumber, pyIntValue, pyNumberValue, type PyFlavor,
  ByteArray, PyFloat, PyGlobal, PyObject, Slice, tuple, marshal, unmarshal, pyText, isTuple, py2Int, py2Unicode,
} from '../../codec/index.js'
import { Queue, JoinableQueue } from '../shared/queue.js'
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier } from '../shared/sync.js'
import { Dict, List, Namespace, Value, SharedArray } from '../shared/containers.js'
import type { BlockOptions } from '../shared/waiting.js'
import { MAX_SIZE } from '../arguments.js'
import { PyError, pyRaise, sig, bind, timeoutMs, type Bound, type Signature } from './call.js'

/** Who calls: the client's Python (types, messages) and its connection (lock ownership). */
export interface PyEnv {
  flavor: PyFlavor
  /** The calling connection's id (an RLock's owner). */
  caller?: string
}

/** A method result to serve as a new object (`method_to_typeid`): the client gets a proxy of `typeid`. */
export class Served {
  constructor(readonly typeid: string, readonly obj: object) {}
}

interface Method {
  sig: Signature
  call: (obj: any, a: Bound, env: PyEnv) => unknown
  /** Only for this Python major (default both). */
  only?: 2 | 3
}

/** How a Python client sees one kind of troupe object. */
export interface Face {
  /** CPython's exposed names for this object, as `create` sends them. */
  exposed(flavor: PyFlavor): readonly string[]
  methods: Readonly<Record<string, Method>>
  /** Methods whose Python 2 signature differs (a C method taking one flag, no keywords). */
  py2?: Readonly<Record<string, Method>>
  /** `str(obj)` on CPython's server (the `__str__` / `__repr__` fallback). */
  str?(obj: any, flavor: PyFlavor, ident: string): string
  /** What `_getvalue()` returns (`#GETVALUE`); absent when CPython cannot pickle the object either. */
  value?(obj: any, flavor: PyFlavor): unknown
}

const m = (s: Signature, call: Method['call'], only?: 2 | 3): Method => ({ sig: s, call, only })

/** The face for a troupe object (by class), or undefined for objects served with troupe's generic mapping. */
export function pythonFace(obj: unknown): Face | undefined {
  for (let p = obj !== null && typeof obj === 'object' ? Object.getPrototypeOf(obj) : null; p; p = Object.getPrototypeOf(p)) {
    const f = FACES.get(p.constructor)
    if (f) return f
  }
  return undefined
}

/** The face's method `name` for this Python, if it has one. */
export function faceMethod(face: Face, name: string, flavor: PyFlavor): Method | undefined {
  if (!face.exposed(flavor).includes(name)) return undefined
  const own = (table: Readonly<Record<string, Method>> | undefined) => (table && Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined)
  const method = (flavor.py2 ? own(face.py2) : undefined) ?? own(face.methods)
  return method && (!method.only || method.only === (flavor.py2 ? 2 : 3)) ? method : undefined
}

/** Call a face method with a Python call's args and kwds. */
export function callFace(method: Method, obj: unknown, args: readonly unknown[], kwds: Map<unknown, unknown> | undefined, env: PyEnv): unknown {
  return method.call(obj, bind(method.sig, args, kwds), env)
}

// Reprs of server objects show an address, as CPython's do; the ident stands in for it.
const fakeAddress = (ident: string) => `0x7f${ident.padStart(10, '0')}`

// ---------------------------------------------------------------------------------------------
// Python argument conventions

const isNone = (v: unknown) => v === null || v === undefined

function number(v: unknown, flavor: PyFlavor): number {
  if (!isPyNumber(v)) throw pyRaise('TypeError', `'<' not supported between instances of '${pyTypeName(v, flavor)}' and 'int'`)
  return pyNumberValue(v)
}

/** An int argument (bool counts), as `__index__` takes it. */
function int(v: unknown, flavor: PyFlavor): number {
  if (!isPyInt(v)) throw pyRaise('TypeError', `'${pyTypeName(v, flavor)}' object cannot be interpreted as an integer`)
  return pyIntValue(v as number)
}

/** What `iter(v)` yields on CPython's server, for the values troupe holds. */
function iterate(v: unknown, flavor: PyFlavor): unknown[] {
  const live = unmarshal(structuredCloneLite(v))
  if (typeof live === 'string') return [...live]
  // A Python 2 unicode (String object) iterates to one-character unicodes.
  if (live instanceof String) return [...live.valueOf()].map((c) => (c.charCodeAt(0) < 0x80 ? py2Unicode(c) : c))
  if (live instanceof Uint8Array) {
    // Python 2's str iterates to one-character strs; bytes and bytearray to ints.
    if (flavor.py2 && !(live instanceof ByteArray)) return [...live].map((b) => (b < 0x80 ? String.fromCharCode(b) : Buffer.from([b])))
    return [...live]
  }
  if (Array.isArray(live) || live instanceof Set) return [...live]
  if (live instanceof Map) return [...live.keys()]
  if (live instanceof PyObject && (live.type === 'builtins.range' || live.type === 'builtins.xrange')) {
    const [a, b, c] = live.args.map((x) => pyIntValue(x as number))
    const [start, stop, step] = live.args.length === 1 ? [0, a!, 1] : [a!, b!, c ?? 1]
    const n = step > 0 ? Math.max(0, Math.ceil((stop - start) / step)) : Math.max(0, Math.ceil((start - stop) / -step))
    // A few bytes of `range` must not cost the server more than a frame may (MAX_SIZE, docs/manager.md "Limits").
    if (n > MAX_SIZE) throw pyRaise('MemoryError', `range of ${n} items: more than the ${MAX_SIZE} one request may build`)
    return Array.from({ length: n }, (_, i) => start + i * step)
  }
  if (live !== null && typeof live === 'object' && Object.getPrototypeOf(live) === Object.prototype) return Object.keys(live)
  throw pyRaise('TypeError', `'${pyTypeName(v, flavor)}' object is not iterable`)
}

/** Records inside a value are revived in place by unmarshal: revive a shallow copy, never what the server holds. */
function structuredCloneLite(v: unknown): unknown {
  if (Array.isArray(v)) return v.slice()
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return { ...v }
  return v
}

/** Items as the server stores them: Python values in their marshalled form. */
const stored = (items: unknown[]) => marshal(items, 'value').value as unknown[]

/** Python's `slice.indices(length)`. */
function sliceIndices(s: Slice, length: number): [number, number, number] {
  const idx = (v: unknown) => {
    if (isNone(v)) return undefined
    if (!isPyInt(v)) throw pyRaise('TypeError', 'slice indices must be integers or None or have an __index__ method')
    return pyIntValue(v as number)
  }
  const step = idx(s.step) ?? 1
  if (step === 0) throw pyRaise('ValueError', 'slice step cannot be zero')
  const clamp = (v: number | undefined, dflt: number, lo: number, hi: number) => {
    if (v === undefined) return dflt
    if (v < 0) v += length
    return Math.min(Math.max(v, lo), hi)
  }
  const start = step > 0 ? clamp(idx(s.start), 0, 0, length) : clamp(idx(s.start), length - 1, -1, length - 1)
  const stop = step > 0 ? clamp(idx(s.stop), length, 0, length) : clamp(idx(s.stop), -1, -1, length - 1)
  return [start, stop, step]
}

function sliceRange(s: Slice, length: number): number[] {
  const [start, stop, step] = sliceIndices(s, length)
  const out: number[] = []
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i)
  return out
}

/** A list index as CPython's list takes it: an int (negative from the end), else TypeError. */
function listIndex(v: unknown, length: number, flavor: PyFlavor, outOfRange: string, what = 'list'): number {
  if (!isPyInt(v)) throw pyRaise('TypeError', `${what} indices must be integers or slices, not ${pyTypeName(v, flavor)}`)
  let i = pyIntValue(v as number)
  if (i < 0) i += length
  if (!(i >= 0 && i < length)) throw pyRaise('IndexError', outOfRange)
  return i
}

// ---------------------------------------------------------------------------------------------
// Queue and JoinableQueue (queue.Queue on CPython's server)

const queueNames = (f: PyFlavor) => ['empty', 'full', 'get', 'get_nowait', 'join', 'put', 'put_nowait', 'qsize', ...(f.py312 && !f.py2 ? ['shutdown'] : []), 'task_done']

function queuePut(q: Queue, item: unknown, block: unknown, timeout: unknown, env: PyEnv): unknown {
  const blocking = block === undefined || pyTruthy(block)
  let opts: BlockOptions | undefined
  // queue.Queue looks at block/timeout only when bounded (maxsize > 0).
  if (q.maxsize > 0) {
    if (!blocking) opts = { block: false }
    else if (!isNone(timeout)) {
      if (number(timeout, env.flavor) < 0) throw pyRaise('ValueError', "'timeout' must be a non-negative number")
      opts = { timeout: timeoutMs(timeout) }
    }
  }
  return q.put(item, opts)
}

function queueGet(q: Queue, block: unknown, timeout: unknown, env: PyEnv): unknown {
  if (block !== undefined && !pyTruthy(block)) return q.get({ block: false })
  if (isNone(timeout)) return q.get()
  if (number(timeout, env.flavor) < 0) throw pyRaise('ValueError', "'timeout' must be a non-negative number")
  return q.get({ timeout: timeoutMs(timeout) ?? undefined })
}

const queueFace: Face = {
  exposed: queueNames,
  methods: {
    qsize: m(sig('qsize'), (q: Queue) => q.qsize()),
    empty: m(sig('empty'), (q: Queue) => q.empty()),
    full: m(sig('full'), (q: Queue) => q.full()),
    put: m(sig('put', 'item', 'block?', 'timeout?'), (q: Queue, a, env) => queuePut(q, a.item, a.block, a.timeout, env)),
    put_nowait: m(sig('put_nowait', 'item'), (q: Queue, a, env) => queuePut(q, a.item, false, undefined, env)),
    get: m(sig('get', 'block?', 'timeout?'), (q: Queue, a, env) => queueGet(q, a.block, a.timeout, env)),
    get_nowait: m(sig('get_nowait'), (q: Queue, _a, env) => queueGet(q, false, undefined, env)),
    task_done: m(sig('task_done'), (q: Queue) => {
      if (!(q instanceof JoinableQueue)) throw pyRaise('ValueError', 'task_done() called too many times')
      q.taskDone()
    }),
    join: m(sig('join'), (q: Queue) => (q instanceof JoinableQueue ? q.join() : undefined)),
    shutdown: m(sig('shutdown', 'immediate?'), (q: Queue, a) => {
      if (pyTruthy(a.immediate ?? false)) while (!q.empty()) { q.get({ block: false }); if (q instanceof JoinableQueue && q.unfinishedTasks()) q.taskDone() }
      q.close()
    }, 3),
  },
  str: (_q, f, ident) => (f.py2 ? `<Queue.Queue instance at ${fakeAddress(ident)}>` : `<queue.Queue object at ${fakeAddress(ident)}>`),
}

// ---------------------------------------------------------------------------------------------
// Locks, semaphores, events, conditions, barriers (threading on CPython's server)

/** `acquire(blocking=True, timeout=-1)` of a Python 3 Lock/RLock, as options for troupe's acquire. */
function lockOptions(a: Bound, f: PyFlavor): BlockOptions {
  let blocking = true
  if (a.blocking !== undefined) {
    // 3.12 takes any object for `blocking`; before, it had to be an int.
    if (!f.py312 && !isPyInt(a.blocking)) throw pyRaise('TypeError', `'${pyTypeName(a.blocking, f)}' object cannot be interpreted as an integer`)
    blocking = pyTruthy(a.blocking)
  }
  let t = -1
  if (a.timeout !== undefined) {
    if (!isPyNumber(a.timeout)) throw pyRaise('TypeError', `must be real number, not ${pyTypeName(a.timeout, f)}`)
    t = pyNumberValue(a.timeout)
  }
  if (!blocking && t !== -1) throw pyRaise('ValueError', "can't specify a timeout for a non-blocking call")
  if (t < 0 && t !== -1) throw pyRaise('ValueError', f.py312 ? 'timeout value must be a non-negative number' : 'timeout value must be positive')
  if (!blocking) return { block: false }
  return t === -1 ? {} : { timeout: timeoutMs(t) }
}

/** Python 2's `lock.acquire(waitflag=1)`: an int flag, no timeout. */
function py2Flag(v: unknown, f: PyFlavor): BlockOptions {
  if (v === undefined) return {}
  if (!isPyInt(v)) throw pyRaise('TypeError', 'an integer is required')
  return pyTruthy(v) ? {} : { block: false }
}

const lockFace: Face = {
  exposed: () => ['acquire', 'release'],
  methods: {
    acquire: m(sig('acquire', 'blocking?', 'timeout?'), (l: Lock, a, env) => l.acquire(lockOptions(a, env.flavor))),
    release: m(sig('release'), (l: Lock, _a, env) => {
      if (!l.locked()) throw env.flavor.py2 ? new PyError('_thread', 'error', ['release unlocked lock']) : pyRaise('RuntimeError', 'release unlocked lock')
      l.release()
    }),
  },
  py2: {
    acquire: m(sig('acquire', 'waitflag?', '/'), (l: Lock, a, env) => l.acquire(py2Flag(a.waitflag, env.flavor))),
  },
  str: (l: Lock, f, ident) => (f.py2 ? `<thread.lock object at ${fakeAddress(ident)}>` : `<${l.locked() ? 'locked' : 'unlocked'} _thread.lock object at ${fakeAddress(ident)}>`),
}

/** Python 2's RLock.acquire(blocking=1): 1 (an int) when the caller already held it, else the inner lock's bool. */
function py2RlockAcquire(r: RLock | Condition, a: Bound, env: PyEnv): unknown {
  if (r._isOwnedBy(env.caller)) { r.acquire({ block: false }); return 1 }
  return r.acquire(py2Flag(a.blocking, env.flavor))
}

const rlockFace: Face = {
  exposed: () => ['acquire', 'release'],
  methods: {
    acquire: m(sig('acquire', 'blocking?', 'timeout?'), (r: RLock, a, env) => r.acquire(lockOptions(a, env.flavor))),
    release: m(sig('release'), (r: RLock, _a, env) => {
      if (!r._isOwnedBy(env.caller)) throw pyRaise('RuntimeError', 'cannot release un-acquired lock')
      r.release()
    }),
  },
  py2: { acquire: m(sig('acquire', 'blocking?'), py2RlockAcquire) },
}

/** Semaphore.acquire(blocking=True, timeout=None) (Python 2: blocking only). */
function semaphoreAcquire(s: Semaphore, a: Bound, env: PyEnv): unknown {
  const blocking = a.blocking === undefined || pyTruthy(a.blocking)
  if (!blocking && !isNone(a.timeout)) throw pyRaise('ValueError', "can't specify timeout for non-blocking acquire")
  if (s.getValue() > 0 || !blocking) return s.acquire({ block: false })
  if (isNone(a.timeout)) return s.acquire()
  return s.acquire({ timeout: timeoutMs(Math.max(0, number(a.timeout, env.flavor))) })
}

function semaphoreRelease(s: Semaphore, a: Bound, env: PyEnv): void {
  const n = a.n === undefined ? 1 : number(a.n, env.flavor)
  if (n < 1) throw pyRaise('ValueError', 'n must be one or more')
  if (s instanceof BoundedSemaphore && s.getValue() + n > s._initial()) throw pyRaise('ValueError', 'Semaphore released too many times')
  s.release(n)
}

const semaphoreFace: Face = {
  exposed: () => ['acquire', 'release'],
  methods: {
    acquire: m(sig('acquire', 'blocking?', 'timeout?'), semaphoreAcquire),
    release: m(sig('release', 'n?'), semaphoreRelease),
  },
  py2: {
    acquire: m(sig('acquire', 'blocking?'), semaphoreAcquire),
    release: m(sig('release'), semaphoreRelease),
  },
}

const eventFace: Face = {
  exposed: () => ['is_set', 'set', 'clear', 'wait'],
  methods: {
    is_set: m(sig('is_set'), (e: Event) => e.isSet()),
    set: m(sig('set'), (e: Event) => e.set()),
    clear: m(sig('clear'), (e: Event) => e.clear()),
    wait: m(sig('wait', 'timeout?'), (e: Event, a, env) => {
      if (isNone(a.timeout)) return e.wait()
      // threading.Event.wait(t) with t <= 0 only looks at the flag.
      if (number(a.timeout, env.flavor) <= 0) return e.isSet()
      return e.wait({ timeout: timeoutMs(a.timeout) })
    }),
  },
  str: (e: Event, f, ident) => (f.py2 ? `<threading._Event object at ${fakeAddress(ident)}>` : `<threading.Event at ${fakeAddress(ident)}: ${e.isSet() ? 'set' : 'unset'}>`),
}

function conditionOwner(c: Condition, env: PyEnv, what: string): void {
  if (!c._isOwnedBy(env.caller)) throw pyRaise('RuntimeError', `cannot ${what} un-acquired lock`)
}

const conditionFace: Face = {
  exposed: () => ['acquire', 'release', 'wait', 'notify', 'notify_all'],
  methods: {
    acquire: m(sig('acquire', 'blocking?', 'timeout?'), (c: Condition, a, env) => c.acquire(lockOptions(a, env.flavor))),
    release: m(sig('release'), (c: Condition, _a, env) => { conditionOwner(c, env, 'release'); c.release() }),
    wait: m(sig('wait', 'timeout?'), async (c: Condition, a, env) => {
      conditionOwner(c, env, 'wait on')
      const t = isNone(a.timeout) ? undefined : Math.max(0, number(a.timeout, env.flavor))
      const notified = await c.wait(t === undefined ? undefined : { timeout: timeoutMs(t) })
      // Python 2's Condition.wait returns None.
      return env.flavor.py2 ? null : notified
    }),
    notify: m(sig('notify', 'n?'), (c: Condition, a, env) => {
      conditionOwner(c, env, 'notify on')
      if (a.n === undefined) return c.notify(1)
      // Python 2 slices its waiter list with n (an int); Python 3 compares n only while someone waits.
      if ((env.flavor.py2 || c._waiting()) && !isPyNumber(a.n)) throw pyRaise('TypeError', `'>' not supported between instances of '${pyTypeName(a.n, env.flavor)}' and 'int'`)
      const n = isPyNumber(a.n) ? pyNumberValue(a.n) : 0
      if (n > 0) c.notify(n)
    }),
    notify_all: m(sig('notify_all'), (c: Condition, _a, env) => { conditionOwner(c, env, 'notify on'); c.notifyAll() }),
  },
  py2: { acquire: m(sig('acquire', 'blocking?'), py2RlockAcquire) },
}

const brokenBarrier = () => new PyError('threading', 'BrokenBarrierError', [])

const barrierFace: Face = {
  exposed: () => ['__getattribute__', 'wait', 'abort', 'reset'],
  methods: {
    wait: m(sig('wait', 'timeout?'), (b: Barrier, a, env) => {
      const opts = isNone(a.timeout) ? undefined : { timeout: timeoutMs(Math.max(0, number(a.timeout, env.flavor))) ?? Number.POSITIVE_INFINITY }
      return b.wait(opts)
    }, 3),
    abort: m(sig('abort'), (b: Barrier) => b.abort(), 3),
    reset: m(sig('reset'), (b: Barrier) => b.reset(), 3),
    __getattribute__: m(sig('__getattribute__', 'name', '/'), (b: Barrier, a, env) => {
      const name = attributeName(a.name, env.flavor)
      switch (name) {
        case 'parties': case '_parties': return b.parties()
        case 'n_waiting': case '_count': return b.nWaiting()
        case 'broken': return b.broken()
        case '_state': return b.broken() ? -2 : 0
        case '_timeout': { const t = b._timeout(); return t === undefined ? null : new PyFloat(t / 1000) }
        case 'wait': case 'abort': case 'reset': case '_cond': case '_action':
          // A bound method or a lock: CPython cannot pickle it either.
          throw new Error(`Barrier.${name} cannot be pickled`)
        default: throw pyRaise('AttributeError', `'Barrier' object has no attribute '${name}'`)
      }
    }, 3),
  },
}

function attributeName(v: unknown, flavor: PyFlavor): string {
  const name = pyText(v)
  if (name === undefined || v instanceof Uint8Array) throw pyRaise('TypeError', `attribute name must be string, not '${pyTypeName(v, flavor)}'`)
  return name
}

// ---------------------------------------------------------------------------------------------
// Namespace and Value (multiprocessing.managers' own classes)

const NAMESPACE = new PyGlobal('multiprocessing.managers', 'Namespace')
const VALUE = new PyGlobal('multiprocessing.managers', 'Value')

const namespaceFace: Face = {
  exposed: () => ['__getattribute__', '__setattr__', '__delattr__'],
  methods: {
    __getattribute__: m(sig('__getattribute__', 'name', '/'), (ns: Namespace, a, env) => {
      const name = attributeName(a.name, env.flavor)
      const attrs = ns._attrs()
      if (attrs.has(name)) return attrs.get(name)
      if (name === '__dict__') return new Map(attrs)
      throw pyRaise('AttributeError', `'Namespace' object has no attribute '${name}'`)
    }),
    __setattr__: m(sig('__setattr__', 'name', 'value', '/'), (ns: Namespace, a, env) => { ns._attrs().set(attributeName(a.name, env.flavor), a.value) }),
    __delattr__: m(sig('__delattr__', 'name', '/'), (ns: Namespace, a, env) => {
      const name = attributeName(a.name, env.flavor)
      if (!ns._attrs().delete(name)) throw pyRaise('AttributeError', env.flavor.py2 ? name : `'Namespace' object has no attribute '${name}'`)
    }),
  },
  str: (ns: Namespace, f) => `Namespace(${[...ns._attrs()].filter(([k]) => !k.startsWith('_')).map(([k, v]) => `${k}=${pyRepr(v, f)}`).sort().join(', ')})`,
  value: (ns: Namespace) => Object.assign(new PyObject(NAMESPACE, tuple(), true), { state: new Map(ns._attrs()) }),
}

const valueFace: Face = {
  exposed: () => ['get', 'set'],
  methods: {
    get: m(sig('get'), (v: Value) => v.get()),
    set: m(sig('set', 'value'), (v: Value<unknown>, a) => v.set(a.value)),
  },
  str: (v: Value, f) => `Value(${pyRepr(v.typecode, f)}, ${pyRepr(v.get(), f)})`,
  value: (v: Value) => Object.assign(new PyObject(VALUE, tuple(), true), { state: new Map<string, unknown>([['_typecode', v.typecode], ['_value', v.get()]]) }),
}

// ---------------------------------------------------------------------------------------------
// Array (array.array on CPython's server)

const ARRAY = new PyGlobal('array', 'array')
const INT_CODES: Record<string, { min: bigint; max: bigint; checks: ((v: bigint) => string | undefined)[] }> = {}
{
  const LONG = (v: bigint) => (v > 2n ** 63n - 1n || v < -(2n ** 63n) ? 'Python int too large to convert to C long' : undefined)
  const range = (lo: bigint, hi: bigint, name: string) => (v: bigint) => (v > hi ? `${name} is greater than maximum` : v < lo ? `${name} is less than minimum` : undefined)
  const ULONG = (v: bigint) => (v < 0n ? "can't convert negative value to unsigned int" : v > 2n ** 64n - 1n ? 'Python int too large to convert to C unsigned long' : undefined)
  const SHORT = range(-32768n, 32767n, 'signed short integer')
  const INT = range(-(2n ** 31n), 2n ** 31n - 1n, 'signed integer')
  // CPython converts through a wider C type first, so a value far out of range names that type (checked against 3.12).
  INT_CODES.b = { min: -128n, max: 127n, checks: [LONG, SHORT, range(-128n, 127n, 'signed char')] }
  INT_CODES.B = { min: 0n, max: 255n, checks: [LONG, range(0n, 255n, 'unsigned byte integer')] }
  INT_CODES.h = { min: -32768n, max: 32767n, checks: [LONG, SHORT] }
  INT_CODES.H = { min: 0n, max: 65535n, checks: [LONG, INT, range(0n, 65535n, 'unsigned short')] }
  INT_CODES.i = { min: -(2n ** 31n), max: 2n ** 31n - 1n, checks: [LONG, INT] }
  INT_CODES.I = { min: 0n, max: 2n ** 32n - 1n, checks: [ULONG, (v) => (v > 2n ** 32n - 1n ? 'unsigned int is greater than maximum' : undefined)] }
  INT_CODES.l = { min: -(2n ** 63n), max: 2n ** 63n - 1n, checks: [LONG] }
  INT_CODES.L = { min: 0n, max: 2n ** 64n - 1n, checks: [ULONG] }
  INT_CODES.q = { min: -(2n ** 63n), max: 2n ** 63n - 1n, checks: [(v) => (v > 2n ** 63n - 1n || v < -(2n ** 63n) ? 'int too big to convert' : undefined)] }
  INT_CODES.Q = { min: 0n, max: 2n ** 64n - 1n, checks: [(v) => (v < 0n ? "can't convert negative int to unsigned" : v > 2n ** 64n - 1n ? 'int too big to convert' : undefined)] }
}

function typecodes(f: PyFlavor): string {
  return f.py2 ? 'c, b, B, u, h, H, i, I, l, L, f or d' : 'b, B, u, h, H, i, I, l, L, q, Q, f or d'
}

/** A value as an `array.array(typecode)` item, or the TypeError / OverflowError CPython raises. */
function arrayItem(code: string, v: unknown, f: PyFlavor): unknown {
  if (code === 'f' || code === 'd') {
    if (!isPyNumber(v)) throw pyRaise('TypeError', `must be real number, not ${pyTypeName(v, f)}`)
    const x = code === 'f' ? Math.fround(pyNumberValue(v)) : pyNumberValue(v)
    return Number.isInteger(x) ? new PyFloat(x) : x
  }
  if (code === 'c') {
    // Python 2 only: a one-byte str (an ASCII string, or a Buffer for other bytes).
    const ok = (typeof v === 'string' && v.length === 1 && v.charCodeAt(0) < 0x80) || (v instanceof Uint8Array && !(v instanceof ByteArray) && v.length === 1)
    if (!ok) throw pyRaise('TypeError', 'array item must be char')
    return v
  }
  if (code === 'u') {
    // One character of unicode text (for Python 2, a unicode: a String object or non-ASCII text, not an ASCII str).
    const s = pyText(v)
    const py2Str = f.py2 && typeof v === 'string' && !/[^\x00-\x7f]/.test(v)
    if (s === undefined || v instanceof Uint8Array || [...s].length !== 1 || py2Str) throw pyRaise('TypeError', 'array item must be unicode character')
    return v
  }
  const spec = INT_CODES[code]!
  if (!isPyInt(v)) {
    throw pyRaise('TypeError', f.py2 ? (isPyNumber(v) ? 'integer argument expected, got float' : 'an integer is required') : `'${pyTypeName(v, f)}' object cannot be interpreted as an integer`)
  }
  const big = typeof v === 'boolean' ? BigInt(v) : BigInt((v as number | bigint | BigInt).valueOf() as number | bigint)
  for (const check of spec.checks) {
    const why = check(big)
    if (why) throw pyRaise('OverflowError', why)
  }
  const n = big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
  // Python 2's 'I' and 'L' items come back as long, the others as int (even past 2**53).
  if (f.py2) return code === 'I' || code === 'L' ? BigInt(n) : typeof n === 'bigint' ? py2Int(n) : n
  return n
}

function arrayObject(code: string, items: unknown[]): PyObject {
  return new PyObject(ARRAY, tuple(code, items))
}

function arrayValues(a: SharedArray<unknown>, f: PyFlavor, items: unknown[] = a._items()): unknown[] {
  return f.py2 && (a.typecode === 'I' || a.typecode === 'L') ? items.map((x) => (typeof x === 'number' ? BigInt(x) : x)) : items
}

const arrayFace: Face = {
  exposed: (f) => (f.py2 ? ['__len__', '__getitem__', '__setitem__', '__getslice__', '__setslice__'] : ['__len__', '__getitem__', '__setitem__']),
  methods: {
    __len__: m(sig('__len__'), (a: SharedArray) => a.length()),
    __getitem__: m(sig('__getitem__', 'key', '/'), (a: SharedArray<unknown>, b, env) => {
      const items = a._items()
      if (b.key instanceof Slice) return arrayObject(a.typecode, arrayValues(a, env.flavor, sliceRange(b.key, items.length).map((i) => items[i])))
      if (!isPyInt(b.key)) throw pyRaise('TypeError', 'array indices must be integers')
      return arrayValues(a, env.flavor, [items[listIndex(b.key, items.length, env.flavor, 'array index out of range', 'array')]])[0]
    }),
    __setitem__: m(sig('__setitem__', 'key', 'value', '/'), (a: SharedArray<unknown>, b, env) => {
      const items = a._items()
      if (b.key instanceof Slice) throw pyRaise('TypeError', `can only assign array (not "${pyTypeName(b.value, env.flavor)}") to array slice`)
      if (!isPyInt(b.key)) throw pyRaise('TypeError', 'array indices must be integers')
      const i = listIndex(b.key, items.length, env.flavor, 'array assignment index out of range', 'array')
      items[i] = arrayItem(a.typecode, b.value, env.flavor)
    }),
    __getslice__: m(sig('__getslice__', 'i', 'j', '/'), (a: SharedArray<unknown>, b, env) => {
      const items = a._items()
      return arrayObject(a.typecode, arrayValues(a, env.flavor, sliceRange(new Slice(b.i, b.j), items.length).map((i) => items[i])))
    }, 2),
    __setslice__: m(sig('__setslice__', 'i', 'j', 'value', '/'), (_a: SharedArray, b, env) => {
      throw pyRaise('TypeError', `can only assign array (not "${pyTypeName(b.value, env.flavor)}") to array slice`)
    }, 2),
  },
  str: (a: SharedArray<unknown>, f) => {
    const items = arrayValues(a, f)
    if (!items.length) return `array(${pyRepr(a.typecode, f)})`
    if (a.typecode === 'u' || a.typecode === 'c') return `array(${pyRepr(a.typecode, f)}, ${pyRepr(items.map((x) => pyText(x) ?? '').join(''), f)})`
    return `array(${pyRepr(a.typecode, f)}, ${pyRepr(items, f)})`
  },
  value: (a: SharedArray<unknown>, f) => arrayObject(a.typecode, arrayValues(a, f)),
}

// ---------------------------------------------------------------------------------------------
// list (ListProxy)

function listGet(l: List<unknown>, key: unknown, f: PyFlavor): unknown {
  const items = l._items()
  if (key instanceof Slice) return sliceRange(key, items.length).map((i) => items[i])
  return items[listIndex(key, items.length, f, 'list index out of range')]
}

function listSet(l: List<unknown>, key: unknown, value: unknown, f: PyFlavor): void {
  const items = l._items()
  if (key instanceof Slice) {
    let values: unknown[]
    try { values = stored(iterate(value, f)) } catch { throw pyRaise('TypeError', 'can only assign an iterable') }
    const [start, stop, step] = sliceIndices(key, items.length)
    if (step === 1) { items.splice(start, Math.max(0, stop - start), ...values); return }
    const at = sliceRange(key, items.length)
    if (at.length !== values.length) throw pyRaise('ValueError', `attempt to assign sequence of size ${values.length} to extended slice of size ${at.length}`)
    at.forEach((i, k) => { items[i] = values[k] })
    return
  }
  items[listIndex(key, items.length, f, 'list assignment index out of range')] = value
}

function listDelete(l: List<unknown>, key: unknown, f: PyFlavor): void {
  const items = l._items()
  if (key instanceof Slice) {
    const at = new Set(sliceRange(key, items.length))
    const kept = items.filter((_, i) => !at.has(i))
    items.length = 0
    items.push(...kept)
    return
  }
  items.splice(listIndex(key, items.length, f, 'list assignment index out of range'), 1)
}

function repeat(items: unknown[], n: unknown, f: PyFlavor): unknown[] {
  if (!isPyInt(n)) throw pyRaise('TypeError', `can't multiply sequence by non-int of type '${pyTypeName(n, f)}'`)
  const times = pyIntValue(n as number)
  // A few bytes of `l * n` must not cost the server more than a frame may (MAX_SIZE, docs/manager.md "Limits").
  if (times * items.length > MAX_SIZE) throw pyRaise('MemoryError', `a list of ${times * items.length} items: more than the ${MAX_SIZE} one request may build`)
  const out: unknown[] = []
  for (let i = 0; i < times; i++) for (const item of items) out.push(item)
  return out
}

/** Python 2 slice methods take clamped ints (`l[1:3]` is `__getslice__(1, 3)`). */
const py2Slice = (i: unknown, j: unknown) => new Slice(i, j, null)

const listFace: Face = {
  exposed: (f) => [
    '__add__', '__contains__', '__delitem__', ...(f.py2 ? ['__delslice__'] : []), '__getitem__', ...(f.py2 ? ['__getslice__'] : []),
    '__len__', '__mul__', '__reversed__', '__rmul__', '__setitem__', ...(f.py2 ? ['__setslice__'] : []),
    'append', 'count', 'extend', 'index', 'insert', 'pop', 'remove', 'reverse', 'sort', '__imul__',
  ],
  methods: {
    __add__: m(sig('__add__', 'other', '/'), (l: List, a, env) => {
      if (!Array.isArray(a.other) || isTuple(a.other)) throw pyRaise('TypeError', `can only concatenate list (not "${pyTypeName(a.other, env.flavor)}") to list`)
      return [...l._items(), ...a.other]
    }),
    __contains__: m(sig('__contains__', 'value', '/'), (l: List, a) => l._items().some((x) => pyEquals(x, a.value))),
    __delitem__: m(sig('__delitem__', 'key', '/'), (l: List, a, env) => listDelete(l, a.key, env.flavor)),
    __getitem__: m(sig('__getitem__', 'key', '/'), (l: List, a, env) => listGet(l, a.key, env.flavor)),
    __len__: m(sig('__len__'), (l: List) => l.length()),
    __mul__: m(sig('__mul__', 'n', '/'), (l: List, a, env) => repeat(l._items(), a.n, env.flavor)),
    __rmul__: m(sig('__rmul__', 'n', '/'), (l: List, a, env) => repeat(l._items(), a.n, env.flavor)),
    __imul__: m(sig('__imul__', 'n', '/'), (l: List, a, env) => {
      const out = repeat(l._items(), a.n, env.flavor)
      l._items().length = 0
      l._items().push(...out)
      return l._items()
    }),
    __reversed__: m(sig('__reversed__'), (l: List, _a, env) => {
      // list_reverseiterator pickles as reversed(list) with its position (Python 2 cannot pickle it).
      if (env.flavor.py2) throw new Error("can't pickle listreverseiterator objects")
      return Object.assign(new PyObject(new PyGlobal('builtins', 'reversed'), tuple([...l._items()])), { state: l.length() - 1 })
    }),
    __setitem__: m(sig('__setitem__', 'key', 'value', '/'), (l: List, a, env) => listSet(l, a.key, a.value, env.flavor)),
    __getslice__: m(sig('__getslice__', 'i', 'j', '/'), (l: List, a, env) => listGet(l, py2Slice(a.i, a.j), env.flavor), 2),
    __setslice__: m(sig('__setslice__', 'i', 'j', 'value', '/'), (l: List, a, env) => listSet(l, py2Slice(a.i, a.j), a.value, env.flavor), 2),
    __delslice__: m(sig('__delslice__', 'i', 'j', '/'), (l: List, a, env) => listDelete(l, py2Slice(a.i, a.j), env.flavor), 2),
    append: m(sig('append', 'object', '/'), (l: List, a) => { l._items().push(a.object) }),
    count: m(sig('count', 'value', '/'), (l: List, a) => l.count(a.value)),
    extend: m(sig('extend', 'iterable', '/'), (l: List, a, env) => { l._items().push(...stored(iterate(a.iterable, env.flavor))) }),
    index: m(sig('index', 'value', 'start?', 'stop?', '/'), (l: List, a, env) => {
      const items = l._items()
      const bound = (v: unknown, dflt: number) => {
        if (v === undefined) return dflt
        if (!isPyInt(v)) throw pyRaise('TypeError', 'slice indices must be integers or have an __index__ method')
        const i = pyIntValue(v as number)
        return i < 0 ? Math.max(0, i + items.length) : Math.min(i, items.length)
      }
      const stop = bound(a.stop, items.length)
      for (let i = bound(a.start, 0); i < stop; i++) if (pyEquals(items[i], a.value)) return i
      throw pyRaise('ValueError', `${pyRepr(a.value, env.flavor)} is not in list`)
    }),
    insert: m(sig('insert', 'index', 'object', '/'), (l: List, a, env) => {
      const items = l._items()
      let i = int(a.index, env.flavor)
      if (i < 0) i = Math.max(0, i + items.length)
      items.splice(Math.min(i, items.length), 0, a.object)
    }),
    pop: m(sig('pop', 'index?', '/'), (l: List, a, env) => {
      const items = l._items()
      const i = a.index === undefined ? -1 : int(a.index, env.flavor)
      if (!items.length) throw pyRaise('IndexError', 'pop from empty list')
      const j = i < 0 ? i + items.length : i
      if (j < 0 || j >= items.length) throw pyRaise('IndexError', 'pop index out of range')
      return items.splice(j, 1)[0]
    }),
    remove: m(sig('remove', 'value', '/'), (l: List, a) => {
      if (!l.remove(a.value)) throw pyRaise('ValueError', 'list.remove(x): x not in list')
    }),
    reverse: m(sig('reverse'), (l: List) => l.reverse()),
    sort: m(sig('sort', '*', 'key?', 'reverse?'), (l: List, a, env) => {
      // A key function is Python code, which troupe cannot run (docs/interop.md).
      if (!isNone(a.key)) throw pyRaise('TypeError', 'troupe cannot call a key function sent by a Python client')
      pySort(l._items(), env.flavor, pyTruthy(a.reverse ?? false))
    }),
  },
  str: (l: List, f) => pyRepr(l._items(), f),
  value: (l: List) => [...l._items()],
}

// ---------------------------------------------------------------------------------------------
// dict (DictProxy) and the Iterator its __iter__ returns

/** dict(*args, **kw) / dict.update(*args, **kw): a mapping, or an iterable of pairs, then keywords. */
function dictPairs(a: Bound, f: PyFlavor, what: string): [unknown, unknown][] {
  const pairs: [unknown, unknown][] = []
  const args = a.args ?? []
  if (args.length > 1) throw pyRaise('TypeError', `${what} expected at most 1 argument, got ${args.length}`)
  if (args.length) {
    const src = args[0]
    if (src instanceof Map) pairs.push(...src)
    else if (src instanceof Dict) pairs.push(...src.items())
    else {
      iterate(src, f).forEach((item, i) => {
        let pair: unknown[]
        try { pair = iterate(item, f) } catch { throw pyRaise('TypeError', `cannot convert dictionary update sequence element #${i} to a sequence`) }
        if (pair.length !== 2) throw pyRaise('ValueError', `dictionary update sequence element #${i} has length ${pair.length}; 2 is required`)
        pairs.push([pair[0], pair[1]])
      })
    }
  }
  for (const [k, v] of a.kw ?? []) pairs.push([k, v])
  return stored(pairs.map((p) => [...p])).map((p) => p as [unknown, unknown])
}

type AnyDict = Dict<unknown, unknown>

function keyError(key: unknown): PyError {
  return pyRaise('KeyError', key)
}

const dictFace: Face = {
  exposed: (f) => [
    '__contains__', '__delitem__', '__getitem__', '__iter__', '__len__', '__setitem__', 'clear', 'copy', 'get',
    ...(f.py2 ? ['has_key'] : []), 'items', 'keys', 'pop', 'popitem', 'setdefault', 'update', 'values',
  ],
  methods: {
    __contains__: m(sig('__contains__', 'key', '/'), (d: AnyDict, a) => d.has(a.key)),
    __delitem__: m(sig('__delitem__', 'key', '/'), (d: AnyDict, a) => { if (!d.delete(a.key)) throw keyError(a.key) }),
    __getitem__: m(sig('__getitem__', 'key', '/'), (d: AnyDict, a) => {
      if (!d.has(a.key)) throw keyError(a.key)
      return d.get(a.key)
    }),
    __iter__: m(sig('__iter__'), (d: AnyDict) => {
      const start = d.size()
      return new Served('Iterator', new PyIterator(d.keys(), () => (d.size() !== start ? 'dictionary changed size during iteration' : undefined)))
    }),
    __len__: m(sig('__len__'), (d: AnyDict) => d.size()),
    __setitem__: m(sig('__setitem__', 'key', 'value', '/'), (d: AnyDict, a) => d.set(a.key, a.value)),
    clear: m(sig('clear'), (d: AnyDict) => d.clear()),
    copy: m(sig('copy'), (d: AnyDict) => d.copy()),
    get: m(sig('get', 'key', 'default?', '/'), (d: AnyDict, a) => d.get(a.key, (a.default ?? null) as never) ?? null),
    has_key: m(sig('has_key', 'key', '/'), (d: AnyDict, a) => d.has(a.key), 2),
    items: m(sig('items'), (d: AnyDict) => d.items().map(([k, v]) => tuple(k, v))),
    keys: m(sig('keys'), (d: AnyDict) => d.keys()),
    values: m(sig('values'), (d: AnyDict) => d.values()),
    pop: m(sig('pop', 'key', 'default?', '/'), (d: AnyDict, a) => {
      if (d.has(a.key)) return d.pop(a.key)
      if (a.default === undefined) throw keyError(a.key)
      return a.default
    }),
    popitem: m(sig('popitem'), (d: AnyDict) => {
      const last = d._popLast()
      if (!last) throw pyRaise('KeyError', 'popitem(): dictionary is empty')
      return tuple(last[0], last[1])
    }),
    setdefault: m(sig('setdefault', 'key', 'default?', '/'), (d: AnyDict, a) => d.setdefault(a.key, (a.default ?? null) as never)),
    update: m(sig('update', '*args', '**kw'), (d: AnyDict, a, env) => { for (const [k, v] of dictPairs(a, env.flavor, 'update')) d.set(k, v) }),
  },
  str: (d: AnyDict, f) => pyRepr(d.copy(), f),
  value: (d: AnyDict) => d.copy(),
}

/** The iterator `iter(d)` gives on CPython's server, served as an `Iterator` proxy. */
export class PyIterator {
  private i = 0
  constructor(private readonly items: unknown[], private readonly changed: () => string | undefined) {}
  /** The next item; StopIteration at the end. */
  next(): unknown {
    const why = this.changed()
    if (why) throw pyRaise('RuntimeError', why)
    if (this.i >= this.items.length) { this.i = Infinity; throw pyRaise('StopIteration') }
    return this.items[this.i++]
  }
}

const iteratorFace: Face = {
  exposed: (f) => (f.py2 ? ['__next__', 'next', 'send', 'throw', 'close'] : ['__next__', 'send', 'throw', 'close']),
  methods: {
    __next__: m(sig('__next__'), (it: PyIterator, _a, env) => {
      // Python 2's dict iterator has `next`; its `__next__` is missing, as on CPython 2's server.
      if (env.flavor.py2) throw new Error("'dictionary-keyiterator' object has no attribute '__next__'")
      return it.next()
    }),
    next: m(sig('next'), (it: PyIterator) => it.next(), 2),
    // A dict iterator is not a generator: CPython's server fails these with a traceback.
    send: m(sig('send', '*args'), () => { throw new Error("'dict_keyiterator' object has no attribute 'send'") }),
    throw: m(sig('throw', '*args'), () => { throw new Error("'dict_keyiterator' object has no attribute 'throw'") }),
    close: m(sig('close', '*args'), () => { throw new Error("'dict_keyiterator' object has no attribute 'close'") }),
  },
}

// ---------------------------------------------------------------------------------------------
// Creating SyncManager's typeids the way CPython's server calls their callables

type Constructor = { sig: Signature; make: (a: Bound, f: PyFlavor) => object }

/** SyncManager typeids as CPython constructs them (arguments bound and checked like Python's callables). */
export const PY_CONSTRUCTORS: Readonly<Record<string, Constructor>> = {
  Queue: { sig: sig('Queue', 'maxsize?'), make: (a, f) => queueOf(a.maxsize, f) },
  JoinableQueue: { sig: sig('Queue', 'maxsize?'), make: (a, f) => queueOf(a.maxsize, f) },
  // Python 2's Event(verbose=None) takes a flag; Python 3's nothing.
  Event: { sig: sig('Event', 'verbose?'), make: (a, f) => { if (a.verbose !== undefined && !f.py2) throw pyRaise('TypeError', 'Event() takes no arguments'); return new Event() } },
  Lock: { sig: sig('Lock'), make: () => new Lock() },
  RLock: { sig: sig('RLock', '*args', '**kw'), make: () => new RLock() },
  Semaphore: { sig: sig('Semaphore', 'value?'), make: (a, f) => new Semaphore(semaphoreValue(a.value, f)) },
  BoundedSemaphore: { sig: sig('BoundedSemaphore', 'value?'), make: (a, f) => new BoundedSemaphore(semaphoreValue(a.value, f)) },
  Condition: { sig: sig('Condition', 'lock?'), make: (a) => {
    if (!isNone(a.lock)) throw pyRaise('TypeError', 'troupe serves Condition() with its own lock only')
    return new Condition()
  } },
  Barrier: { sig: sig('Barrier', 'parties', 'action?', 'timeout?'), make: (a, f) => {
    if (!isPyInt(a.parties) || pyIntValue(a.parties as number) < 1) throw pyRaise('ValueError', 'parties must be >= 1')
    if (!isNone(a.action)) throw pyRaise('TypeError', 'troupe cannot call a Barrier action sent by a Python client')
    const t = isNone(a.timeout) ? undefined : Math.max(0, number(a.timeout, f)) * 1000
    return new Barrier(pyIntValue(a.parties as number), t)
  } },
  list: { sig: sig('list', 'iterable?', '/'), make: (a, f) => new List(a.iterable === undefined ? [] : stored(iterate(a.iterable, f))) },
  dict: { sig: sig('dict', '*args', '**kw'), make: (a, f) => new Dict(dictPairs(a, f, 'dict')) },
  Namespace: { sig: sig('Namespace', '**kw'), make: (a) => new Namespace(Object.fromEntries(a.kw ?? [])) },
  Value: { sig: sig('Value', 'typecode', 'value', 'lock?'), make: (a) => new Value(a.typecode as string, a.value) },
  Array: { sig: sig('Array', 'typecode', 'sequence', 'lock?'), make: (a, f) => {
    const code = pyText(a.typecode)
    const valid = f.py2 ? 'cbBuhHiIlLfd' : 'bBuhHiIlLqQfd'
    if (code === undefined || code.length !== 1 || !valid.includes(code)) {
      throw code === undefined ? pyRaise('TypeError', 'array() argument 1 must be a unicode character, not ' + pyTypeName(a.typecode, f)) : pyRaise('ValueError', `bad typecode (must be ${typecodes(f)})`)
    }
    if (typeof a.sequence === 'string' && code !== 'u' && code !== 'c') throw pyRaise('TypeError', `cannot use a str to initialize an array with typecode '${code}'`)
    return new SharedArray(code, iterate(a.sequence, f).map((x) => arrayItem(code, x, f)))
  } },
}

function queueOf(maxsize: unknown, f: PyFlavor): Queue {
  const n = maxsize === undefined ? 0 : number(maxsize, f)
  // queue.Queue is joinable (task_done / join) whatever the typeid; maxsize <= 0 means unbounded.
  return new JoinableQueue(n > 0 ? Math.ceil(n) : 0)
}

function semaphoreValue(v: unknown, f: PyFlavor): number {
  const n = v === undefined ? 1 : number(v, f)
  if (n < 0) throw pyRaise('ValueError', 'semaphore initial value must be >= 0')
  return Math.ceil(n)
}

/** Build a SyncManager typeid's object from a Python `create` call. */
export function pythonCreate(typeid: string, args: readonly unknown[], kwds: Map<unknown, unknown> | undefined, flavor: PyFlavor): object {
  const c = PY_CONSTRUCTORS[typeid]!
  return c.make(bind(c.sig, args, kwds), flavor)
}

const FACES = new Map<Function, Face>([
  [Queue, queueFace], [JoinableQueue, queueFace], [Lock, lockFace], [RLock, rlockFace], [Semaphore, semaphoreFace],
  [BoundedSemaphore, semaphoreFace], [Event, eventFace], [Condition, conditionFace], [Barrier, barrierFace],
  [Namespace, namespaceFace], [Value, valueFace], [SharedArray, arrayFace], [List, listFace], [Dict, dictFace],
  [PyIterator, iteratorFace],
])


/** Exceptions of troupe's shared objects as a Python client's CPython would raise them. */
export function faceError(err: Error, flavor: PyFlavor): PyError | undefined {
  if (err instanceof PyError) return err
  if (err.name === 'BrokenBarrierError' && !flavor.py2) return brokenBarrier()
  if (err.name === 'ClosedError' && flavor.py312 && !flavor.py2) return new PyError('queue', 'ShutDown', [])
  return undefined
}
