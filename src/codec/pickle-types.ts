import { registerDataClass, registerPortable, marshal, unmarshal, portable } from './marshal.js'
import { UnsendableValueError } from '../errors.js'

/**
 * The JavaScript shapes of Python values that have no exact JS twin. The
 * mapping (docs/interop.md) is lossless: a value decoded from a pickle and
 * encoded again reaches Python with the same type it left with.
 */

/**
 * A Python `tuple`: an Array subclass, so it reads like one (`t[0]`, `t.length`,
 * destructuring) but re-encodes as a tuple, not a list. Build one with `tuple()`.
 * Treat it as immutable; it is not frozen, because generic walkers (marshal's
 * reviver) write elements back in place.
 */
export class Tuple<T = unknown> extends Array<T> {
  // map/filter/slice give plain arrays: a derived sequence is a list unless the user says otherwise.
  static override get [Symbol.species](): ArrayConstructor { return Array }

  /**
   * Structured clone and v8.serialize would turn a Tuple into a plain Array:
   * across threads, processes and troupe's own wire it travels as a tagged
   * record (items marshalled too, for nested tuples) and is revived as a Tuple.
   */
  [portable](): { type: string; data: unknown } {
    return { type: TUPLE_PORTABLE, data: marshal([...this], 'tuple').value }
  }
}

/** The portable type name of a Tuple in transit; the pickle encoder writes such a record as a tuple. */
export const TUPLE_PORTABLE = 'troupe.py.tuple'
registerPortable(TUPLE_PORTABLE, (data: unknown[]) => tupleFrom(unmarshal(data) as unknown[]))

/** Make a Python tuple from items: `tuple(1, 'a')` pickles as `(1, 'a')`. */
export function tuple<T extends unknown[]>(...items: T): Tuple<T[number]> & Readonly<T> {
  return tupleFrom(items) as Tuple<T[number]> & Readonly<T>
}

/** Turn an existing array into a Tuple (the array is adopted, not copied). */
export function tupleFrom<T>(items: T[]): Tuple<T> {
  Object.setPrototypeOf(items, Tuple.prototype)
  return items as unknown as Tuple<T>
}

/** Whether a value is a Python tuple (a `Tuple`). */
export function isTuple(v: unknown): v is Tuple {
  return v instanceof Tuple
}

/**
 * A Python `float` whose value is integral (`2.0`, `-0.0`, `1e300`). A JS
 * number that is an integer encodes as a Python `int`; wrap it to say float.
 * Non-integral floats (2.5, NaN, Infinity) decode to plain numbers. It is a
 * Number wrapper object, so arithmetic works and it crosses troupe's own v8
 * dialect as a Number object, which the pickle encoder also writes as a float.
 */
export class PyFloat extends Number {
  /** The number. */
  get value(): number { return this.valueOf() }
  /** Python-like text: `2.0`. */
  override toString(): string {
    const v = this.valueOf()
    return Number.isInteger(v) && Math.abs(v) < 1e16 ? `${Object.is(v, -0) ? '-0' : v}.0` : String(v)
  }
}

/** Mark a number as a Python float even when it is integral: `float(2)` pickles as `2.0`. */
export function float(value: number): PyFloat {
  return new PyFloat(value)
}

const sealed = new WeakSet<object>()

/** A Python `frozenset`: a Set that refuses changes after construction. */
export class FrozenSet<T = unknown> extends Set<T> {
  constructor(items?: Iterable<T> | null) {
    // Set's constructor calls add() before any field exists, so sealing is tracked outside the instance.
    super(items)
    sealed.add(this)
  }
  /** Refused: a frozenset cannot change. */
  override add(value: T): this {
    if (sealed.has(this)) throw new TypeError('a FrozenSet cannot be changed')
    return super.add(value)
  }
  /** Refused: a frozenset cannot change. */
  override delete(_value: T): boolean { throw new TypeError('a FrozenSet cannot be changed') }
  /** Refused: a frozenset cannot change. */
  override clear(): void { throw new TypeError('a FrozenSet cannot be changed') }

  /** Across troupe's own wire a FrozenSet stays frozen (structured clone would make it a plain Set). */
  [portable](): { type: string; data: unknown } {
    return { type: FROZENSET_PORTABLE, data: marshal([...this], 'frozenset').value }
  }
}

/** A Python `bytearray` (bytes that stay mutable on the Python side); a plain Buffer is `bytes`. */
export class ByteArray extends Uint8Array {
  /** Copy bytes into a new ByteArray. */
  static fromBytes(bytes: Uint8Array): ByteArray {
    const b = new ByteArray(bytes.length)
    b.set(bytes)
    return b
  }

