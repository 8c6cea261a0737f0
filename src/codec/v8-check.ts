/**
 * A check of V8-serialized bytes from an untrusted peer, run before
 * `v8.deserialize` sees them. The native deserializer is fast but trusting: a
 * 44-byte payload can declare a sparse array of length 2^32-1 (cheap to
 * decode, fatal to the first loop over it), and a few MiB of Maps, Dates or
 * Buffers hold the event loop for seconds. This walks the tags once, without
 * building anything, and refuses what no troupe peer sends:
 *
 * - arrays with holes: items missing from V8's sparse form (which it also uses
 *   for whole arrays whose elements kind is merely holey), hole tags, a length
 *   the bytes cannot hold, index-like extra properties, or a reference to any
 *   of these from elsewhere in the payload,
 * - nesting deeper than `maxDepth`,
 * - more weighted values than `maxValues` (the bound on decode work; a
 *   back-reference weighs what it points to, so sharing cannot amplify),
 * - lengths past the bytes left, unknown or transfer-only tags, trailing bytes.
 *
 * The walk follows V8's reader (deps/v8/src/objects/value-serializer.cc,
 * format versions 13-15) and is stricter wherever the two could read the same
 * bytes differently (varints longer than their type, for one): whatever passes
 * here decodes natively to the structure that was checked.
 */
import { DecodeError } from '../errors.js'

/** Bounds on what one V8 payload may decode to. */
export interface V8Limits {
  /** Most values one payload may hold, weighted by decode cost (default 1,000,000; see docs/manager.md "Limits"). */
  maxValues?: number
  /** Deepest nesting of arrays, objects, Maps and Sets (default 1000). */
  maxDepth?: number
}

/** A value of the top-level array that must not be used, and why (the rest of the payload is fine). */
export interface V8Refusal { index: number; reason: string }

/** What a check found: the weighted value count, and the top-level items refused (holes). */
export interface V8Check { values: number; refused: V8Refusal[] }

/** Defaults of V8Limits. */
export const V8_DEFAULT_LIMITS: Required<V8Limits> = { maxValues: 1_000_000, maxDepth: 1000 }

// Weights: the CPU time V8's reader (and Node's, for Buffers) spends on each kind, in units of a
// small int (~5-20 ns), measured by bench/decode-stall.ts: heap objects cost far more than numbers,
// an object's properties after the first few (dictionary mode) and Map entries most of all.
const W = {
  value: 1, double: 2, string: 3, bigint: 4, array: 5, object: 13, property: 4, slowProperty: 36, mapEntry: 14, setEntry: 6,
  date: 30, host: 32, buffer: 32, regexp: 10, error: 25,
}
// Properties an object takes on V8's fast path (map transitions) before each costs like a dictionary insert.
const FAST_PROPERTIES = 16
// Strings and BigInt digits cost per byte (16 bytes count as one value); a Buffer's bytes are copied, or
// not at all (a view onto the frame), so 256 count as one.
const STRING_BYTES_PER_VALUE = 16
const RAW_BYTES_PER_VALUE = 256

const enum Tag {
  Padding = 0x00, VerifyObjectCount = 0x3f, TheHole = 0x2d, Undefined = 0x5f, Null = 0x30, True = 0x54, False = 0x46,
  Int32 = 0x49, Uint32 = 0x55, Double = 0x4e, BigInt = 0x5a, Utf8String = 0x53, OneByteString = 0x22, TwoByteString = 0x63,
  ObjectReference = 0x5e, BeginJSObject = 0x6f, EndJSObject = 0x7b, BeginSparseJSArray = 0x61, EndSparseJSArray = 0x40,
  BeginDenseJSArray = 0x41, EndDenseJSArray = 0x24, Date = 0x44, TrueObject = 0x79, FalseObject = 0x78, NumberObject = 0x6e,
  BigIntObject = 0x7a, StringObject = 0x73, RegExp = 0x52, BeginJSMap = 0x3b, EndJSMap = 0x3a, BeginJSSet = 0x27,
  EndJSSet = 0x2c, ArrayBuffer = 0x42, ArrayBufferView = 0x56, HostObject = 0x5c, Error = 0x72,
}

