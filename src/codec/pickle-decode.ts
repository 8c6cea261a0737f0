import { DecodeError, ForbiddenGlobalError } from '../errors.js'
import { Op } from './pickle-opcodes.js'
import { canonicalGlobal, isAllowedGlobal } from './pickle-globals.js'
import { ByteArray, FrozenSet, OrderedDict, PyFloat, PyGlobal, PyObject, Slice, Tuple, py2Int, py2Unicode, tupleFrom } from './pickle-types.js'

/** Limits that keep a hostile or corrupt pickle from costing more than its size. */
export interface PickleDecodeOptions {
  /** Deepest nesting of containers accepted (default 1000, Python's own recursion limit). */
  maxDepth?: number
  /** Most memo entries accepted (default 1,000,000). */
  maxMemo?: number
  /** Largest binary int accepted (LONG1/LONG4), in bytes of two's complement (default 65536, about 2^524288). */
  maxIntBytes?: number
  /**
   * Globals outside the allow-list: `'relay'` (default) keeps them as opaque
   * `PyGlobal`/`PyObject` nodes that are written back unchanged and never run;
   * `'refuse'` throws ForbiddenGlobalError naming them.
   */
  foreign?: 'relay' | 'refuse'
  /**
   * Read with Python 2's types (default: when the pickle's protocol is 0-2,
   * which only Python 2 uses on the manager wire): `long` decodes to a bigint,
   * an ASCII `str` to a string and an ASCII `unicode` to a String object, so
   * each goes back to Python 2 as the type it was (docs/interop.md).
   */
  python2?: boolean
  /**
   * Most digits of an int written as text (protocol 0/1 INT and LONG): default 4300,
   * CPython's `sys.int_info.default_max_str_digits`; decimal text costs quadratic time to convert.
   */
  maxIntDigits?: number
  /**
   * Most values one pickle may build (default 1,000,000): every value pushed counts one,
   * long strings and bytes one per 64 bytes, and a memo reference to a container as
   * much as the container holds (so sharing cannot blow a pickle up into a huge tree).
   */
  maxValues?: number
}

/** The defaults of PickleDecodeOptions. */
export const PICKLE_DEFAULT_LIMITS: Required<Pick<PickleDecodeOptions, 'maxDepth' | 'maxMemo' | 'maxIntBytes' | 'maxIntDigits' | 'maxValues'>> = { maxDepth: 1000, maxMemo: 1_000_000, maxIntBytes: 65536, maxIntDigits: 4300, maxValues: 1_000_000 }

// Long strings and bytes cost per byte; this many bytes count as one value (as in checkV8).
const BYTES_PER_VALUE = 64

/** A decoded pickle and the protocol its writer used (0 when it had no PROTO opcode). */
export interface DecodedPickle { value: unknown; protocol: number }

/** Decode a pickle (protocols 0-5) into JS values (mapping in docs/interop.md); never runs anything. */
export function decodePickle(bytes: Uint8Array, options?: PickleDecodeOptions): unknown {
  return new Unpickler(bytes, options).run()!.value
}

/** Decode a pickle and report the protocol it was written with, so a reply can use the same one. */
export function decodePickleWithProtocol(bytes: Uint8Array, options?: PickleDecodeOptions): DecodedPickle {
  return new Unpickler(bytes, options).run()!
}

/** Opcodes run per event-loop turn by `decodePickleAsync` (a few milliseconds of work at most). */
export const PICKLE_OPS_PER_TURN = 2048

/**
 * `decodePickleWithProtocol` for bytes from a socket: a big pickle is decoded
 * a slice of opcodes at a time, yielding to the event loop in between, so one
 * peer's frame never holds up the others. A small one finishes in its first slice.
 */
