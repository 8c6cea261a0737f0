/** Value and RawArray: numbers in shared memory for thread Processes (Python's `Value` / `RawArray`). */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { Lock } from './lock.js'
import { sharedData } from './wait.js'

/** Element types, with Python's typecodes as aliases ('i' = 'i32', 'd' = 'f64', 'q' = 'i64', ...). */
export type NumberType = 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'f32' | 'f64' | 'i64' | 'u64'
/** Python typecodes accepted as aliases. */
export type TypeCode = 'b' | 'B' | 'h' | 'H' | 'i' | 'I' | 'l' | 'L' | 'q' | 'Q' | 'f' | 'd'
/** What a Value of a type holds: bigint for 64-bit integers, number otherwise. */
export type ValueOf<K extends NumberType | TypeCode> = K extends 'i64' | 'u64' | 'q' | 'Q' ? bigint : number

const aliases: Record<TypeCode, NumberType> = { b: 'i8', B: 'u8', h: 'i16', H: 'u16', i: 'i32', I: 'u32', l: 'i64', L: 'u64', q: 'i64', Q: 'u64', f: 'f32', d: 'f64' }
type AnyArrayClass = { new (b: SharedArrayBuffer | number): ArrayLike<number | bigint>; BYTES_PER_ELEMENT: number }
const arrays = {
  i8: Int8Array, u8: Uint8Array, i16: Int16Array, u16: Uint16Array, i32: Int32Array, u32: Uint32Array,
  f32: Float32Array, f64: Float64Array, i64: BigInt64Array, u64: BigUint64Array,
} as const
/** The typed array class for each type. */
export type ArrayOf<K extends NumberType | TypeCode> = InstanceType<(typeof arrays)[K extends TypeCode ? (typeof aliases)[K] : K]>

function normalize(type: string): NumberType {
  const t = (aliases as Record<string, NumberType>)[type] ?? type
  if (!(t in arrays)) throw new TypeError(`unknown number type '${type}': use one of ${Object.keys(arrays).join(', ')} (or a Python typecode: ${Object.keys(aliases).join(' ')})`)
  return t as NumberType
}

/**
 * One number in shared memory with a Lock for compound updates (Python's
 * `Value`). Reads and writes of integer types are atomic; `add()` is an atomic
 * increment; for read-modify-write of floats hold `getLock()`.
 */
export class Value<K extends NumberType | TypeCode = 'f64'> implements Portable {
  /** The element type. */
  readonly type: NumberType
  /** The shared memory holding the number. */
  readonly buffer: SharedArrayBuffer
  private readonly cell: ArrayOf<K>
  private readonly lock: Lock

  /** A shared number of `type` (default 'f64') starting at `initial` (default 0). `shared`: @internal. */
  constructor(type: K = 'f64' as K, initial?: ValueOf<K>, shared?: { buffer: SharedArrayBuffer; lock: SharedArrayBuffer }) {
    this.type = normalize(type)
    const Cls = arrays[this.type] as AnyArrayClass
    this.buffer = shared?.buffer ?? new SharedArrayBuffer(Cls.BYTES_PER_ELEMENT)
    this.cell = new Cls(this.buffer) as ArrayOf<K>
    this.lock = new Lock(shared?.lock)
    if (!shared && initial !== undefined) this.value = initial
  }

  private get atomic(): boolean {
    return this.type !== 'f32' && this.type !== 'f64'
  }

  /** The number now. */
  get value(): ValueOf<K> {
    return (this.atomic ? Atomics.load(this.cell as Int32Array, 0) : this.cell[0]) as ValueOf<K>
  }

  set value(v: ValueOf<K>) {
    if (this.atomic) Atomics.store(this.cell as Int32Array, 0, v as number)
    else (this.cell as Float64Array)[0] = v as number
  }

  /** Atomically add `delta` (integer types) and return the new value. */
  add(delta: ValueOf<K>): ValueOf<K> {
    if (!this.atomic) throw new TypeError(`add() is atomic only for integer types; hold getLock() to update a ${this.type}`)
    const cells = this.cell as unknown as Int32Array
    return ((Atomics.add(cells, 0, delta as number) as number) + (delta as number)) as ValueOf<K>
  }

  /** The lock that guards compound updates (shared with every copy of this Value). */
  getLock(): Lock {
    return this.lock
  }

  /** Carried to threads as its SharedArrayBuffers. */
  [portable](): { type: string; data: unknown } {
    return { type: 'troupe.Value', data: sharedData({ kind: this.type, buffer: this.buffer, lock: this.lock.buffer }, import.meta.url) }
  }
}

/**
 * A typed array on shared memory (Python's `RawArray`): `size` zeros or a copy
 * of `init`. Pass it to thread Processes as is; no lock, use Atomics or a Lock.
 */
export function RawArray<K extends NumberType | TypeCode>(type: K, sizeOrInit: number | ArrayLike<ValueOf<K>>): ArrayOf<K> {
  const Cls = arrays[normalize(type)] as AnyArrayClass
  const n = typeof sizeOrInit === 'number' ? sizeOrInit : sizeOrInit.length
  const out = new Cls(new SharedArrayBuffer(n * Cls.BYTES_PER_ELEMENT)) as ArrayOf<K>
  if (typeof sizeOrInit !== 'number') (out as unknown as { set(a: ArrayLike<unknown>): void }).set(sizeOrInit)
  return out
}

registerPortable('troupe.Value', (d: { kind: NumberType; buffer: SharedArrayBuffer; lock: SharedArrayBuffer }) =>
  new Value(d.kind, undefined, { buffer: d.buffer, lock: d.lock }))