// Node's DefaultDeserializer host objects: index into its list of view types (lib/v8.js), and element size.
const HOST_VIEW_SIZES = [1, 1, 1, 2, 2, 4, 4, 4, 8, 1, 1, 8, 8, 2]
// V8's ArrayBufferViewTag sub-tags and their element sizes.
const VIEW_SIZES: Record<number, number> = { 0x62: 1, 0x42: 1, 0x43: 1, 0x77: 2, 0x57: 2, 0x64: 4, 0x44: 4, 0x68: 2, 0x66: 4, 0x46: 8, 0x71: 8, 0x51: 8, 0x3f: 1 }
const REFUSED_TAGS: Record<number, string> = {
  0x7e: 'resizable ArrayBuffers', 0x74: 'transferred ArrayBuffers', 0x75: 'SharedArrayBuffers', 0x70: 'shared objects',
  0x77: 'WebAssembly modules', 0x6d: 'WebAssembly memories',
}
const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/

/**
 * Check a V8 payload against `limits` without decoding it. Throws DecodeError
 * when the payload as a whole must not be decoded (malformed, too deep, too
 * many values); returns the top-level array items that hold holes, which
 * decode harmlessly but must not be used.
 */
export function checkV8(bytes: Uint8Array, limits: V8Limits = {}): V8Check {
  return new Checker(bytes, limits).run()
}

class Checker {
  private readonly b: Uint8Array
  private pos = 0
  private version = 0
  private values = 0
  private readonly maxValues: number
  private readonly maxDepth: number
  // Weight of each object id once closed; -1 while it is still open (a reference to it is a cycle).
  private readonly weights: number[] = []
  // Why the top-level item being walked must be refused (a hole), if it must.
  private problem: string | undefined
  // Ids of the objects being walked (innermost last), and of those holding a hole somewhere inside.
  private readonly open: number[] = []
  private readonly tainted = new Set<number>()
  // Whether the top level is an array of items (object 0), checked item by item.
  private batch = false

  constructor(bytes: Uint8Array, limits: V8Limits) {
    this.b = bytes
    this.maxValues = limits.maxValues ?? V8_DEFAULT_LIMITS.maxValues
    this.maxDepth = limits.maxDepth ?? V8_DEFAULT_LIMITS.maxDepth
  }

  run(): V8Check {
    const b = this.b
    if (b[0] !== 0xff) throw this.fail('no v8 version header', 0)
    this.pos = 1
    const v = b[this.pos++]
    if (v === undefined || v < 13 || v > 15) throw this.fail(`v8 format version ${v ?? 'missing'} is not supported (13-15 are)`, 1)
    this.version = v
    const refused: V8Refusal[] = []
    // The top level is usually an array (a batch), in V8's dense or sparse form: a hole inside one item refuses that item only.
    const top = this.peekTag()
    if (top === Tag.BeginDenseJSArray || top === Tag.BeginSparseJSArray) {
      const dense = this.tag() === Tag.BeginDenseJSArray
      this.batch = true
      const at = this.pos
      const length = this.varint()
      const id = this.newId()
      if (length > b.length - this.pos) throw this.fail(`array of ${length} items in ${b.length - this.pos} bytes`, at)
      this.count(W.object)
      for (let i = 0; i < length; i++) {
        if (!dense) {
          // The sparse form: each item behind its index, 0, 1, 2... in order.
          const kt = this.tag()
          const key = kt === Tag.Int32 ? this.varint() / 2 : kt === Tag.Uint32 ? this.varint() : -1
          if (key !== i) throw this.fail('top-level array with holes', this.pos)
        } else if (this.peekTag() === Tag.TheHole) throw this.fail('top-level array with holes', this.pos)
        this.problem = undefined
        this.value(1)
        if (this.problem) refused.push({ index: i, reason: this.problem })
      }
      this.problem = undefined
      if (this.tag() !== (dense ? Tag.EndDenseJSArray : Tag.EndSparseJSArray)) throw this.fail('top-level array with extra properties', this.pos)
      const props = this.varint()
      const expect = this.varint()
      if (props !== (dense ? 0 : length) || expect !== length) throw this.fail('top-level array length mismatch', this.pos)
      this.weights[id] = this.values
    } else {
      this.value(0)
      if (this.problem) throw this.fail(this.problem, this.pos)
    }
    if (this.pos !== b.length) throw this.fail(`${b.length - this.pos} bytes after the value`, this.pos)
    return { values: this.values, refused }
  }

  private fail(message: string, at: number): DecodeError {
    return new DecodeError(`refused v8 payload at byte ${at} of ${this.b.length}: ${message}`)
  }

  private count(n: number): void {
    this.values += n
    if (this.values > this.maxValues) throw this.fail(`more than ${this.maxValues} values (the per-frame limit, maxFrameValues)`, this.pos)
  }

  private hole(reason: string): void {
    // Keep walking (the bytes must still be well-formed); only the enclosing top-level item is refused.
    this.problem ??= reason
    // Everything that holds the hole is spoiled too: a later reference to any of them (from another item) is refused.
    for (let i = this.open.length - 1; i >= 0 && !this.tainted.has(this.open[i]!); i--) this.tainted.add(this.open[i]!)
  }

