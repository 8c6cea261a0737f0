import { UnsendableValueError } from '../errors.js'

/**
 * Objects that stand for a value living somewhere else (a queue, an ActorRef,
 * a manager proxy) implement `[portable]()`, returning a plain descriptor.
 * `marshal` swaps them for tagged records before a value leaves this place;
 * `unmarshal` revives the records on arrival with the reviver registered for
 * their type. Everything else passes through untouched.
 */
export const portable: unique symbol = Symbol.for('troupe.portable')

/** A value that can describe itself for another place. */
export interface Portable {
  [portable](): { type: string; data: unknown }
}

/** The tag a marshalled portable carries; a string key so structured clone and v8 keep it. */
export const PORTABLE_TAG = '\u0000troupe:portable'

type Reviver = (data: any) => unknown
const revivers = new Map<string, Reviver>()
const optionalModules = new Set<string>()

/**
 * Register how to rebuild a portable of `type` when it arrives in this place.
 * `module` (the registering module's URL) marks a reviver of an optional part
 * (troupe/redis): the threads and processes this place starts import it
 * before anything else, so what this place can send they can revive, while
 * places that never load that part stay without it.
 */
export function registerPortable(type: string, revive: Reviver, module?: string): void {
  revivers.set(type, revive)
  if (module) optionalModules.add(module)
}

/** URLs of the optional modules whose revivers this place registered (see `registerPortable`). */
export function reviverModules(): string[] {
  return [...optionalModules]
}

/** What marshal produced: the value and whether it holds any portable, so the receiver can skip a walk. */
export interface Marshalled { value: unknown; portables: boolean }

function isPlainOrArray(v: object): boolean {
  if (Array.isArray(v)) return true
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function describe(v: unknown): string {
  if (typeof v === 'function') return `a function${v.name ? ` (${v.name})` : ''}`
  if (typeof v === 'symbol') return `a symbol (${v.toString()})`
  const name = (v as object)?.constructor?.name
  return name ? `an instance of ${name}` : 'a value of an unsupported kind'
}

const cloneableClasses = new Set<unknown>([
  Date, RegExp, Map, Set, ArrayBuffer, DataView, Error, EvalError, RangeError, ReferenceError,
  SyntaxError, TypeError, URIError, Boolean, Number, String, BigInt,
])

function isTypedArray(v: object): boolean {
  return ArrayBuffer.isView(v)
}

/**
 * Check `value` can be sent and replace portables by tagged descriptors.
 * Throws UnsendableValueError naming the path (`args[1].callback`) of the first
 * part that cannot be sent: functions, symbols, sockets and other class
 * instances that neither structured clone nor v8.serialize can carry.
 */
export function marshal(value: unknown, path = 'value'): Marshalled {
  const state = { portables: false }
  const out = walk(value, path, state, new Map())
  return { value: out, portables: state.portables }
}

function walk(v: unknown, path: string, state: { portables: boolean }, seen: Map<object, unknown>): unknown {
  const t = typeof v
  if (v === null || (t !== 'object' && t !== 'function' && t !== 'symbol')) return v
  if (t === 'function' || t === 'symbol') throw unsendable(v, path)
  const o = v as object
  if (seen.has(o)) return seen.get(o)
  if ((o as Partial<Portable>)[portable]) {
    state.portables = true
    const d = (o as Portable)[portable]()
    const rec = { [PORTABLE_TAG]: d.type, data: d.data }
    seen.set(o, rec)
    return rec
  }
  if (isTypedArray(o) || o instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && o instanceof SharedArrayBuffer)) return o
  if (Array.isArray(o)) {
    let copy: unknown[] | undefined
    seen.set(o, o)
    for (let i = 0; i < o.length; i++) {
      const item = o[i]
      if (item === null || typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue
      const w = walk(item, `${path}[${i}]`, state, seen)
      if (w !== item) { copy ??= o.slice(); copy[i] = w }
    }
    if (copy) seen.set(o, copy)
    return copy ?? o
  }
  if (o instanceof Map) {
    let changed = false
    const entries: [unknown, unknown][] = []
    seen.set(o, o)
    for (const [k, val] of o) {
      const kk = walk(k, `${path}.<key>`, state, seen)
      const vv = walk(val, `${path}.get(${JSON.stringify(typeof k === 'string' ? k : String(k))})`, state, seen)
      if (kk !== k || vv !== val) changed = true
      entries.push([kk, vv])
    }
    return changed ? new Map(entries) : o
  }
  if (o instanceof Set) {
    let changed = false
    const items: unknown[] = []
    seen.set(o, o)
    for (const item of o) {
      const w = walk(item, `${path}.<item>`, state, seen)
      if (w !== item) changed = true
      items.push(w)
    }
    return changed ? new Set(items) : o
  }
  if (o instanceof Error) return o
  if (!isPlainOrArray(o)) {
    if (cloneableClasses.has(o.constructor)) return o
    throw unsendable(o, path)
  }
  let copy: Record<string, unknown> | undefined
  seen.set(o, o)
  for (const key of Object.keys(o)) {
    const item = (o as Record<string, unknown>)[key]
    if (item === null || typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue
    const w = walk(item, `${path}${/^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`}`, state, seen)
    if (w !== item) { copy ??= { ...(o as Record<string, unknown>) }; copy[key] = w }
  }
  if (copy) seen.set(o, copy)
  return copy ?? o
}

function unsendable(v: unknown, path: string): UnsendableValueError {
  const err = new UnsendableValueError(
    `${path} is ${describe(v)}, which cannot be sent to another thread, process or host. ` +
    'Send plain data (objects, arrays, strings, numbers, Buffers, Maps, Sets) or a troupe reference instead.')
  err.path = path
  return err
}

/** Revive tagged portables inside a value that arrived; a no-op walk is skipped when `portables` is false. */
export function unmarshal(value: unknown, portables = true): unknown {
  return portables ? revive(value) : value
}

function revive(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = revive(v[i])
    return v
  }
  if (v instanceof Map) {
    for (const [k, val] of v) v.set(k, revive(val))
    return v
  }
  if (v instanceof Set || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Error || v instanceof Date) return v
  // Data classes (a String or Number object, a PyFloat) hold no portables: only plain objects are walked.
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return v
  const rec = v as Record<string, unknown>
  const type = rec[PORTABLE_TAG]
  if (typeof type === 'string') {
    const fn = revivers.get(type)
    if (!fn) throw new UnsendableValueError(`received a ${type} reference, but nothing in this place knows how to revive it (is its module loaded?)`)
    return fn(rec.data)
  }
  for (const key of Object.keys(rec)) rec[key] = revive(rec[key])
  return rec
}

/** Let instances of a data class (e.g. the pickle codec's PyFloat) pass `marshal` untouched; their codec knows them. */
export function registerDataClass(cls: abstract new (...args: any[]) => unknown): void {
  cloneableClasses.add(cls)
}
