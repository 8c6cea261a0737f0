/**
 * troupe's own dialect on the manager wire: after the CPython handshake, every
 * frame is one v8-serialized array. Requests and replies are batched: all the
 * requests a client issues in one event-loop turn travel in one frame, and
 * all the replies a server has ready in one turn travel back in one frame.
 * Replies are matched to requests by id, so many calls are in flight at once.
 */
import { encodeV8, decodeV8 } from '../codec/index.js'
import { ProtocolError } from '../errors.js'

/** `[id, ident, method, args, cancellable]`; ident '' addresses the server itself (create, incref, decref, ...). */
export type Request = [id: number, ident: string, method: string, args: unknown[], cancellable?: 1]

/** Reply status: a value, an error (WireError), or a new server object (ProxyInfo). */
export const Status = { Return: 0, Error: 1, Proxy: 2 } as const
/** One of the Status values. */
export type Status = (typeof Status)[keyof typeof Status]

/** `[id, status, value]`. */
export type Reply = [id: number, status: Status, value: unknown]

/** What `create` and proxy-returning methods send back. */
export interface ProxyInfo { typeid: string; ident: string; exposed: readonly string[] }

/** Control methods a troupe client may call with ident ''. */
export const CONTROL = ['create', 'incref', 'decref', 'cancel', 'dummy', 'shutdown', 'numberOfObjects', 'getMethods', 'typeids', 'debugInfo'] as const

/** Encode a batch (requests or replies) as one frame payload. */
export function encodeBatch(batch: unknown[]): Buffer {
  return encodeV8(batch)
}

/** Decode a request frame; ProtocolError when it is not a batch of well-formed requests. */
export function decodeRequests(frame: Buffer): Request[] {
  const batch = decodeV8(frame)
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
  const batch = decodeV8(frame)
  if (!Array.isArray(batch)) throw new ProtocolError('a troupe reply frame must hold an array of replies')
  return batch as Reply[]
}