  private newId(): number {
    this.weights.push(-1)
    const id = this.weights.length - 1
    this.open.push(id)
    return id
  }

  private peekTag(): number | undefined {
    let p = this.pos
    while (p < this.b.length && this.b[p] === Tag.Padding) p++
    return this.b[p]
  }

  private tag(): number {
    const b = this.b
    while (this.pos < b.length && b[this.pos] === Tag.Padding) this.pos++
    if (this.pos >= b.length) throw this.fail('ends in the middle of a value', this.pos)
    return b[this.pos++]!
  }

  // A uint32 varint, at most 5 bytes, refused when V8 would truncate it (so both read the same bytes).
  private varint(): number {
    const b = this.b
    let value = 0
    for (let i = 0; i < 5; i++) {
      const byte = b[this.pos++]
      if (byte === undefined) throw this.fail('truncated varint', this.pos - 1)
      if (i === 4 && byte > 0x0f) throw this.fail('varint longer than 32 bits', this.pos - 1)
      value += (byte & 0x7f) * 2 ** (7 * i)
      if (byte < 0x80) return value
    }
    throw this.fail('varint longer than 32 bits', this.pos)
  }

  private need(n: number): void {
    if (n > this.b.length - this.pos) throw this.fail(`needs ${n} bytes, ${this.b.length - this.pos} left`, this.pos)
  }

  private skip(n: number, what: string): void {
    if (n > this.b.length - this.pos) throw this.fail(`${what} of ${n} bytes with ${this.b.length - this.pos} left`, this.pos)
    this.pos += n
  }

  private string(tag: number): number {
    const n = this.varint()
    if (tag === Tag.TwoByteString && n % 2) throw this.fail('two-byte string of an odd byte length', this.pos)
    this.skip(n, 'string')
    const w = W.string + Math.floor(n / STRING_BYTES_PER_VALUE)
    this.count(w)
    return w
  }

  private bigint(): void {
    const bitfield = this.varint()
    // V8's BigInt bitfield: bit 0 is the sign, bits 1-30 the length in bytes.
    if (bitfield >= 2 ** 31) throw this.fail('malformed BigInt', this.pos)
    const n = Math.floor(bitfield / 2)
    this.skip(n, 'BigInt')
    this.count(W.bigint + Math.floor(n / STRING_BYTES_PER_VALUE))
  }

  private taggedString(): number {
    const t = this.tag()
    if (t !== Tag.OneByteString && t !== Tag.TwoByteString && t !== Tag.Utf8String) throw this.fail('expected a string', this.pos - 1)
    return this.string(t)
  }

  // The common items of big arrays (small ints, doubles, oddballs, short one-byte strings) without a call per item.
  private primitive(): boolean {
    const b = this.b
    let p = this.pos
    const t = b[p++]
    let w = W.value
    if (t === Tag.Int32 || t === Tag.Uint32) {
      const end = p + 4
      while (p < end && p < b.length && b[p]! >= 0x80) p++
      if (p >= b.length || p === end) return false
      p++
    } else if (t === Tag.Double) {
      p += 8
      if (p > b.length) return false
      w = W.double
    } else if (t === Tag.Undefined || t === Tag.Null || t === Tag.True || t === Tag.False) {
      // no payload
    } else if (t === Tag.OneByteString) {
      const n = b[p++]
      if (n === undefined || n >= 0x80) return false
      p += n
      if (p > b.length) return false
      w = W.string + (n >> 4)
    } else return false
    this.pos = p
    this.values += w
    if (this.values > this.maxValues) throw this.fail(`more than ${this.maxValues} values (the per-frame limit, maxFrameValues)`, p)
    return true
  }