  /** Across troupe's own wire a ByteArray stays a bytearray (a plain Uint8Array would be bytes). */
  [portable](): { type: string; data: unknown } {
    return { type: BYTEARRAY_PORTABLE, data: Buffer.from(this) }
  }
}

/**
 * A Python `collections.OrderedDict`: a Map (insertion-ordered like every
 * Map) that pickles back as an OrderedDict rather than a dict.
 */
export class OrderedDict<K = unknown, V = unknown> extends Map<K, V> {
  /** Across troupe's own wire it stays an OrderedDict (entries marshalled, so tuple keys survive). */
  [portable](): { type: string; data: unknown } {
    return { type: ODICT_PORTABLE, data: marshalOnce(this, () => marshal([...this], 'OrderedDict').value) }
  }
}

const marshalling = new WeakSet<object>()

/**
 * A portable's parts are marshalled by a nested call, which cannot refer back
 * to the record being built: a value that contains itself through one is
 * refused by name rather than recursing forever.
 */
function marshalOnce<T>(self: object, fn: () => T): T {
  if (marshalling.has(self)) throw new UnsendableValueError(`a ${self.constructor.name} that contains itself cannot travel as a troupe record`)
  marshalling.add(self)
  try {
    return fn()
  } finally {
    marshalling.delete(self)
  }
}

/** A Python `slice(start, stop, step)`, as `l[1:3]` sends it to a served list. */
export class Slice {
  constructor(readonly start: unknown = null, readonly stop: unknown = null, readonly step: unknown = null) {}
}

/**
 * A reference to a Python class or function by module and name, as a pickle
 * names it (Python 3 spelling). troupe never imports or calls it: an
 * allow-listed name may be turned into data (a set, an OrderedDict), any
 * other stays this opaque reference and is written back as it came.
 */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /** How a Python 2 pickle spelled it (`__builtin__.xrange`), kept so a Python 2 peer gets it back as it sent it. */
    readonly py2?: readonly [module: string, name: string],
  ) {}
  /** `module.name`. */
  get qualifiedName(): string { return `${this.module}.${this.name}` }
  toString(): string { return this.qualifiedName }

  /** Across troupe's own wire it stays a PyGlobal. */
  [portable](): { type: string; data: unknown } {
    return { type: GLOBAL_PORTABLE, data: this.py2 ? [this.module, this.name, ...this.py2] : [this.module, this.name] }
  }
}

/**
 * A Python object built by calling a global (`REDUCE`) or its `__new__`
 * (`NEWOBJ`), optionally followed by `BUILD` with `state`. Kept opaque: troupe
 * never runs it and writes it back as the same opcodes (a `Token`, an
 * exception, a `datetime`, a user's class instance relayed between Python peers).
 */
export class PyObject {
  /** `BUILD` state (`__setstate__` argument or `__dict__` update), when present. */
  declare state?: unknown
  /** Items added with APPEND/APPENDS (objects pickled with list items). */
  declare listItems?: unknown[]
  /** Pairs added with SETITEM/SETITEMS (objects pickled with dict items). */
  declare dictItems?: [unknown, unknown][]
  constructor(
    readonly callable: PyGlobal,
    readonly args: Tuple,
    /** True when made by NEWOBJ (`cls.__new__(cls, *args)`), false for REDUCE (`callable(*args)`). */
    readonly newobj = false,
    /** Keyword arguments of NEWOBJ_EX. */
    readonly kwargs?: Map<unknown, unknown>,
  ) {}
  /** `module.name` of the callable. */
  get type(): string { return this.callable.qualifiedName }

  /** Across troupe's own wire it stays a PyObject (its parts marshalled, so nested tuples survive too). */
  [portable](): { type: string; data: unknown } {
    const data: PyObjectData = { callable: this.callable, args: [...this.args], newobj: this.newobj }
    if (this.kwargs) data.kwargs = this.kwargs
    if (this.state !== undefined) data.state = this.state
    if (this.listItems) data.listItems = this.listItems
    if (this.dictItems) data.dictItems = this.dictItems
    return { type: OBJECT_PORTABLE, data: marshalOnce(this, () => marshal(data, 'PyObject').value) }
  }
}

/** The parts of a PyObject as they travel (see `[portable]`). */
interface PyObjectData {
  callable: unknown; args: unknown[]; newobj: boolean; kwargs?: unknown; state?: unknown
  listItems?: unknown[]; dictItems?: [unknown, unknown][]
}

