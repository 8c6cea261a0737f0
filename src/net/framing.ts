import type { Socket } from 'node:net'
import { ConnectionClosedError, ProtocolError, TimeoutError } from '../errors.js'
import { LoopPoller, type SpinPolicy } from './hot.js'
import { armWait } from '../timers.js'

const noop = (): void => {}

/** Default cap on one frame's payload (64 MiB); larger frames close the connection with ProtocolError. */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024

// The cap on frames read before the handshake is done (CPython's recv_bytes(256), wire reference §2.4).
const AUTH_CAP = 256
// CPython writes header and payload in one write() up to this size (wire reference §1.2).
const SINGLE_WRITE_MAX = 16384
// What one socket read takes at most when not reading a large frame in place (Node reads 64 KiB).
const READ_CHUNK = 65536

/** Build the header for a payload of `n` bytes: int32 big-endian, or -1 then uint64 above 2 GiB - 1 (§1.2). */
export function frameHeader(n: number): Buffer {
  if (n <= 0x7fffffff) {
    const h = Buffer.allocUnsafe(4)
    h.writeInt32BE(n, 0)
    return h
  }
  const h = Buffer.allocUnsafe(12)
  h.writeInt32BE(-1, 0)
  h.writeBigUInt64BE(BigInt(n), 4)
  return h
}

/**
 * Splits a byte stream into frames. Chunks are kept in a list and joined only
 * once a whole frame has arrived, so a large frame arriving in many chunks is
 * copied once, not once per chunk.
 */
export class FrameReader {
  /** Largest payload accepted; changed between the handshake (256) and normal traffic. */
  limit: number
  private chunks: Buffer[] = []
  private have = 0
  private need = -1
  private headerLen = 0

  // The payload of a large frame being read in place (readTarget), and how much of it has arrived.
  private direct: Buffer | undefined
  private directHave = 0

  constructor(limit: number) {
    this.limit = limit
  }

  /**
   * For a socket that reads into buffers it is given (net.Socket's `onread`): where its next read
   * should land. While a frame of more than READ_CHUNK bytes is still coming, that is the rest of the
   * frame's own buffer, so those bytes are read where they stay: no chunk per read, no join.
   * Report each read with `filled(target, n)`.
   */
  readTarget(): Buffer {
    if (this.direct) return this.direct.subarray(this.directHave)
    if (this.need < 0 || this.headerLen + this.need - this.have <= READ_CHUNK) return Buffer.allocUnsafe(READ_CHUNK)
    // Every byte buffered belongs to this frame (it is incomplete): its payload so far moves in once.
    const payload = Buffer.allocUnsafeSlow(this.need)
    let at = -this.headerLen
    for (const c of this.chunks) {
      if (at + c.length > 0) c.copy(payload, Math.max(at, 0), Math.max(-at, 0))
      at += c.length
    }
    this.chunks = []
    this.have = 0
    this.direct = payload
    this.directHave = at
    return payload.subarray(at)
  }

  /** `n` bytes were read into `target` (from `readTarget()`). */
  filled(target: Buffer, n: number): void {
    if (this.direct !== undefined && target.buffer === this.direct.buffer) this.directHave += n
    else this.append(target.subarray(0, n))
  }

  /** Feed bytes and return every complete frame they finish (each checked against the limit as it is parsed). */
  push(chunk: Buffer): Buffer[] {
    this.append(chunk)
    const out: Buffer[] = []
    for (let f = this.next(); f; f = this.next()) out.push(f)
    return out
  }

  /** Add bytes without parsing them yet. */
  append(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.have += chunk.length
  }

