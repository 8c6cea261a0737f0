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

const v8Codec: ValueCodec = {
  encode(value, path = 'value') {
    const m = marshal(value, path)
    const bytes = encodeV8(m.value)
    return m.portables ? Buffer.concat([Buffer.of(WITH_PORTABLES), bytes]) : bytes
  },
  decode(bytes) {
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