  /** Walk one value; returns its weight: what it added to the count, which is what a reference to it adds again. */
  private value(depth: number): number {
    if (depth > this.maxDepth) throw this.fail(`nesting deeper than ${this.maxDepth} (maxDepth)`, this.pos)
    const start = this.values
    const at = this.pos
    let t = this.tag()
    while (t === Tag.VerifyObjectCount) { this.varint(); t = this.tag() }
    switch (t) {
      case Tag.Undefined: case Tag.Null: case Tag.True: case Tag.False:
        this.count(W.value); break
      case Tag.Int32: case Tag.Uint32: this.varint(); this.count(W.value); break
      case Tag.Double: this.skip(8, 'double'); this.count(W.double); break
      case Tag.BigInt: this.bigint(); break
      case Tag.OneByteString: case Tag.TwoByteString: case Tag.Utf8String: this.string(t); break
      case Tag.ObjectReference: {
        const id = this.varint()
        const weight = this.weights[id]
        if (weight === undefined) throw this.fail(`reference to object ${id}, which does not exist yet`, at)
        // A reference weighs what it points to, so sharing cannot amplify a later walk; one to an open object is a cycle.
        this.count(weight < 0 ? W.value : weight)
        if (this.tainted.has(id)) this.hole('a reference to an array with holes')
        // The batch itself, seen from inside one of its items, would carry every other item (refused ones too) along.
        if (id === 0 && this.batch) this.hole('a reference to the whole frame')
        break
      }
      case Tag.BeginJSObject: {
        const id = this.newId()
        this.count(W.object)
        const n = this.properties(Tag.EndJSObject, depth + 1, -1)
        if (this.varint() !== n) throw this.fail('object property count mismatch', this.pos)
        this.close(id, start)
        break
      }
      case Tag.BeginDenseJSArray: {
        const length = this.varint()
        const id = this.newId()
        if (length > this.b.length - this.pos) throw this.fail(`array of ${length} items in ${this.b.length - this.pos} bytes`, at)
        this.count(W.array)
        for (let i = 0; i < length; i++) {
          if (this.primitive()) continue
          if (this.peekTag() === Tag.TheHole) { this.tag(); this.hole('an array with holes'); this.count(W.value); continue }
          this.value(depth + 1)
        }
        const n = this.properties(Tag.EndDenseJSArray, depth + 1, 0)
        if (this.varint() !== n || this.varint() !== length) throw this.fail('array length mismatch', this.pos)
        this.close(id, start)
        break
      }
      case Tag.BeginSparseJSArray: {
        const length = this.varint()
        const id = this.newId()
        // V8 sets the length before reading any item: cheap, but the array then claims what the bytes do not hold.
        if (length > this.b.length - this.pos) this.hole(`a sparse array claiming ${length} items in ${this.b.length - this.pos} bytes`)
        this.count(W.array)
        const n = this.properties(Tag.EndSparseJSArray, depth + 1, length)
        if (this.varint() !== n || this.varint() !== length) throw this.fail('array length mismatch', this.pos)
        this.close(id, start)
        break
      }
      case Tag.Date: this.skip(8, 'Date'); this.count(W.date); this.close(this.newId(), start); break
      case Tag.TrueObject: case Tag.FalseObject: this.count(W.object); this.close(this.newId(), start); break
      case Tag.NumberObject: { const id = this.newId(); this.skip(8, 'Number'); this.count(W.object); this.close(id, start); break }
      case Tag.BigIntObject: { const id = this.newId(); this.count(W.object); this.bigint(); this.close(id, start); break }
      case Tag.StringObject: { const id = this.newId(); this.count(W.object); this.taggedString(); this.close(id, start); break }
      case Tag.RegExp: {
        const id = this.newId()
        this.count(W.regexp)
        // V8 parses the pattern when it builds the RegExp: count its bytes again.
        this.count(this.taggedString())
        this.varint()
        this.close(id, start)
        break
      }
      case Tag.BeginJSMap: case Tag.BeginJSSet: {
        const id = this.newId()
        const end = t === Tag.BeginJSMap ? Tag.EndJSMap : Tag.EndJSSet
        const per = t === Tag.BeginJSMap ? 2 : 1
        let n = 0
        this.count(W.object)
        for (;;) {
          const next = this.peekTag()
          if (next === end) break
          if (next === undefined) throw this.fail('Map or Set without its end', this.pos)
          for (let k = 0; k < per; k++) if (!this.primitive()) this.value(depth + 1)
          this.count(per === 2 ? W.mapEntry : W.setEntry)
          n += per
        }
        this.tag()
        if (this.varint() !== n) throw this.fail('Map or Set length mismatch', this.pos)
        this.close(id, start)
        break
      }
      case Tag.ArrayBuffer: {
        const id = this.newId()
        const n = this.varint()
        this.skip(n, 'ArrayBuffer')
        this.count(W.buffer + Math.floor(n / RAW_BYTES_PER_VALUE))
        this.close(id, start)
        if (this.peekTag() === Tag.ArrayBufferView) this.view(n)
        break
      }
      case Tag.HostObject: {
        const id = this.newId()
        const type = this.varint()
        const size = HOST_VIEW_SIZES[type]
        if (size === undefined) throw this.fail(`host object of unknown view type ${type}`, at)
        const n = this.varint()
        if (n % size) throw this.fail('typed array of a partial element', at)
        this.skip(n, 'typed array')
        this.count(W.host + Math.floor(n / RAW_BYTES_PER_VALUE))
        this.close(id, start)
        break
      }
      case Tag.Error: this.error(depth, start); break
      case Tag.ArrayBufferView: throw this.fail('ArrayBuffer view without its buffer', at)
      case Tag.TheHole: throw this.fail('hole outside an array', at)
      default: {
        const what = REFUSED_TAGS[t]
        throw this.fail(what ? `${what} are not accepted` : `unknown tag 0x${t.toString(16).padStart(2, '0')}`, at)
      }
    }
    return this.values - start
  }

