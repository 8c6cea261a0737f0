/**
 * troupe's own dialect on the manager wire: after the CPython handshake, every
 * frame is one v8-serialized array. Requests and replies are batched: all the
 * requests a client issues in one event-loop turn travel in one frame, and
 * all the replies a server has ready in one turn travel back in one frame.
 * Replies are matched to requests by id, so many calls are in flight at once.
 */
import { encodeV8, decodeV8 } from '../codec/index.js'
import { DecodeError, ProtocolError } from '../errors.js'

/** `[id, ident, method, args, cancellable]`; ident '' addresses the server itself (create, incref, decref, ...). */
export type Request = [id: number, ident: string, method: string, args: unknown[], cancellable?: 1]

/** Reply status: a value, an error (WireError), or a new server object (ProxyInfo). */
export const Status = { Return: 0, Error: 1, Proxy: 2 } as const
/** One of the Status values. */
export type Status = (typeof Status)[keyof typeof Status]

/** `[id, status, value]`; `[id, status]` when the value is undefined (so the batch stays JSON-exact). */
export type Reply = [id: number, status: Status, value?: unknown]

/** What `create` and proxy-returning methods send back. */
export interface ProxyInfo { typeid: string; ident: string; exposed: readonly string[] }

/** Control methods a troupe client may call with ident ''. */
export const CONTROL = ['create', 'incref', 'decref', 'cancel', 'dummy', 'serverId', 'shutdown', 'numberOfObjects', 'getMethods', 'typeids', 'debugInfo'] as const

// A batch of plain data (the usual case: numbers, strings, small objects) is written as JSON behind
// the two bytes 0xFF 0x01: v8.serialize costs ~5 µs even for a tiny message, JSON a tenth of that.
// The first byte stays 0xFF (the troupe dialect's mark); a v8 payload's second byte is its format
// version (>= 0x0D), so 0x01 cannot be mistaken for one. Anything JSON would not carry exactly
// (undefined inside arrays, -0, NaN, BigInt, Map, Buffer, Date, class instances) goes as v8, and so
// do large batches, where v8's dense-array fast paths win (2,000 numbers: 0.07 ms v8, 0.16 ms JSON).
const JSON_TAG = 0x01
const MAX_JSON_DEPTH = 32
const MAX_JSON_VALUES = 64
let budget = 0

function jsonSafe(v: unknown, depth: number): boolean {
  if (++budget > MAX_JSON_VALUES) return false
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0)
    case 'object': {
      if (v === null) return true
      if (depth > MAX_JSON_DEPTH) return false
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!jsonSafe(v[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      for (const k of Object.keys(v)) if (!jsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false
      return true
    }
    default:
      return false
  }
}

/** Encode a batch (requests or replies) as one frame payload: compact JSON when exact, v8 otherwise. */
export function encodeBatch(batch: unknown[]): Buffer {
  budget = 0
  if (!jsonSafe(batch, 0)) return encodeV8(batch)
  const json = JSON.stringify(batch)
  const buf = Buffer.allocUnsafe(2 + Buffer.byteLength(json))
  buf[0] = 0xff
  buf[1] = JSON_TAG
  buf.write(json, 2)
  return buf
}

function decodeBatch(frame: Buffer): unknown {
  if (frame[0] === 0xff && frame[1] === JSON_TAG) {
    try {
      return JSON.parse(frame.toString('utf8', 2))
    } catch (err) {
      throw new DecodeError(`malformed troupe frame (${frame.length} bytes): ${(err as Error).message}`)
    }
  }
  return decodeV8(frame)
}

/** Decode a request frame; ProtocolError when it is not a batch of well-formed requests. */
export function decodeRequests(frame: Buffer): Request[] {
  const batch = decodeBatch(frame)
  if (!Array.isArray(batch)) throw new ProtocolError('a troupe request frame must hold an array of requests')
  for (const r of batch) {
    if (!Array.isArray(r) || typeof r[0] !== 'number' || typeof r[1] !== 'string' || typeof r[2] !== 'string' || !Array.isArray(r[3])) {
      throw new ProtocolError('malformed request: expected [id, ident, method, args]')
    }
  }
  return batch as Request[]
}

/** Decode a reply frame. */
export function decodeReplies(frame: Buffer): Reply[] {
  const batch = decodeBatch(frame)
  if (!Array.isArray(batch)) throw new ProtocolError('a troupe reply frame must hold an array of replies')
  return batch as Reply[]
}
