import { registerDataClass, registerPortable, marshal, unmarshal, portable } from './marshal.js'

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
}

/** A Python `bytearray` (bytes that stay mutable on the Python side); a plain Buffer is `bytes`. */
export class ByteArray extends Uint8Array {
  /** Copy bytes into a new ByteArray. */
  static fromBytes(bytes: Uint8Array): ByteArray {
    const b = new ByteArray(bytes.length)
    b.set(bytes)
    return b
  }
}

/**
 * A reference to a Python class or function by module and name, as a pickle
 * names it. Only allow-listed names are ever decoded, and none is evaluated.
 */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  /** `module.name`. */
  get qualifiedName(): string { return `${this.module}.${this.name}` }
  toString(): string { return this.qualifiedName }
}

/**
 * A Python object built by calling a global (`REDUCE`) or its `__new__`
 * (`NEWOBJ`), optionally followed by `BUILD` with `state`. Kept opaque: troupe
 * never runs it, it re-encodes it unchanged (e.g. a `Token`, an exception).
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

/** A Python text value as a string: `str`, or Python 2's byte `str` (a Buffer) read as latin-1. */
export function pyText(v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (Buffer.isBuffer(v)) return v.toString('latin1')
  return undefined
}

// These travel as data through a manager client's `marshal` check; the pickle encoder writes them.
for (const cls of [PyFloat, PyGlobal, PyObject]) registerDataClass(cls)