export async function decodePickleAsync(bytes: Uint8Array, options?: PickleDecodeOptions): Promise<DecodedPickle> {
  const u = new Unpickler(bytes, options)
  for (;;) {
    const done = u.run(PICKLE_OPS_PER_TURN)
    if (done) return done
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

class Unpickler {
  private readonly buf: Buffer
  private pos = 0
  private stack: unknown[] = []
  private marks: number[] = []
  /** Stack index below which the current MARK forbids popping (Python's metastack). */
  private base = 0
  private readonly memo = new Map<number, unknown>()
  private readonly depths = new WeakMap<object, number>()
  /** Set once an object can be reached twice (memo GET, DUP): depth must then be checked at the end. */
  private shared = false
  private protocol = 0
  /** Python 2 reading rules (see PickleDecodeOptions.python2); settled by PROTO unless given. */
  private py2: boolean
  private readonly py2Fixed: boolean
  private readonly relay: boolean
  private readonly maxDepth: number
  private readonly maxMemo: number
  private readonly maxIntBytes: number
  private readonly maxIntDigits: number
  private readonly maxValues: number
  private values = 0

  constructor(bytes: Uint8Array, options: PickleDecodeOptions = {}) {
    this.buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.maxDepth = options.maxDepth ?? PICKLE_DEFAULT_LIMITS.maxDepth
    this.maxMemo = options.maxMemo ?? PICKLE_DEFAULT_LIMITS.maxMemo
    this.maxIntBytes = options.maxIntBytes ?? PICKLE_DEFAULT_LIMITS.maxIntBytes
    this.maxIntDigits = options.maxIntDigits ?? PICKLE_DEFAULT_LIMITS.maxIntDigits
    this.maxValues = options.maxValues ?? PICKLE_DEFAULT_LIMITS.maxValues
    this.relay = options.foreign !== 'refuse'
    this.py2Fixed = options.python2 !== undefined
    this.py2 = options.python2 ?? true
  }

  /** Run to STOP and return the value, or stop after `ops` opcodes and return undefined (call again to go on). */
  run(ops = Infinity): DecodedPickle | undefined {
    const buf = this.buf
    for (;;) {
      if (--ops < 0) return undefined
      if (this.pos >= buf.length) throw this.fail('pickle ended without STOP')
      const at = this.pos
      const op = buf[this.pos++]!
      switch (op) {
        case Op.PROTO: {
          const p = this.u8()
          if (p > 5) throw this.fail(`unsupported pickle protocol ${p}`, at)
          this.protocol = p
          if (!this.py2Fixed) this.py2 = p <= 2
          break
        }
        case Op.FRAME: {
          // Framing only groups bytes for buffered readers (reference §4.1); check it, then read on.
          const n = this.u64()
          if (n > buf.length - this.pos) throw this.fail(`frame of ${n} bytes exceeds the ${buf.length - this.pos} bytes left`, at)
          break
        }
        case Op.STOP: {
          if (this.marks.length) throw this.fail('MARK left open at STOP', at)
          if (this.stack.length !== 1) throw this.fail(this.stack.length ? `${this.stack.length} values left on the stack at STOP` : 'STOP with an empty stack', at)
          const value = this.stack[0]
          if (this.shared) this.checkSharedDepth(value)
          return { value, protocol: this.protocol }
        }
        case Op.MARK:
          this.marks.push(this.base)
          this.base = this.stack.length
          break
        case Op.POP:
          if (this.stack.length > this.base) this.stack.pop()
          else this.popMark(at)
          break
        case Op.POP_MARK: this.popMark(at); break
        case Op.DUP: this.shared = true; this.push(this.peek(at)); break
        case Op.NONE: this.push(null); break
        case Op.NEWTRUE: this.push(true); break
        case Op.NEWFALSE: this.push(false); break
        case Op.BININT1: this.push(this.u8()); break
        case Op.BININT2: this.need(2, at); this.push(buf.readUInt16LE(this.pos)); this.pos += 2; break
        case Op.BININT: this.need(4, at); this.push(buf.readInt32LE(this.pos)); this.pos += 4; break
        case Op.LONG1: this.push(this.longValue(this.long(this.u8(), at))); break
        case Op.LONG4: {
          const n = this.take(4, at).readInt32LE(0)
          if (n < 0) throw this.fail('negative LONG4 length', at)
          this.push(this.longValue(this.long(n, at)))
          break
        }
        case Op.BINFLOAT: this.need(8, at); this.push(pyFloat(buf.readDoubleBE(this.pos))); this.pos += 8; break
        case Op.SHORT_BINUNICODE: this.push(this.unicode(this.text(this.u8(), at))); break
        case Op.BINUNICODE: this.push(this.unicode(this.text(this.u32(), at))); break
        case Op.BINUNICODE8: this.push(this.unicode(this.text(this.u64(), at))); break
        case Op.SHORT_BINBYTES: this.push(Buffer.from(this.take(this.u8(), at))); break
        case Op.BINBYTES: this.push(Buffer.from(this.take(this.u32(), at))); break
        case Op.BINBYTES8: this.push(Buffer.from(this.take(this.u64(), at))); break
        case Op.BYTEARRAY8: this.push(ByteArray.fromBytes(this.take(this.u64(), at))); break
        // Python 2 `str`: read as CPython 3 reads it (ASCII text is a str), other bytes stay bytes (docs/interop.md).
        case Op.SHORT_BINSTRING: this.push(py2Str(this.take(this.u8(), at))); break
        case Op.BINSTRING: {
          const n = this.take(4, at).readInt32LE(0)
          if (n < 0) throw this.fail('negative BINSTRING length', at)
          this.push(py2Str(this.take(n, at)))
          break
        }
        case Op.EMPTY_TUPLE: this.push(tupleFrom([])); break
        case Op.TUPLE1: case Op.TUPLE2: case Op.TUPLE3: {
          const n = op - Op.TUPLE1 + 1
          if (this.stack.length - this.base < n) throw this.fail('stack underflow', at)
          this.push(this.container(tupleFrom(this.stack.splice(this.stack.length - n, n)), at))
          break
        }
        case Op.TUPLE: this.push(this.container(tupleFrom(this.popToMark(at)), at)); break
        case Op.EMPTY_LIST: this.push([]); break
        case Op.LIST: this.push(this.container(this.popToMark(at), at)); break
        case Op.APPEND: {
          const item = this.pop(at)
          this.appendTo(this.peek(at), [item], at)
          break
        }
        case Op.APPENDS: {
          const items = this.popToMark(at)
          this.appendTo(this.peek(at), items, at)
          break
        }
        case Op.EMPTY_DICT: this.push(new Map()); break
        case Op.DICT: {
          const items = this.popToMark(at)
          const map = new Map()
          this.setItems(map, items, at)
          this.push(map)
          break
        }
        case Op.SETITEM: {
          const v = this.pop(at)
          const k = this.pop(at)
          this.setItems(this.peek(at), [k, v], at)
          break
        }
        case Op.SETITEMS: {
          const items = this.popToMark(at)
          this.setItems(this.peek(at), items, at)
          break
        }
        case Op.EMPTY_SET: this.push(new Set()); break
        case Op.ADDITEMS: {
          const items = this.popToMark(at)
          const set = this.peek(at)
          if (!(set instanceof Set) || set instanceof FrozenSet) throw this.fail('ADDITEMS on something that is not a set', at)
          for (const item of items) { set.add(item); this.grew(set, item, at) }
          break
        }
        case Op.FROZENSET: this.push(this.container(new FrozenSet(this.popToMark(at)), at)); break
        case Op.MEMOIZE: this.put(this.memo.size, at); break
        case Op.BINPUT: this.put(this.u8(), at); break
        case Op.LONG_BINPUT: this.put(this.u32(), at); break
        case Op.PUT: this.put(this.lineInt(at), at); break
        case Op.BINGET: this.get(this.u8(), at); break
        case Op.LONG_BINGET: this.get(this.u32(), at); break
        case Op.GET: this.get(this.lineInt(at), at); break
        case Op.GLOBAL: {
          const module = this.line(at).toString('latin1')
          const name = this.line(at).toString('latin1')
          this.push(this.global(module, name, at))
          break
        }
        case Op.STACK_GLOBAL: {
          const name = plainText(this.pop(at))
          const module = plainText(this.pop(at))
          if (module === undefined || name === undefined) throw this.fail('STACK_GLOBAL needs two strings', at)
          this.push(this.global(module, name, at))
          break
        }
        case Op.REDUCE: {
          const args = this.pop(at)
          const fn = this.pop(at)
          this.push(this.reduce(fn, args, at))
          break
        }
        case Op.NEWOBJ: {
          const args = this.pop(at)
          const cls = this.pop(at)
          if (!(cls instanceof PyGlobal) || !(args instanceof Tuple)) throw this.fail('NEWOBJ needs a class and an args tuple', at)
          this.push(this.container(new PyObject(cls, args, true), at, args))
          break
        }
        case Op.NEWOBJ_EX: {
          const kwargs = this.pop(at)
          const args = this.pop(at)
          const cls = this.pop(at)
          if (!(cls instanceof PyGlobal) || !(args instanceof Tuple) || !(kwargs instanceof Map)) throw this.fail('NEWOBJ_EX needs a class, an args tuple and a kwargs dict', at)
          this.push(this.container(new PyObject(cls, args, true, kwargs), at, args, kwargs))
          break
        }
        case Op.INST: {
          const module = this.line(at).toString('latin1')
          const name = this.line(at).toString('latin1')
          const cls = this.global(module, name, at)
          const args = tupleFrom(this.popToMark(at))
          this.push(this.container(new PyObject(cls, args), at, args))
          break
        }
        case Op.OBJ: {
          const items = this.popToMark(at)
          const cls = items.shift()
          if (!(cls instanceof PyGlobal)) throw this.fail('OBJ needs a class', at)
          const args = tupleFrom(items)
          this.push(this.container(new PyObject(cls, args), at, args))
          break
        }
        case Op.BUILD: {
          const state = this.pop(at)
          const obj = this.peek(at)
          if (!(obj instanceof PyObject)) throw this.fail('BUILD on something that is not an object', at)
          obj.state = state
          this.grew(obj, state, at)
          break
        }
        case Op.INT: {
          const text = this.line(at).toString('latin1')
          // Protocol 0 spells True/False as I01/I00.
          if (text === '01') this.push(true)
          else if (text === '00') this.push(false)
          else {
            // Python 2 writes ints beyond 32 bits as INT text: past JS's safe range they stay a Python 2 int.
            const v = this.parseInt(text, at)
            this.push(typeof v === 'bigint' && this.py2 ? py2Int(v) : v)
          }
          break
        }
        case Op.LONG: this.push(this.longValue(this.parseInt(this.line(at).toString('latin1').replace(/L$/, ''), at))); break
        case Op.FLOAT: {
          const text = this.line(at).toString('latin1').trim()
          const v = /^[+-]?inf$/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : /^[+-]?nan$/i.test(text) ? NaN : Number(text)
          if (Number.isNaN(v) && !/nan/i.test(text)) throw this.fail(`bad FLOAT ${JSON.stringify(text.slice(0, 40))}`, at)
          this.push(pyFloat(v))
          break
        }
        case Op.STRING: this.push(py2Str(this.reprString(this.line(at), at))); break
        case Op.UNICODE: this.push(this.unicode(rawUnicodeEscape(this.line(at)))); break
        case Op.PERSID: case Op.BINPERSID:
          throw this.fail('persistent ids are not supported', at)
        case Op.EXT1: case Op.EXT2: case Op.EXT4:
          throw this.fail('extension registry codes are not supported', at)
        case Op.NEXT_BUFFER: case Op.READONLY_BUFFER:
          throw this.fail('out-of-band buffers are not supported', at)
        default:
          throw this.fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`, at)
      }
    }
  }

  private fail(message: string, at = this.pos): DecodeError {
    return new DecodeError(`malformed pickle at byte ${at}: ${message}`)
  }

  private push(v: unknown): void {
    this.stack.push(v)
    this.count(1)
  }

  private count(n: number): void {
    this.values += n
    if (this.values > this.maxValues) throw this.fail(`more than ${this.maxValues} values (maxValues)`)
  }

  private pop(at: number): unknown {
    if (this.stack.length <= this.base) throw this.fail('stack underflow', at)
    return this.stack.pop()
  }

  private peek(at: number): unknown {
    if (this.stack.length <= this.base) throw this.fail('stack underflow', at)
    return this.stack[this.stack.length - 1]
  }

  private popMark(at: number): void {
    if (!this.marks.length) throw this.fail('no MARK to pop', at)
    this.stack.length = this.base
    this.base = this.marks.pop()!
  }

  // Take the items before restoring the outer stack: reference §4.4's "implementation trap".
  private popToMark(at: number): unknown[] {
    if (!this.marks.length) throw this.fail('no MARK before this opcode', at)
    const items = this.stack.splice(this.base)
    this.base = this.marks.pop()!
    return items
  }

  private need(n: number, at: number): void {
    if (n > this.buf.length - this.pos) throw this.fail(`needs ${n} bytes, ${this.buf.length - this.pos} left`, at)
  }

  private take(n: number, at: number): Buffer {
    if (n > this.buf.length - this.pos) throw this.fail(`needs ${n} bytes, ${this.buf.length - this.pos} left`, at)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    if (n >= BYTES_PER_VALUE) this.count(Math.floor(n / BYTES_PER_VALUE))
    return out
  }

  private u8(): number {
    if (this.pos >= this.buf.length) throw this.fail('truncated')
    return this.buf[this.pos++]!
  }

  private u32(): number {
    this.need(4, this.pos)
    const v = this.buf.readUInt32LE(this.pos)
    this.pos += 4
    return v
  }

  private u64(): number {
    const big = this.take(8, this.pos).readBigUInt64LE(0)
    // Any length past the bytes left is bogus; checking here keeps a 2^64 claim from allocating.
    return big > BigInt(this.buf.length) ? this.buf.length + 1 : Number(big)
  }

  private line(at: number): Buffer {
    const end = this.buf.indexOf(0x0a, this.pos)
    if (end < 0) throw this.fail('missing newline', at)
    const out = this.buf.subarray(this.pos, end)
    this.pos = end + 1
    if (out.length >= BYTES_PER_VALUE) this.count(Math.floor(out.length / BYTES_PER_VALUE))
    return out
  }

  private lineInt(at: number): number {
    const text = this.line(at).toString('latin1')
    if (!/^\d{1,10}$/.test(text)) throw this.fail(`bad memo index ${JSON.stringify(text.slice(0, 20))}`, at)
    return Number(text)
  }

  private parseInt(text: string, at: number): number | bigint {
    const t = text.trim()
    const digits = t.length - (t[0] === '-' || t[0] === '+' ? 1 : 0)
    // CPython's own message (3.11+, ValueError) for the same text: its unpickler refuses it too.
    if (digits > this.maxIntDigits) throw this.fail(`Exceeds the limit (${this.maxIntDigits} digits) for integer string conversion: value has ${digits} digits (maxIntDigits)`, at)
    if (!/^[+-]?\d+$/.test(t)) throw this.fail(`bad integer ${JSON.stringify(text.slice(0, 40))}`, at)
    const big = BigInt(t)
    return big >= MIN_SAFE && big <= MAX_SAFE ? Number(big) : big
  }

  private long(n: number, at: number): number | bigint {
    if (n > this.maxIntBytes) throw this.fail(`int of ${n} bytes exceeds maxIntBytes (${this.maxIntBytes})`, at)
    const b = this.take(n, at)
    if (n === 0) return 0
    if (n <= 6) return b.readIntLE(0, n)
    // Little-endian two's complement of any width (reference §4.3 LONG1).
    let v = BigInt('0x' + Buffer.from(b).reverse().toString('hex'))
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(n * 8)
    return v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : v
  }

  private text(n: number, at: number): string {
    const b = this.take(n, at)
    return utf8SurrogatePass(b)
  }

  /** A Python 2 `unicode` that is pure ASCII is marked, so it goes back to Python 2 as `unicode`, not `str`. */
  private unicode(s: string): string {
    return this.py2 && isAscii(s) ? py2Unicode(s) : s
  }

  /** A `long`: in Python 2 it is its own type, kept as a bigint whatever its size. */
  private longValue(v: number | bigint): number | bigint {
    return this.py2 && typeof v === 'number' ? BigInt(v) : v
  }

  private put(index: number, at: number): void {
    if (this.stack.length <= this.base) throw this.fail('memo store with an empty stack', at)
    if (!this.memo.has(index) && this.memo.size >= this.maxMemo) throw this.fail(`memo exceeds maxMemo (${this.maxMemo})`, at)
    this.memo.set(index, this.stack[this.stack.length - 1])
  }

  private get(index: number, at: number): void {
    if (!this.memo.has(index)) throw this.fail(`memo index ${index} was never stored`, at)
    const v = this.memo.get(index)
    if (v !== null && typeof v === 'object') this.shared = true
    this.push(v)
  }

  /**
   * A global is only ever a name: nothing is imported or called here or
   * anywhere in troupe. Allow-listed names may become data in `reduce`; others
   * stay opaque references (or are refused, with `foreign: 'refuse'`).
   */
  private global(module: string, name: string, at: number): PyGlobal {
    const [m, n] = canonicalGlobal(module, name)
    if (!this.relay && !isAllowedGlobal(m, n)) {
      throw new ForbiddenGlobalError(`pickle names ${printable(module)}.${printable(name)} (at byte ${at}), which is not on troupe's allow-list; it was not imported or called`)
    }
    return m === module && n === name ? new PyGlobal(m, n) : new PyGlobal(m, n, [module, name])
  }

  /** REDUCE: allow-listed data builtins become plain values; any other call stays an opaque node, never run. */
  private reduce(fn: unknown, args: unknown, at: number): unknown {
    if (!(fn instanceof PyGlobal) || !(args instanceof Tuple)) throw this.fail('REDUCE needs a global and an args tuple', at)
    const what = fn.qualifiedName
    if (!isAllowedGlobal(fn.module, fn.name)) return this.container(new PyObject(fn, args), at, args)
    if (what === 'builtins.slice') {
      if (args.length < 1 || args.length > 3) throw this.fail('slice() takes 1 to 3 arguments', at)
      return args.length === 1 ? new Slice(null, args[0], null) : new Slice(args[0], args[1], args[2] ?? null)
    }
    if (what === 'builtins.set' || what === 'builtins.frozenset') {
      if (args.length > 1) throw this.fail(`${fn.name}() takes at most one argument`, at)
      const items = args.length ? iterableItems(args[0]) : []
      if (!items) throw this.fail(`${fn.name}() of a non-iterable`, at)
      return this.container(fn.name === 'set' ? new Set(items) : new FrozenSet(items), at, items)
    }
    // Python 3 writes b'' for protocol 2 as bytes(), and other bytes as _codecs.encode(latin-1 text).
    if (what === 'builtins.bytes' && args.length === 0) return Buffer.alloc(0)
    if (what === '_codecs.encode') return latin1Encode(args, () => this.fail('_codecs.encode is only accepted as (str, "latin1")', at))
    if (what === 'builtins.bytearray') {
      if (args.length === 0) return new ByteArray(0)
      const first = args[0]
      if (args.length === 1 && first instanceof Uint8Array) return ByteArray.fromBytes(first)
      return ByteArray.fromBytes(latin1Encode(args, () => this.fail('bytearray() is only accepted from bytes or (str, "latin-1")', at)))
    }
    if (what === 'collections.OrderedDict') {
      if (args.length > 1) throw this.fail('OrderedDict() takes at most one argument', at)
      const map = new OrderedDict()
      if (args.length === 1) {
        const pairs = iterableItems(args[0])
        if (!pairs) throw this.fail('OrderedDict() of a non-iterable', at)
        for (const pair of pairs) {
          if (!Array.isArray(pair) || pair.length !== 2) throw this.fail('OrderedDict() items must be pairs', at)
          this.setItems(map, pair, at)
        }
      }
      return map
    }
    return this.container(new PyObject(fn, args), at, args)
  }

  private appendTo(target: unknown, items: unknown[], at: number): void {
    if (Array.isArray(target) && !(target instanceof Tuple)) {
      for (const item of items) { target.push(item); this.grew(target, item, at) }
    } else if (target instanceof PyObject) {
      const list = (target.listItems ??= [])
      for (const item of items) { list.push(item); this.grew(target, item, at) }
    } else throw this.fail('APPEND on something that is not a list', at)
  }

  private setItems(target: unknown, items: unknown[], at: number): void {
    if (items.length % 2) throw this.fail('odd number of items for a dict', at)
    if (target instanceof Map) {
      for (let i = 0; i < items.length; i += 2) {
        target.set(items[i], items[i + 1])
        this.grew(target, items[i], at)
        this.grew(target, items[i + 1], at)
      }
    } else if (target instanceof PyObject) {
      const pairs = (target.dictItems ??= [])
      for (let i = 0; i < items.length; i += 2) {
        pairs.push([items[i], items[i + 1]])
        this.grew(target, items[i], at)
        this.grew(target, items[i + 1], at)
      }
    } else throw this.fail('SETITEM on something that is not a dict', at)
  }

  /** Record a new container's depth from its children (all of `parts` are iterated). */
  private container<T extends object>(obj: T, at: number, ...parts: Iterable<unknown>[]): T {
    let d = 1
    const sources = parts.length ? parts : [obj as unknown as Iterable<unknown>]
    for (const part of sources) {
      if (part instanceof Map) {
        for (const [k, v] of part) d = Math.max(d, this.depthOf(k) + 1, this.depthOf(v) + 1)
      } else {
        for (const item of part) d = Math.max(d, this.depthOf(item) + 1)
      }
    }
    if (d > this.maxDepth) throw this.fail(`nesting deeper than maxDepth (${this.maxDepth})`, at)
    if (d > 1) this.depths.set(obj, d)
    return obj
  }

  private grew(parent: object, child: unknown, at: number): void {
    const d = this.depthOf(child) + 1
    if (d > (this.depths.get(parent) ?? 1)) {
      if (d > this.maxDepth) throw this.fail(`nesting deeper than maxDepth (${this.maxDepth})`, at)
      this.depths.set(parent, d)
    }
  }

  private depthOf(v: unknown): number {
    if (v === null || typeof v !== 'object') return 0
    return this.depths.get(v) ?? 1
  }

  /**
   * With memo sharing, a container can grow after it was placed in a parent,
   * so the running depths may undercount, and a container referred to many
   * times makes a tree far larger than the pickle: measure the result once,
   * iteratively, for depth and for its size as a tree (what a walk of it
   * costs). Cycles (a list containing itself) are legal Python and add nothing.
   */
  private checkSharedDepth(root: unknown): void {
    const done = new Map<object, { depth: number; size: number }>()
    const onPath = new Set<object>()
    type Frame = { obj: object; children: unknown[]; i: number; best: number; size: number }
    const frames: Frame[] = []
    const enter = (obj: object): void => {
      onPath.add(obj)
      frames.push({ obj, children: childrenOf(obj), i: 0, best: 1, size: 1 })
      if (frames.length > this.maxDepth) throw this.fail(`nesting deeper than maxDepth (${this.maxDepth})`, this.buf.length)
    }
    if (root === null || typeof root !== 'object') return
    enter(root)
    while (frames.length) {
      const f = frames[frames.length - 1]!
      if (f.i < f.children.length) {
        const c = f.children[f.i++]
        if (c === null || typeof c !== 'object' || onPath.has(c)) { f.size++; continue }
        const known = done.get(c)
        if (known !== undefined) {
          f.best = Math.max(f.best, known.depth + 1)
          f.size += known.size
          if (f.size > this.maxValues) throw this.fail(`shared references make a tree of more than ${this.maxValues} values (maxValues)`, this.buf.length)
          continue
        }
        enter(c)
      } else {
        frames.pop()
        onPath.delete(f.obj)
        done.set(f.obj, { depth: f.best, size: f.size })
        const parent = frames[frames.length - 1]
        if (parent) {
          parent.best = Math.max(parent.best, f.best + 1)
          parent.size += f.size
          if (parent.size > this.maxValues) throw this.fail(`shared references make a tree of more than ${this.maxValues} values (maxValues)`, this.buf.length)
        }
      }
    }
  }

  /** Protocol 0 `S`: a Python 2 string literal, quotes included. */
  private reprString(raw: Buffer, at: number): Buffer {
    const text = raw.toString('latin1')
    const q = text[0]
    if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) throw this.fail('STRING argument is not quoted', at)
    const body = text.slice(1, -1)
    const out: number[] = []
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i)
      if (c !== 0x5c) { out.push(c & 0xff); continue }
      const e = body[++i]
      if (e === undefined) throw this.fail('STRING ends in a backslash', at)
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11, '\n': -1 }
      if (e in simple) { if (simple[e]! >= 0) out.push(simple[e]!); continue }
      if (e === 'x') {
        const hex = body.slice(i + 1, i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw this.fail('bad \\x escape in STRING', at)
        out.push(parseInt(hex, 16)); i += 2; continue
      }
      if (/[0-7]/.test(e)) {
        let oct = e
        while (oct.length < 3 && /[0-7]/.test(body[i + 1] ?? '')) oct += body[++i]
        out.push(parseInt(oct, 8) & 0xff); continue
      }
      out.push(0x5c, e.charCodeAt(0) & 0xff)
    }
    return Buffer.from(out)
  }
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** A Python 2 `str` as CPython 3 reads it (`encoding='ASCII'`): ASCII is text; other bytes stay bytes. */
function py2Str(b: Buffer): string | Buffer {
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return Buffer.from(b)
  return b.toString('latin1')
}

/** Text however a pickle carried it: str, a Python 2 `unicode` marker, or an ASCII Python 2 `str`. */
function plainText(v: unknown): string | undefined {
  return typeof v === 'string' ? v : v instanceof String ? v.valueOf() : undefined
}

function isAscii(s: string): boolean {
  return !/[^\x00-\x7f]/.test(s)
}

/** Integral floats keep their float-ness in a PyFloat; others are plain numbers. */
function pyFloat(v: number): number | PyFloat {
  return Number.isInteger(v) ? new PyFloat(v) : v
}

function childrenOf(obj: object): unknown[] {
  if (obj instanceof Map) { const out: unknown[] = []; for (const [k, v] of obj) out.push(k, v); return out }
  if (obj instanceof Set || Array.isArray(obj)) return [...(obj as Iterable<unknown>)]
  if (obj instanceof PyObject) {
    const out: unknown[] = [...obj.args, obj.state]
    if (obj.kwargs) out.push(obj.kwargs)
    if (obj.listItems) out.push(...obj.listItems)
    if (obj.dictItems) for (const [k, v] of obj.dictItems) out.push(k, v)
    return out
  }
  return []
}

function iterableItems(v: unknown): unknown[] | undefined {
  if (Array.isArray(v) || v instanceof Set) return [...v]
  return undefined
}

function latin1Encode(args: Tuple, fail: () => DecodeError): Buffer {
  const text = plainText(args[0])
  const encoding = plainText(args[1])
  if (args.length !== 2 || text === undefined || (encoding !== 'latin1' && encoding !== 'latin-1')) throw fail()
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) throw fail()
  return Buffer.from(text, 'latin1')
}