  /**
   * The next complete frame, or undefined. Parsing one frame at a time lets
   * the limit change between frames (256 bytes for auth frames, then the
   * connection's limit), even when they arrived in one chunk.
   * Throws ProtocolError on a bad or oversized header.
   */
  next(): Buffer | undefined {
    if (this.direct) {
      if (this.directHave < this.need) return undefined
      const f = this.direct
      this.direct = undefined
      this.need = -1
      return f
    }
    if (this.need < 0) {
      if (this.have < 4) return undefined
      const head = this.peek(12)
      const n = head.readInt32BE(0)
      if (n === -1) {
        if (this.have < 12) return undefined
        const big = head.readBigUInt64BE(4)
        if (big > BigInt(this.limit)) throw new ProtocolError(`frame of ${big} bytes exceeds the limit of ${this.limit} bytes`)
        this.need = Number(big)
        this.headerLen = 12
      } else if (n < 0) {
        throw new ProtocolError(`malformed frame header (length ${n})`)
      } else {
        if (n > this.limit) throw new ProtocolError(`frame of ${n} bytes exceeds the limit of ${this.limit} bytes`)
        this.need = n
        this.headerLen = 4
      }
    }
    if (this.have < this.headerLen + this.need) return undefined
    const all = this.take(this.headerLen + this.need)
    this.need = -1
    return all.subarray(this.headerLen)
  }

  // The first `n` bytes (or fewer if not there), joining chunks only when the header straddles them.
  private peek(n: number): Buffer {
    const first = this.chunks[0]!
    if (first.length >= n || this.chunks.length === 1) return first
    return Buffer.concat(this.chunks, Math.min(n, this.have)).subarray(0, n)
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
    } else {
      const joined = Buffer.concat(this.chunks, this.have)
      out = joined.subarray(0, n)
      this.chunks = joined.length > n ? [joined.subarray(n)] : []
    }
    this.have -= n
    return out
  }
}

/** Options for a framed connection. */
export interface FrameConnectionOptions {
  /** Largest accepted payload in bytes (default 64 MiB). */
  maxFrameSize?: number
  /** The peer as a label for errors and logs (`127.0.0.1:5000`). */
  peer?: string
}

/**
 * A socket that carries CPython-style length-prefixed frames. Before the
 * handshake frames are pulled with `readFrame()` (capped at 256 bytes); after
 * it, `onFrame()` switches to push delivery. A bad frame closes this
 * connection only, with the reason kept in `closeReason`.
 */
export class FrameConnection {
  readonly socket: Socket
  readonly peer: string
  readonly maxFrameSize: number
  /** Why the connection closed (undefined while open or after a clean end). */
  closeReason: Error | undefined
  /**
   * How the peer answered our challenge: `'legacy'` raw HMAC-MD5 (CPython 3.11
   * and older, Python 2) or `'modern'` `{digest}` (3.12+, troupe). Set by the handshake.
   */
  peerAuthDialect: 'legacy' | 'modern' | undefined
  /** Resolves when the socket has closed. */
  readonly closed: Promise<Error | undefined>
  private readonly reader: FrameReader
  private waiter: { resolve(b: Buffer): void; reject(e: Error): void } | undefined
  private handler: ((frame: Buffer) => void) | undefined
  private closeHandlers: ((reason: Error | undefined) => void)[] = []
  private isClosed = false
  private paused = false
  private resolveClosed!: (r: Error | undefined) => void
  private poller: LoopPoller | undefined

