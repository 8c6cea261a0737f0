import { serialize, deserialize } from 'node:v8'
import { DecodeError } from '../errors.js'

/** Encode a value with V8's serializer (what crosses to child processes and troupe peers). */
export function encodeV8(value: unknown): Buffer {
  return serialize(value)
}

/** Decode V8-serialized bytes; malformed input becomes a DecodeError, never a crash. */
export function decodeV8(bytes: Uint8Array): unknown {
  try {
    return deserialize(bytes)
  } catch (err) {
    throw new DecodeError(`malformed v8 payload (${bytes.length} bytes): ${(err as Error).message}`, { cause: err })
  }
}

/** The first byte of every v8.serialize payload (its version tag), used to tell v8 from pickle on one port. */
export const V8_FIRST_BYTE = 0xff
