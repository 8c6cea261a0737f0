import { UnsendableValueError } from '../errors.js'
import { Op } from './pickle-opcodes.js'
import { BUILTIN_EXCEPTIONS, py2Global } from './pickle-globals.js'
import {
  ByteArray, FrozenSet, OrderedDict, PyGlobal, PyObject, Slice, Tuple, pyException,
  TUPLE_PORTABLE, FROZENSET_PORTABLE, BYTEARRAY_PORTABLE, ODICT_PORTABLE, GLOBAL_PORTABLE, OBJECT_PORTABLE,
} from './pickle-types.js'
import { PORTABLE_TAG } from './marshal.js'

/** How to write a pickle. */
export interface PickleEncodeOptions {
  /**
   * Pickle protocol (default 4, what CPython 3.8-3.13 sends). Use 2 for a
   * Python 2 reader, which then gets Python 2's types back: ASCII strings as
   * `str` (String objects as `unicode`), Buffers as `str`, bigints as `long`.
   */
  protocol?: 2 | 3 | 4 | 5
  /** Deepest nesting written before refusing (default 1000). */
  maxDepth?: number
}

/** Encode a JS value as a pickle Python can load (mapping in docs/interop.md). */
export function encodePickle(value: unknown, options: PickleEncodeOptions = {}): Buffer {
  const protocol = options.protocol ?? 4
  if (![2, 3, 4, 5].includes(protocol)) throw new RangeError(`pickle protocol must be 2, 3, 4 or 5, not ${protocol}`)
  const p = new Pickler(protocol, options.maxDepth ?? 1000)
  p.byte(Op.PROTO); p.byte(protocol)
  p.save(value, 0)
  p.byte(Op.STOP)
  return p.result()
}

/** Turn a JS error into the Python exception a Python peer should see (troupe Empty -> queue.Empty). */
export function errorToPy(err: Error): PyObject {
  const name = err.name || 'Error'
  if (name === 'Empty') return pyException('queue', 'Empty')
  if (name === 'Full') return pyException('queue', 'Full')
  if (BUILTIN_EXCEPTIONS.has(name)) return pyException('builtins', name, err.message)
  return pyException('builtins', 'Exception', `${name}: ${err.message}`)
}

class Pickler {
  private buf = Buffer.allocUnsafe(256)
  private pos = 0
  private readonly memo = new Map<object, number>()
  /** Objects whose Python form is built after their children (tuples, frozensets, REDUCE): a cycle through one cannot be pickled. */
  private readonly building = new Set<object>()
  private readonly path: (string | number)[] = []

  constructor(private readonly protocol: number, private readonly maxDepth: number) {}

  result(): Buffer { return this.buf.subarray(0, this.pos) }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  private u32(n: number): void {
    this.ensure(4)
    this.buf.writeUInt32LE(n, this.pos)
    this.pos += 4
  }