  private close(id: number, start: number): void {
    this.weights[id] = this.values - start
    this.open.pop()
  }

  // A view right after its ArrayBuffer (V8 reads it as part of the buffer's value).
  private view(bufferLength: number): void {
    const start = this.values
    this.tag()
    const at = this.pos
    const sub = this.b[this.pos]
    const size = sub === undefined ? undefined : VIEW_SIZES[sub]
    if (size === undefined) throw this.fail('unknown ArrayBuffer view type', at)
    this.pos++
    const offset = this.varint()
    const length = this.varint()
    const flags = this.version >= 14 ? this.varint() : 0
    if (offset > bufferLength || length > bufferLength - offset) throw this.fail('view past the end of its buffer', at)
    if (offset % size || length % size) throw this.fail('misaligned typed array view', at)
    if (flags !== 0) throw this.fail('views of resizable buffers are not accepted', at)
    const id = this.newId()
    this.count(W.host)
    this.close(id, start)
  }

  // Error: [prototype] then message 'm', stack 's', cause 'c' (each at most once; V8 versions order them
  // differently), then '.'. Sub-tags are single bytes.
  private error(depth: number, start: number): void {
    const id = this.newId()
    this.count(W.error)
    let sub = this.sub()
    if (sub === 0x45 || sub === 0x52 || sub === 0x46 || sub === 0x53 || sub === 0x54 || sub === 0x55) sub = this.sub()
    const seen = new Set<number>()
    while (sub !== 0x2e) {
      if (seen.has(sub)) throw this.fail('malformed Error', this.pos - 1)
      seen.add(sub)
      if (sub === 0x6d || sub === 0x73) this.taggedString()
      else if (sub === 0x63) this.value(depth + 1)
      else throw this.fail('malformed Error', this.pos - 1)
      sub = this.sub()
    }
    this.close(id, start)
  }

  private sub(): number {
    const s = this.b[this.pos++]
    if (s === undefined || s >= 0x80) throw this.fail('malformed Error', this.pos - 1)
    return s
  }

  /**
   * Key/value pairs up to `end`; keys are strings or numbers. On an array
   * (`elements` >= 0) the first `elements` keys must be the indices 0, 1, 2...
   * in order (how V8 writes the sparse form of an array that merely had a
   * holey elements kind) and no later key may be an index: anything else is a hole.
   */
  private properties(end: number, depth: number, elements: number): number {
    const onArray = elements >= 0
    let next = 0
    for (let n = 0; ; n++) {
      const t = this.peekTag()
      if (t === undefined) throw this.fail('object without its end', this.pos)
      if (t === end) {
        this.tag()
        if (onArray && next < elements) this.hole(`an array with holes (${elements - next} of its ${elements} items missing)`)
        return n
      }
      const kt = this.tag()
      this.count(n < FAST_PROPERTIES ? W.property : W.slowProperty)
      if (kt === Tag.Int32 || kt === Tag.Uint32 || kt === Tag.Double) {
        let key: number
        if (kt === Tag.Double) {
          this.need(8)
          key = Buffer.from(this.b.buffer, this.b.byteOffset + this.pos, 8).readDoubleLE(0)
          this.pos += 8
        } else {
          const u = this.varint()
          key = kt === Tag.Uint32 ? u : (u % 2 ? -(u + 1) / 2 : u / 2)
        }
        this.count(W.value)
        if (onArray) {
          if (key === next && next < elements) next++
          else this.hole('an array with holes (items out of order or past its length)')
        }
      } else if (kt === Tag.OneByteString || kt === Tag.TwoByteString || kt === Tag.Utf8String) {
        const before = this.pos
        this.string(kt)
        if (onArray && kt !== Tag.TwoByteString && this.pos - before <= 12) {
          const text = Buffer.from(this.b.buffer, this.b.byteOffset + before + 1, this.pos - before - 1).toString('latin1')
          if (ARRAY_INDEX.test(text)) this.hole('an array with holes (an index given as a string)')
        }
      } else throw this.fail('object key that is not a string or number', this.pos - 1)
      if (!this.primitive()) this.value(depth)
    }
  }
}