  constructor(socket: Socket, opts: FrameConnectionOptions = {}) {
    this.socket = socket
    this.peer = opts.peer ?? (socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix socket peer')
    this.maxFrameSize = opts.maxFrameSize ?? DEFAULT_MAX_FRAME
    // Until someone reads with a larger limit, only handshake-sized frames are accepted.
    this.reader = new FrameReader(AUTH_CAP)
    this.closed = new Promise((r) => { this.resolveClosed = r })
    socket.setNoDelay?.(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (err) => this.close(err))
    socket.on('close', () => this.close(undefined))
    socket.on('end', () => this.close(undefined))
  }

  private onData(chunk: Buffer): void {
    // After close() the socket may still be flushing our last frame; what the peer keeps sending is dropped, not buffered.
    if (this.isClosed) return
    this.poller?.received()
    this.reader.append(chunk)
    this.deliver()
  }

  // Frames are parsed only when someone takes them, so each is checked against the limit of the read that takes it.
  private deliver(): void {
    while (!this.isClosed && !this.paused && (this.handler || this.waiter)) {
      let f: Buffer | undefined
      try {
        f = this.reader.next()
      } catch (err) {
        this.close(err as Error)
        return
      }
      if (!f) return
      if (this.handler) this.handler(f)
      else { const w = this.waiter!; this.waiter = undefined; w.resolve(f) }
    }
  }

  /** Send one frame. Small frames go out in a single write so Nagle cannot split them (§1.2). */
  send(payload: Uint8Array): void {
    if (this.isClosed) throw new ConnectionClosedError(`connection to ${this.peer} is closed`)
    this.poller?.sent()
    const n = payload.length
    if (n <= SINGLE_WRITE_MAX) {
      const buf = Buffer.allocUnsafe(4 + n)
      buf.writeInt32BE(n, 0)
      buf.set(payload, 4)
      this.socket.write(buf)
    } else {
      this.socket.cork()
      this.socket.write(frameHeader(n))
      this.socket.write(payload)
      process.nextTick(() => this.socket.uncork())
    }
  }

  /**
   * Wait for the next frame (handshake phase). `maxSize` caps it for this read
   * only; `timeoutMs` bounds the wait and closes the connection when it expires.
   */
  readFrame(opts: { maxSize?: number; timeoutMs?: number } = {}): Promise<Buffer> {
    if (this.isClosed) return Promise.reject(this.closeReason ?? new ConnectionClosedError(`connection to ${this.peer} closed`))
    this.reader.limit = opts.maxSize ?? this.maxFrameSize
    const p = new Promise<Buffer>((resolve, reject) => {
      // Only a bounded read arms a wait (which also holds the place open); an unbounded one relies on the socket's ref.
      const disarm = opts.timeoutMs === undefined ? noop : armWait({ timeout: opts.timeoutMs }, () => {
        this.waiter = undefined
        reject(this.fail(new TimeoutError(`no frame from ${this.peer} within ${opts.timeoutMs} ms`)))
      }, noop)
      this.waiter = {
        resolve: (b) => { disarm(); resolve(b) },
        reject: (e) => { disarm(); reject(e) },
      }
    })
    this.deliver()
    return p
  }

  private fail(err: Error): Error {
    this.close(err)
    return err
  }

  /**
   * After each frame sent, wait for the peer's next bytes polling instead of sleeping in epoll,
   * while `policy` finds that it pays (see hot.ts). A request/reply channel's choice, per connection.
   */
  pollAnswers(policy: SpinPolicy): void {
    this.poller = new LoopPoller(policy)
  }

  /** Deliver every following frame (and any already buffered) to `fn`. */
  onFrame(fn: (frame: Buffer) => void): void {
    this.handler = fn
    this.reader.limit = this.maxFrameSize
    this.deliver()
  }

  /**
   * Stop handing frames to `onFrame` and stop reading the socket (TCP pushes
   * back on the peer) until `resume()`: backpressure for a reader that is behind.
   */
  pause(): void {
    this.paused = true
    this.socket.pause()
  }

  /** Hand frames again, starting with any already buffered. */
  resume(): void {
    if (!this.paused) return
    this.paused = false
    this.socket.resume()
    this.deliver()
  }

  /** Call `fn` once when the connection closes, with the reason if it was not a clean end. */
  onClose(fn: (reason: Error | undefined) => void): void {
    if (this.isClosed) fn(this.closeReason)
    else this.closeHandlers.push(fn)
  }

  /** Whether the connection is closed. */
  get isOpen(): boolean {
    return !this.isClosed
  }

  /** Close the socket; `reason` is kept and handed to close handlers and pending reads. */
  close(reason?: Error): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closeReason = reason
    if (reason) this.socket.destroy()
    else this.socket.end()
    // A socket that ended cleanly from our side still needs destroying once flushed; 'finish' may never come if the peer vanished.
    setTimeout(() => this.socket.destroy(), 1000).unref()
    const w = this.waiter
    this.waiter = undefined
    w?.reject(reason ?? new ConnectionClosedError(`connection to ${this.peer} closed`))
    for (const fn of this.closeHandlers.splice(0)) fn(reason)
    this.resolveClosed(reason)
  }

  /** Let the process exit while this connection is open. */
  unref(): void { this.socket.unref() }
  /** Keep the process alive while this connection is open. */
  ref(): void { this.socket.ref() }
}