  private bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  save(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string': return this.saveString(v)
      case 'number': return this.saveNumber(v)
      case 'boolean': return this.byte(v ? Op.NEWTRUE : Op.NEWFALSE)
      case 'bigint': return this.saveInt(v)
      case 'undefined': return this.byte(Op.NONE)
      case 'object': break
      default: throw this.unsendable(v)
    }
    if (v === null) return this.byte(Op.NONE)
    // PyFloat, and any Number object (how a PyFloat arrives after crossing troupe's v8 dialect), is a float.
    if (v instanceof Number) return this.saveFloat(v.valueOf())
    // A String object is a Python 2 `unicode`, a BigInt object a Python 2 `int` (see py2Unicode / py2Int).
    if (v instanceof String) return this.saveUnicode(v.valueOf())
    if (v instanceof BigInt) return this.savePy2Int(v.valueOf())
    if (v instanceof Uint8Array && !(v instanceof ByteArray)) return this.saveBytes(v)
    if (depth >= this.maxDepth) throw this.unsendable(v, `nests deeper than maxDepth (${this.maxDepth})`)
    const seen = this.memo.get(v)
    if (seen !== undefined) return this.get(seen)
    if (this.building.has(v)) throw this.unsendable(v, 'contains itself through a tuple, frozenset or object, which pickle cannot express')
    if (v instanceof Tuple) return this.saveTuple(v, v, depth)
    if (Array.isArray(v)) return this.saveList(v, depth)
    if (v instanceof OrderedDict) return this.saveOrderedDict(v, v, depth)
    if (v instanceof Map) return this.saveDict(v.entries(), v, depth)
    if (v instanceof FrozenSet) return this.saveFrozenSet(v, v, depth)
    if (v instanceof Set) return this.saveSet(v, depth)
    if (v instanceof ByteArray) return this.saveByteArray(v, v)
    if (v instanceof PyObject) return this.saveObject(v, v, depth)
    if (v instanceof PyGlobal) { this.global(v); return this.put(v) }
    if (v instanceof Slice) return this.saveObject({ callable: SLICE, args: [v.start, v.stop, v.step], newobj: false }, v, depth)
    if (v instanceof Error) return this.saveObject(errorToPy(v), v, depth)
    const proto = Object.getPrototypeOf(v)
    if (proto === Object.prototype || proto === null) {
      const rec = v as Record<string, unknown>
      const type = rec[PORTABLE_TAG]
      if (typeof type === 'string') return this.saveRecord(type, rec.data, rec, depth)
      return this.saveDict(Object.entries(v), v, depth)
    }
    throw this.unsendable(v)
  }

  /**
   * Values held by a manager are in marshalled form (the Python value
   * classes as tagged records, see pickle-types): each is written as the
   * Python value it stands for, straight from its record.
   */
  private saveRecord(type: string, data: unknown, self: object, depth: number): void {
    switch (type) {
      case TUPLE_PORTABLE: if (Array.isArray(data)) return this.saveTuple(data, self, depth); break
      case FROZENSET_PORTABLE: if (Array.isArray(data)) return this.saveFrozenSet(data, self, depth); break
      case BYTEARRAY_PORTABLE: if (data instanceof Uint8Array) return this.saveByteArray(data, self); break
      case ODICT_PORTABLE: if (Array.isArray(data)) return this.saveOrderedDict(data as [unknown, unknown][], self, depth); break
      case GLOBAL_PORTABLE: if (Array.isArray(data)) { this.global(globalParts(data)); return this.put(self) } break
      case OBJECT_PORTABLE: if (data && typeof data === 'object') return this.saveObject(data as ObjectParts, self, depth); break
      default: throw this.unsendable(self, `is a ${type} reference, which has no pickle form`)
    }
    throw this.unsendable(self, `is a malformed ${type} record`)
  }

  private saveNumber(v: number): void {
    // An integral JS number is a Python int; wrap in PyFloat (or decode one) to send a float.
    if (Number.isInteger(v) && !Object.is(v, -0)) {
      if (v >= 0 && v < 0x100) { this.byte(Op.BININT1); this.byte(v); return }
      if (v >= 0 && v < 0x10000) { this.ensure(3); this.buf[this.pos++] = Op.BININT2; this.buf.writeUInt16LE(v, this.pos); this.pos += 2; return }
      if (v >= -0x80000000 && v <= 0x7fffffff) { this.ensure(5); this.buf[this.pos++] = Op.BININT; this.buf.writeInt32LE(v, this.pos); this.pos += 4; return }
      return this.protocol < 3 ? this.saveIntText(BigInt(v)) : this.saveLong(BigInt(v))
    }
    this.saveFloat(v)
  }

  /** A bigint: an int for Python 3; for Python 2 a `long`, the type that decodes to a bigint. */
  private saveInt(v: bigint): void {
    if (this.protocol < 3) return this.saveLong(v)
    if (v >= -0x80000000n && v <= 0x7fffffffn) return this.saveNumber(Number(v))
    this.saveLong(v)
  }

  /** A Python 2 `int` (a BigInt object): INT text, which Python 2 reads as int up to 64 bits, as its own pickler writes it. */
  private savePy2Int(v: bigint): void {
    if (this.protocol >= 3 || v < -(2n ** 63n) || v >= 2n ** 63n) return this.saveInt(v)
    if (v >= -0x80000000n && v <= 0x7fffffffn) return this.saveNumber(Number(v))
    this.saveIntText(v)
  }

  private saveIntText(v: bigint): void {
    const text = `${v}\n`
    this.byte(Op.INT)
    this.ensure(text.length)
    this.pos += this.buf.write(text, this.pos, 'latin1')
  }

  private saveFloat(v: number): void {
    this.ensure(9)
    this.buf[this.pos++] = Op.BINFLOAT
    this.buf.writeDoubleBE(v, this.pos)
    this.pos += 8
  }

  private saveLong(v: bigint): void {
    // Minimal little-endian two's complement, as CPython's encode_long (0 is LONG1 with no bytes).
    if (v === 0n) { this.byte(Op.LONG1); this.byte(0); return }
    const bits = (v < 0n ? -v - 1n : v).toString(2).length + 1
    const n = Math.ceil(bits / 8)
    let x = v < 0n ? (1n << BigInt(n * 8)) + v : v
    const out = Buffer.alloc(n)
    for (let i = 0; i < n; i++) { out[i] = Number(x & 0xffn); x >>= 8n }
    if (n < 256) { this.byte(Op.LONG1); this.byte(n) } else { this.byte(Op.LONG4); this.u32(n) }
    this.bytes(out)
  }

  private saveString(s: string): void {
    // For Python 2, ASCII text is a `str` (what its literals are); other text can only be `unicode`.
    if (this.protocol < 3 && !/[^\x00-\x7f]/.test(s)) {
      const n = s.length
      if (n < 256) { this.ensure(2 + n); this.buf[this.pos++] = Op.SHORT_BINSTRING; this.buf[this.pos++] = n } else { this.byte(Op.BINSTRING); this.u32(n); this.ensure(n) }
      this.pos += this.buf.write(s, this.pos, 'latin1')
      return
    }
    this.saveUnicode(s)
  }

  private saveUnicode(s: string): void {
    const encoded = hasLoneSurrogate(s) ? encodeSurrogatePass(s) : undefined
    const n = encoded ? encoded.length : Buffer.byteLength(s)
    if (n < 256 && this.protocol >= 4) { this.ensure(2 + n); this.buf[this.pos++] = Op.SHORT_BINUNICODE; this.buf[this.pos++] = n }
    else { this.byte(Op.BINUNICODE); this.u32(n); this.ensure(n) }
    if (encoded) this.bytes(encoded)
    else this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  private saveBytes(b: Uint8Array): void {
    // Protocol 2 has no bytes type: its reader is Python 2, whose bytes are `str`.
    if (this.protocol >= 3) {
      if (b.length < 256) { this.byte(Op.SHORT_BINBYTES); this.byte(b.length) } else { this.byte(Op.BINBYTES); this.u32(b.length) }
    } else if (b.length < 256) { this.byte(Op.SHORT_BINSTRING); this.byte(b.length) } else { this.byte(Op.BINSTRING); this.u32(b.length) }
    this.bytes(b)
  }

  private saveByteArray(b: Uint8Array, self: object): void {
    if (this.protocol >= 5) {
      this.ensure(9)
      this.buf[this.pos++] = Op.BYTEARRAY8
      this.buf.writeBigUInt64LE(BigInt(b.length), this.pos)
      this.pos += 8
      this.bytes(b)
    } else {
      this.global(BYTEARRAY)
      if (this.protocol >= 3) this.saveBytes(b)
      else { this.saveUnicode(Buffer.from(b).toString('latin1')); this.saveString('latin-1') }
      this.byte(this.protocol >= 3 ? Op.TUPLE1 : Op.TUPLE2)
      this.byte(Op.REDUCE)
    }
    this.put(self)
  }

  private saveTuple(t: readonly unknown[], self: object, depth: number): void {
    if (t.length === 0) return this.byte(Op.EMPTY_TUPLE)
    this.building.add(self)
    if (t.length > 3) this.byte(Op.MARK)
    for (let i = 0; i < t.length; i++) this.child(t[i], i, depth)
    this.byte(t.length === 1 ? Op.TUPLE1 : t.length === 2 ? Op.TUPLE2 : t.length === 3 ? Op.TUPLE3 : Op.TUPLE)
    this.building.delete(self)
    this.put(self)
  }

  private saveList(a: unknown[], depth: number): void {
    this.byte(Op.EMPTY_LIST)
    this.put(a)
    // Batches of 1000 between MARKs, as CPython writes them, keep the reader's stack short.
    for (let start = 0; start < a.length; start += 1000) {
      const end = Math.min(a.length, start + 1000)
      if (end - start === 1) { this.child(a[start], start, depth); this.byte(Op.APPEND); continue }
      this.byte(Op.MARK)
      for (let i = start; i < end; i++) this.child(a[i], i, depth)
      this.byte(Op.APPENDS)
    }
  }

  private saveDict(entries: Iterable<[unknown, unknown]>, self: object, depth: number): void {
    this.byte(Op.EMPTY_DICT)
    this.put(self)
    this.setItems(entries, depth)
  }

  /** `collections.OrderedDict()` then SETITEMS, as CPython 3 writes one (Python 2 reads it too). */
  private saveOrderedDict(entries: Iterable<readonly [unknown, unknown]>, self: object, depth: number): void {
    this.global(ORDERED_DICT)
    this.byte(Op.EMPTY_TUPLE)
    this.byte(Op.REDUCE)
    this.put(self)
    this.setItems(entries, depth)
  }

  /** A mapping's items in MARK ... SETITEMS batches of up to 1000, as CPython's pickler writes them. */
  private setItems(entries: Iterable<readonly [unknown, unknown]>, depth: number): void {
    let open = 0
    for (const [k, val] of entries) {
      if (open === 0) this.byte(Op.MARK)
      this.child(k, '<key>', depth)
      this.child(val, typeof k === 'string' ? k : String(k), depth)
      if (++open === 1000) { this.byte(Op.SETITEMS); open = 0 }
    }
    if (open) this.byte(Op.SETITEMS)
  }

  private saveSet(s: Set<unknown>, depth: number): void {
    if (this.protocol >= 4) {
      this.byte(Op.EMPTY_SET)
      this.put(s)
      if (s.size) {
        this.byte(Op.MARK)
        for (const item of s) this.child(item, '<item>', depth)
        this.byte(Op.ADDITEMS)
      }
      return
    }
    this.setViaReduce('set', s, s, depth)
  }

  private saveFrozenSet(s: Iterable<unknown>, self: object, depth: number): void {
    if (this.protocol < 4) return this.setViaReduce('frozenset', s, self, depth)
    this.building.add(self)
    this.byte(Op.MARK)
    for (const item of s) this.child(item, '<item>', depth)
    this.byte(Op.FROZENSET)
    this.building.delete(self)
    this.put(self)
  }

  /** Protocols 2-3 have no set opcodes: `builtins.set([items])`, as CPython writes them. */
  private setViaReduce(name: 'set' | 'frozenset', s: Iterable<unknown>, self: object, depth: number): void {
    const items = [...s]
    this.building.add(self)
    this.global({ module: 'builtins', name })
    this.byte(Op.EMPTY_LIST)
    if (items.length) {
      this.byte(Op.MARK)
      for (const item of items) this.child(item, '<item>', depth)
      this.byte(Op.APPENDS)
    }
    this.byte(Op.TUPLE1)
    this.byte(Op.REDUCE)
    this.building.delete(self)
    this.put(self)
  }

  /** A PyObject (or its travelling record): the global, its args, REDUCE / NEWOBJ / NEWOBJ_EX, then items and BUILD state. */
  private saveObject(o: ObjectParts, self: object, depth: number): void {
    this.building.add(self)
    this.global(globalParts(o.callable))
    this.saveTuple(Array.isArray(o.args) ? o.args : [], o.args && typeof o.args === 'object' ? o.args : {}, depth + 1)
    if (!o.newobj) this.byte(Op.REDUCE)
    else if (o.kwargs) {
      if (this.protocol < 4) throw this.unsendable(self, 'needs NEWOBJ_EX (keyword arguments), which protocols below 4 lack')
      this.child(o.kwargs, 'kwargs', depth)
      this.byte(Op.NEWOBJ_EX)
    } else this.byte(Op.NEWOBJ)
    this.building.delete(self)
    this.put(self)
    if (o.listItems?.length) {
      this.byte(Op.MARK)
      o.listItems.forEach((item, i) => this.child(item, i, depth))
      this.byte(Op.APPENDS)
    }
    if (o.dictItems?.length) {
      this.byte(Op.MARK)
      for (const [k, val] of o.dictItems) { this.child(k, '<key>', depth); this.child(val, String(k), depth) }
      this.byte(Op.SETITEMS)
    }
    if (o.state !== undefined) {
      this.child(o.state, 'state', depth)
      this.byte(Op.BUILD)
    }
  }

  private child(v: unknown, segment: string | number, depth: number): void {
    const t = typeof v
    if (v === null || (t !== 'object' && t !== 'function' && t !== 'symbol')) return this.save(v, depth + 1)
    this.path.push(segment)
    this.save(v, depth + 1)
    this.path.pop()
  }

  /**
   * GLOBAL works in every protocol. A Python 2 reader gets the spelling a
   * Python 2 pickle used, or the Python 2 name of a Python 3 one (Python 3 maps them back).
   */
  private global(g: GlobalParts): void {
    const [m, n] = this.protocol >= 3 ? [g.module, g.name] : g.py2 ?? py2Global(g.module, g.name)
    const text = `${m}\n${n}\n`
    this.byte(Op.GLOBAL)
    this.ensure(text.length * 3)
    this.pos += this.buf.write(text, this.pos, 'utf8')
  }

  private put(o: object): void {
    const index = this.memo.size
    this.memo.set(o, index)
    if (this.protocol >= 4) this.byte(Op.MEMOIZE)
    else if (index < 256) { this.byte(Op.BINPUT); this.byte(index) } else { this.byte(Op.LONG_BINPUT); this.u32(index) }
  }

  private get(index: number): void {
    if (index < 256) { this.byte(Op.BINGET); this.byte(index) } else { this.byte(Op.LONG_BINGET); this.u32(index) }
  }

  private unsendable(v: unknown, why?: string): UnsendableValueError {
    let where = 'value'
    for (const seg of this.path) where += typeof seg === 'number' ? `[${seg}]` : /^[A-Za-z_$][\w$]*$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`
    const kind = typeof v === 'function' ? `a function${v.name ? ` (${v.name})` : ''}`
      : typeof v === 'symbol' ? 'a symbol'
      : `an instance of ${(v as object)?.constructor?.name ?? 'an unknown class'}`
    const err = new UnsendableValueError(why
      ? `${where} ${why}`
      : `${where} is ${kind}, which has no pickle form. Send None/bool/number/bigint/string/Buffer/Array/Tuple/Map/Set/plain objects, PyFloat or PyObject.`)
    err.path = where
    return err
  }
}

/** A global's names, from a PyGlobal or its travelling record `[module, name, py2module?, py2name?]`. */
interface GlobalParts { module: string; name: string; py2?: readonly [string, string] }

/** The parts of a PyObject, from the instance or its travelling record. */
interface ObjectParts {
  callable: unknown; args: readonly unknown[]; newobj: boolean; kwargs?: unknown; state?: unknown
  listItems?: unknown[]; dictItems?: [unknown, unknown][]
}

const SLICE: GlobalParts = { module: 'builtins', name: 'slice' }
const BYTEARRAY: GlobalParts = { module: 'builtins', name: 'bytearray' }
const ORDERED_DICT: GlobalParts = { module: 'collections', name: 'OrderedDict' }

function globalParts(g: unknown): GlobalParts {
  if (g instanceof PyGlobal || (g && typeof (g as GlobalParts).module === 'string')) return g as GlobalParts
  const rec = g as Record<string, unknown> | undefined
  const data = Array.isArray(g) ? g : rec?.[PORTABLE_TAG] === GLOBAL_PORTABLE ? rec.data : undefined
  if (Array.isArray(data) && typeof data[0] === 'string' && typeof data[1] === 'string') {
    return { module: data[0], name: data[1], py2: data.length === 4 ? [String(data[2]), String(data[3])] : undefined }
  }
  throw new UnsendableValueError('a Python object record names no global')
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDFFF]/.test(s) && /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)
}

/** UTF-8 that keeps lone surrogates (CPython's `surrogatepass`), so they survive a round trip. */
function encodeSurrogatePass(s: string): Buffer {
  const parts: Buffer[] = []
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0xd800 || c > 0xdfff) continue
    const next = s.charCodeAt(i + 1)
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) { i++; continue }
    parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.from([0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)]))
    start = i + 1
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'))
  return Buffer.concat(parts)
}