function printable(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s).slice(1, -1)
}

/**
 * UTF-8 with lone surrogates allowed, as CPython's `surrogatepass` writes
 * them (reference §4.4): the fast path is Buffer's decoder; only bytes that
 * encode a surrogate (ED A0..BF) take the slow path, keeping the code unit.
 */
export function utf8SurrogatePass(b: Buffer): string {
  const i = b.indexOf(0xed)
  if (i < 0 || !hasSurrogate(b, i)) return b.toString('utf8')
  let out = ''
  let pos = 0
  while (pos < b.length) {
    const c = b[pos]!
    if (c === 0xed && pos + 2 < b.length && (b[pos + 1]! & 0xe0) === 0xa0 && (b[pos + 2]! & 0xc0) === 0x80) {
      out += String.fromCharCode(0xd000 | ((b[pos + 1]! & 0x3f) << 6) | (b[pos + 2]! & 0x3f))
      pos += 3
      continue
    }
    let next = b.indexOf(0xed, pos + 1)
    if (next < 0) next = b.length
    out += b.toString('utf8', pos, next)
    pos = next
  }
  return out
}

function hasSurrogate(b: Buffer, from: number): boolean {
  for (let i = from; i >= 0 && i + 1 < b.length; i = b.indexOf(0xed, i + 1)) {
    if ((b[i + 1]! & 0xe0) === 0xa0) return true
  }
  return false
}

/** Protocol 0 `V`: raw-unicode-escape (latin-1 bytes plus \uXXXX and \UXXXXXXXX). */
function rawUnicodeEscape(b: Buffer): string {
  const text = b.toString('latin1')
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (m, u4: string | undefined, u8: string | undefined) => {
    const cp = parseInt((u4 ?? u8)!, 16)
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : m
  })
}
