/**
 * troupe's own dialect on the manager wire: after the CPython handshake, every
 * frame is one v8-serialized array. Requests and replies are batched: all the
 * requests a client issues in one event-loop turn travel in one frame, and
 * all the replies a server has ready in one turn travel back in one frame.
 * Replies are matched to requests by id, so many calls are in flight at once.
 */
import { encodeV8, decodeV8, checkV8, checkJson, type V8Limits, type V8Refusal } from '../codec/index.js'
import { DecodeError, ProtocolError } from '../errors.js'

/** `[id, ident, method, args, cancellable]`; ident '' addresses the server itself (create, incref, decref, ...). */
export type Request = [id: number, ident: string, method: string, args: unknown[], cancellable?: 1]

/** Reply status: a value, an error (WireError), or a new server object (ProxyInfo). */
export const Status = { Return: 0, Error: 1, Proxy: 2 } as const
/** One of the Status values. */
export type Status = (typeof Status)[keyof typeof Status]

/** `[id, status, value]`; `[id, status]` when the value is undefined (so the batch stays JSON-exact). */
export type Reply = [id: number, status: Status, value?: unknown]

/**
 * Requests use ids from 1. A reply with id 0 is about the connection itself:
 * `[0, Status.Error, error]` says why the server is about to close it (a frame
 * it could not use), so the caller's pending calls fail with that error.
 */
export const CONNECTION_REPLY_ID = 0

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

function isJson(frame: Buffer): boolean {
  return frame[0] === 0xff && frame[1] === JSON_TAG
}

function parseJson(frame: Buffer): unknown {
  try {
    return JSON.parse(frame.toString('utf8', 2))
  } catch (err) {
    throw new DecodeError(`malformed troupe frame (${frame.length} bytes): ${(err as Error).message}`)
  }
}

function decodeBatch(frame: Buffer): unknown {
  return isJson(frame) ? parseJson(frame) : decodeV8(frame)
}

/** Bounds on one request frame: weighted values and nesting (defaults in V8_DEFAULT_LIMITS; docs/manager.md "Limits"). */
export type FrameLimits = V8Limits

/** A decoded request frame: the requests to serve, and the ones refused, each with the error to answer it with. */
export interface RequestBatch { requests: Request[]; refused: [id: number, error: Error][] }

// Idents are short hex strings and method names are identifiers; anything longer is not a request.
const MAX_NAME = 256

/**
 * Decode a request frame from a peer nobody vouches for. The bytes are
 * checked before anything is built (checkV8/checkJson: no holes, bounded
 * values and nesting), then every request's shape. Throws DecodeError or
 * ProtocolError when the frame as a whole is unusable (the connection must
 * go); a request that is malformed but carries an id is refused on its own.
 */
export function decodeRequests(frame: Buffer, limits: FrameLimits = {}): RequestBatch {
  let holes: V8Refusal[] = []
  let batch: unknown
  if (isJson(frame)) {
    checkJson(frame, 2, limits)
    batch = parseJson(frame)
  } else {
    holes = checkV8(frame, limits).refused
    batch = decodeV8(frame)
  }
  if (!Array.isArray(batch)) throw new ProtocolError('a troupe request frame must hold an array of requests')
  const requests: Request[] = []
  const refused: [number, Error][] = []
  let h = 0
  for (let i = 0; i < batch.length; i++) {
    const r: unknown = batch[i]
    const id = Array.isArray(r) ? r[0] : undefined
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) throw new ProtocolError(`malformed request at position ${i}: expected [id, ident, method, args] with a non-negative integer id`)
    if (holes[h]?.index === i) {
      refused.push([id, new DecodeError(`request ${id} refused: its arguments hold ${holes[h]!.reason}; send dense arrays (Array.from(a) fills holes with undefined)`)])
      h++
      continue
    }
    const why = shapeProblem(r as unknown[])
    if (why) refused.push([id, new ProtocolError(`malformed request ${id}: ${why}`)])
    else requests.push(r as Request)
  }
  return { requests, refused }
}

// Below this size a v8 frame cannot be too deep or hold too many values (short of pathological sharing).
const CHECK_FROM = 2048
// The most a byte of JSON can weigh in checkJson (a one-digit value and its comma weigh 16), and the
// deepest a JSON batch gets (MAX_JSON_DEPTH of a value inside batch, request and args).
const JSON_WEIGHT_PER_BYTE = 8
const JSON_MAX_DEPTH = 40

/** What the client's own check of an outgoing frame found (see `checkFrame`). */
export interface FrameCheck {
  /** Why the server would refuse the frame as a whole (too many bytes, values or levels). */
  problem?: Error
  /** Positions of requests the server would refuse one by one (holes in their arguments). */
  refused: number[]
}

/**
 * The client's check of an outgoing frame, before it is sent, so a
 * legitimate caller never loses its connection to a limit. Small frames are
 * only checked when `holes` asks for it (a merged putMany, which the caller
 * would rather split than have refused whole).
 */
export function checkFrame(payload: Buffer, limits: FrameLimits & { maxFrameSize: number }, holes = false): FrameCheck {
  if (payload.length > limits.maxFrameSize) return { problem: new ProtocolError(`a frame of ${payload.length} bytes exceeds the limit of ${limits.maxFrameSize} bytes (maxFrameSize)`), refused: [] }
  try {
    // JSON batches are small (a few dozen values) and cannot hold holes: checked only against a small limit.
    if (isJson(payload)) {
      if (payload.length * JSON_WEIGHT_PER_BYTE > (limits.maxValues ?? Infinity) || (limits.maxDepth ?? Infinity) < JSON_MAX_DEPTH) checkJson(payload, 2, limits)
      return { refused: [] }
    }
    if (payload.length < CHECK_FROM && !holes) return { refused: [] }
    return { refused: checkV8(payload, limits).refused.map((r) => r.index) }
  } catch (err) {
    return { problem: err as Error, refused: [] }
  }
}

function shapeProblem(r: unknown[]): string | undefined {
  if (r.length < 4 || r.length > 5) return `expected [id, ident, method, args, cancellable?], got ${r.length} fields`
  if (typeof r[1] !== 'string' || r[1].length > MAX_NAME) return `ident must be a string of at most ${MAX_NAME} characters`
  if (typeof r[2] !== 'string' || r[2].length > MAX_NAME) return `method must be a string of at most ${MAX_NAME} characters`
  if (!Array.isArray(r[3])) return 'args must be an array'
  if (r.length === 5 && r[4] !== 1 && r[4] !== undefined) return 'cancellable must be 1 when present'
  return undefined
}

/** Decode a reply frame. */
export function decodeReplies(frame: Buffer): Reply[] {
  const batch = decodeBatch(frame)
  if (!Array.isArray(batch)) throw new ProtocolError('a troupe reply frame must hold an array of replies')
  return batch as Reply[]
}