/** A PyObject rebuilt from its travelling parts (nested records revived). */
function pyObjectFrom(raw: PyObjectData): PyObject {
  const d = unmarshal(raw) as PyObjectData
  const obj = new PyObject(d.callable as PyGlobal, tupleFrom(d.args), d.newobj, d.kwargs as Map<unknown, unknown> | undefined)
  if ('state' in d) obj.state = d.state
  if (d.listItems) obj.listItems = d.listItems
  if (d.dictItems) obj.dictItems = d.dictItems
  return obj
}

/** A Python exception instance: `pyException('queue', 'Empty')`, `pyException('builtins', 'ValueError', 'bad')`. */
export function pyException(module: string, name: string, ...args: unknown[]): PyObject {
  return new PyObject(new PyGlobal(module, name), tupleFrom(args))
}

/** Whether a decoded value is a Python exception instance of one of the allow-listed classes. */
export function isPyException(v: unknown): v is PyObject {
  return v instanceof PyObject && !v.newobj && EXCEPTION_MODULES.has(v.callable.module) && /(Error|Exception|Exit|Interrupt|Warning|Iteration|Empty|Full)$/.test(v.callable.name)
}

const EXCEPTION_MODULES = new Set(['builtins', 'queue', 'multiprocessing.managers', 'multiprocessing'])

/** `multiprocessing.managers.Token(typeid, address, id)`: names an object on a manager server. */
export interface PyToken { typeid: string; address: unknown; id: string }

/** Make a Token object for Python: `managers.Token(typeid, address, id)`. */
export function pyToken(typeid: string, address: unknown, id: string): PyObject {
  return new PyObject(new PyGlobal('multiprocessing.managers', 'Token'), tuple(typeid, address, id))
}

/** Read a Token whichever way it was pickled (REDUCE with args, or NEWOBJ + BUILD with a state tuple). */
export function readToken(v: unknown): PyToken | undefined {
  if (!(v instanceof PyObject) || v.type !== 'multiprocessing.managers.Token') return undefined
  const parts = Array.isArray(v.state) && v.state.length === 3 ? v.state : v.args.length === 3 ? v.args : undefined
  const typeid = parts && pyText(parts[0])
  const id = parts && pyText(parts[2])
  if (typeid === undefined || id === undefined) return undefined
  return { typeid, address: parts![1], id }
}

/** A Python text value as a string: `str`, a Python 2 `unicode` marker, or a non-ASCII Python 2 `str` (a Buffer) read as latin-1. */
export function pyText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (v instanceof String) return v.valueOf()
  if (Buffer.isBuffer(v)) return v.toString('latin1')
  return undefined
}

/** Portable type names of the Python value classes in transit; the pickle encoder writes these records directly. */
export const FROZENSET_PORTABLE = 'troupe.py.frozenset'
export const BYTEARRAY_PORTABLE = 'troupe.py.bytearray'
export const ODICT_PORTABLE = 'troupe.py.odict'
export const GLOBAL_PORTABLE = 'troupe.py.global'
export const OBJECT_PORTABLE = 'troupe.py.object'
registerPortable(FROZENSET_PORTABLE, (data: unknown[]) => new FrozenSet(unmarshal(data) as unknown[]))
registerPortable(BYTEARRAY_PORTABLE, (data: Uint8Array) => ByteArray.fromBytes(data))
registerPortable(ODICT_PORTABLE, (data: [unknown, unknown][]) => new OrderedDict(unmarshal(data) as [unknown, unknown][]))
registerPortable(GLOBAL_PORTABLE, (data: string[]) => new PyGlobal(data[0]!, data[1]!, data.length === 4 ? [data[2]!, data[3]!] : undefined))
registerPortable(OBJECT_PORTABLE, pyObjectFrom)

/**
 * A Python 2 `unicode` whose text is pure ASCII, as decoded from a Python 2
 * pickle: a `String` object, because a plain ASCII string goes back to Python 2
 * as `str` (what a Python 2 `'literal'` is). Python 3 reads either as `str`.
 */
export function py2Unicode(text: string): string {
  return new String(text) as unknown as string
}

/** Whether `v` is a `String` object (a Python 2 `unicode` marker, see `py2Unicode`). */
export function isPy2Unicode(v: unknown): v is String {
  return v instanceof String
}

/**
 * A Python 2 `int` too large for a JS number (2**53 <= |v| < 2**63): a `BigInt`
 * object, because a plain bigint is what a Python 2 `long` decodes to.
 */
export function py2Int(v: bigint): bigint {
  return Object(v) as bigint
}

/** Whether `v` is a `BigInt` object (a Python 2 `int` marker, see `py2Int`). */
export function isPy2Int(v: unknown): v is BigInt {
  return v instanceof BigInt
}

// These travel as data through a manager client's `marshal` check; the pickle encoder writes them.
for (const cls of [PyFloat, Slice]) registerDataClass(cls)
