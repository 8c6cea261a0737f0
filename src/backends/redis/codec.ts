import { encodeV8, decodeV8, marshal, unmarshal } from '../../codec/index.js'
import { DecodeError } from '../../errors.js'

/** How values are turned into bytes for Redis. */
export interface ValueCodec {
  encode(value: unknown, path?: string): Buffer
  decode(bytes: Buffer): unknown
}

/** `v8` (default: Maps, Sets, Dates, BigInts, typed arrays, troupe references) or `json` (readable by other languages). */
export type CodecName = 'v8' | 'json'

// v8 payloads always start with 0xFF; a leading 0x01 marks one that holds troupe
// references, so decoding walks the value to revive them only when it must.
const WITH_PORTABLES = 0x01

// Small primitives (ids, counts, short strings) are most task payloads, and a
// v8 Serializer/Deserializer pair costs more than the value itself. These are
// written and read here in V8's own wire format (tags `I` zigzag int32, `N`
// double, `"` latin-1 string, `T` `F` `0` `_`), so v8.deserialize reads them
// too and anything else goes through V8.
const HEADER = encodeV8(true).subarray(0, -1)
const TAG_INT = 0x49, TAG_DOUBLE = 0x4e, TAG_LATIN1 = 0x22, TAG_TRUE = 0x54, TAG_FALSE = 0x46, TAG_NULL = 0x30, TAG_UNDEFINED = 0x5f
const LATIN1 = /^[\x00-\xff]*$/
const H = HEADER.length

function fastEncode(v: unknown): Buffer | undefined {
  switch (typeof v) {
    case 'number': {
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff && !Object.is(v, -0)) {
        let u = v >= 0 ? v * 2 : -v * 2 - 1
        const b = Buffer.allocUnsafe(H + 6)
        HEADER.copy(b, 0)
        b[H] = TAG_INT
        let i = H + 1
        while (u >= 0x80) { b[i++] = (u % 0x80) | 0x80; u = Math.floor(u / 0x80) }
        b[i++] = u
        return b.subarray(0, i)
      }
      const b = Buffer.allocUnsafe(H + 9)
      HEADER.copy(b, 0)
      b[H] = TAG_DOUBLE
      b.writeDoubleLE(v, H + 1)
      return b
    }
    case 'string': {
      if (v.length > 1024 || !LATIN1.test(v)) return undefined
      const b = Buffer.allocUnsafe(H + 3 + v.length)
      HEADER.copy(b, 0)
      b[H] = TAG_LATIN1
      let i = H + 1
      let n = v.length
      while (n >= 0x80) { b[i++] = (n & 0x7f) | 0x80; n >>>= 7 }
      b[i++] = n
      b.write(v, i, 'latin1')
      return b.subarray(0, i + v.length)
    }
    case 'boolean': return tagged(v ? TAG_TRUE : TAG_FALSE)
    case 'undefined': return tagged(TAG_UNDEFINED)
    case 'object': return v === null ? tagged(TAG_NULL) : undefined
    default: return undefined
  }
}

function tagged(tag: number): Buffer {
  const b = Buffer.allocUnsafe(H + 1)
  HEADER.copy(b, 0)
  b[H] = tag
  return b
}

const NO = Symbol('not a fast value')

function fastDecode(b: Buffer): unknown {
  if (b.length <= H || b[0] !== HEADER[0] || b[1] !== HEADER[1]) return NO
  const tag = b[H]
  if (b.length === H + 1) {
    if (tag === TAG_TRUE) return true
    if (tag === TAG_FALSE) return false
    if (tag === TAG_NULL) return null
    if (tag === TAG_UNDEFINED) return undefined
    return NO
  }
  if (tag === TAG_INT) {
    let u = 0, mul = 1, i = H + 1
    for (; i < b.length; i++) { u += (b[i]! & 0x7f) * mul; mul *= 0x80; if (b[i]! < 0x80) break }
    if (i !== b.length - 1) return NO
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2
  }
  if (tag === TAG_DOUBLE && b.length === H + 9) return b.readDoubleLE(H + 1)
  if (tag === TAG_LATIN1) {
    let n = 0, shift = 0, i = H + 1
    for (; i < b.length; i++) { n |= (b[i]! & 0x7f) << shift; shift += 7; if (b[i]! < 0x80) break }
    i++
    if (i + n !== b.length) return NO
    return b.toString('latin1', i, i + n)
  }
  return NO
}

const v8Codec: ValueCodec = {
  encode(value, path = 'value') {
    const fast = fastEncode(value)
    if (fast) return fast
    const m = marshal(value, path)
    const bytes = encodeV8(m.value)
    return m.portables ? Buffer.concat([Buffer.of(WITH_PORTABLES), bytes]) : bytes
  },
  decode(bytes) {
    const fast = fastDecode(bytes)
    if (fast !== NO) return fast
    if (bytes[0] === WITH_PORTABLES) return unmarshal(decodeV8(bytes.subarray(1)), true)
    return decodeV8(bytes)
  },
}

const jsonCodec: ValueCodec = {
  encode(value, path = 'value') {
    // marshal refuses functions and symbols by path, where JSON.stringify would drop them silently.
    marshal(value, path)
    const text = JSON.stringify(value)
    return Buffer.from(text === undefined ? 'null' : text)
  },
  decode(bytes) {
    try {
      return JSON.parse(bytes.toString('utf8'))
    } catch (err) {
      throw new DecodeError(`malformed JSON payload (${bytes.length} bytes): ${(err as Error).message}`, { cause: err })
    }
  },
}

/** The codec for a name, or a user's own codec object. */
export function codecFor(c: CodecName | ValueCodec | undefined): ValueCodec {
  if (c === undefined || c === 'v8') return v8Codec
  if (c === 'json') return jsonCodec
  if (typeof c === 'object' && typeof c.encode === 'function' && typeof c.decode === 'function') return c
  throw new TypeError(`unknown codec ${String(c)}: use 'v8', 'json' or an object with encode/decode`)
}
