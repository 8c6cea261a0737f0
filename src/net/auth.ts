/**
 * The mutual HMAC challenge handshake of CPython's multiprocessing.connection
 * (wire reference §2). Both dialects: the modern `{digest}`-prefixed one
 * (3.12+) and the legacy raw HMAC-MD5 one (3.11 and older), so every CPython
 * version and every troupe peer interoperate.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { AuthenticationError, ProtocolError } from '../errors.js'
import type { FrameConnection } from './framing.js'

const CHALLENGE = Buffer.from('#CHALLENGE#')
const WELCOME = Buffer.from('#WELCOME#')
const FAILURE = Buffer.from('#FAILURE#')
/** Auth frames are read with this cap, as CPython does (`recv_bytes(256)`). */
export const AUTH_FRAME_MAX = 256
/** How long a peer may take to finish the handshake before the connection is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000

// Wire names of the digests CPython allows, and Node's names for them (§2.4).
const DIGESTS: Record<string, string> = { md5: 'md5', sha256: 'sha256', sha384: 'sha384', sha3_256: 'sha3-256', sha3_384: 'sha3-384' }

/** An authkey as bytes; strings are UTF-8. */
export function authkeyBytes(key: string | Uint8Array): Buffer {
  return typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key)
}

function hmac(digest: string, key: Buffer, msg: Buffer): Buffer {
  return createHmac(DIGESTS[digest]!, key).update(msg).digest()
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Check an answer to `message` as a 3.12 checker would: raw 16-byte HMAC-MD5, or `{name}mac` for any allowed name. */
export function verifyAnswer(key: Buffer, message: Buffer, answer: Buffer): boolean {
  // A legacy answerer MD5s the whole payload it saw, `{sha256}` prefix included (§2.2).
  if (answer.length === 16 || answer.length === 20) return safeEqual(hmac('md5', key, message), answer)
  const parsed = parseDigestPrefix(answer)
  if (!parsed) return false
  return safeEqual(hmac(parsed.name, key, message), parsed.rest)
}

/** Answer a challenge payload: raw HMAC-MD5 for a 20-byte legacy challenge, `{name}` + HMAC-name otherwise (§2.2). */
export function answerFor(key: Buffer, payload: Buffer): Buffer {
  if (payload.length < 20) throw new AuthenticationError(`challenge too short (${payload.length} bytes)`)
  if (payload.length === 20) return hmac('md5', key, payload)
  const parsed = parseDigestPrefix(payload)
  if (!parsed) throw new AuthenticationError('challenge names no supported digest')
  return Buffer.concat([Buffer.from(`{${parsed.name}}`), hmac(parsed.name, key, payload)])
}

// `{name}` must close within bytes 1..9 and name an allowed digest.
function parseDigestPrefix(b: Buffer): { name: string; rest: Buffer } | undefined {
  if (b[0] !== 0x7b) return undefined
  const end = b.indexOf(0x7d, 1)
  if (end < 1 || end > 9) return undefined
  const name = b.subarray(1, end).toString('latin1')
  if (!(name in DIGESTS)) return undefined
  return { name, rest: b.subarray(end + 1) }
}

/** Send a modern challenge, check the peer's answer, reply `#WELCOME#` or `#FAILURE#`. */
export async function deliverChallenge(conn: FrameConnection, key: Buffer, timeoutMs: number): Promise<void> {
  const message = Buffer.concat([Buffer.from('{sha256}'), randomBytes(40)])
  conn.send(Buffer.concat([CHALLENGE, message]))
  const answer = await conn.readFrame({ maxSize: AUTH_FRAME_MAX, timeoutMs })
  if (!verifyAnswer(key, message, answer)) {
    conn.send(FAILURE)
    throw new AuthenticationError('digest received was wrong')
  }
  conn.peerAuthDialect = answer.length === 16 || answer.length === 20 ? 'legacy' : 'modern'
  conn.send(WELCOME)
}

/** Read the peer's challenge, answer it, and expect `#WELCOME#`. */
export async function answerChallenge(conn: FrameConnection, key: Buffer, timeoutMs: number): Promise<void> {
  const msg = await conn.readFrame({ maxSize: AUTH_FRAME_MAX, timeoutMs })
  if (!msg.subarray(0, CHALLENGE.length).equals(CHALLENGE)) throw new ProtocolError(`expected #CHALLENGE#, got ${msg.length} other bytes`)
  conn.send(answerFor(key, msg.subarray(CHALLENGE.length)))
  const reply = await conn.readFrame({ maxSize: AUTH_FRAME_MAX, timeoutMs })
  if (!reply.equals(WELCOME)) throw new AuthenticationError('digest sent was rejected')
}

/** Server side of the handshake: challenge first, then answer (CPython's Server._handle_request order). */
export async function serverHandshake(conn: FrameConnection, key: Buffer, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT): Promise<void> {
  await deliverChallenge(conn, key, timeoutMs)
  await answerChallenge(conn, key, timeoutMs)
}

/** Client side of the handshake: answer first, then challenge (CPython's Client order). */
export async function clientHandshake(conn: FrameConnection, key: Buffer, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT): Promise<void> {
  await answerChallenge(conn, key, timeoutMs)
  await deliverChallenge(conn, key, timeoutMs)
}
