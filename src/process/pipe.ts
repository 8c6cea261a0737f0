/**
 * A child process's data link: two pipes beside Node's IPC channel, carrying
 * length-prefixed frames (net/framing.ts) of v8 bytes. Node's IPC reader
 * deserializes each message through its own deserializer object, which keeps
 * every string it made alive until collected: a 64 KiB string per task
 * survived scavenges and cost the child more in GC than the task (pool
 * "strings": 91.5 cpu-µs a task over IPC, against 24 for threads). Here a
 * message that is a list goes as `encodeList` bytes, its long strings raw
 * after the v8 payload (codec/packed.ts), and comes back as fresh strings.
 *
 * Every message, the boot record first, travels on these pipes, so a link
 * stays one FIFO (pool results before the child's exit, router frames in
 * order). The IPC channel stays for what it does by itself: the child exits
 * when it closes (the parent died).
 *
 * The child writes with blocking writes (its end of the pipe is blocking, as
 * libuv leaves it): a message is out once `send` returns, so a child that
 * calls process.exit() right after loses nothing it sent. The parent writes
 * through its event loop and never blocks.
 */
import { Socket } from 'node:net'
import { writevSync } from 'node:fs'
import { FrameReader, frameHeader } from '../net/index.js'
import { decodeList, decodeV8, encodeList, encodeV8 } from '../codec/index.js'

/** The child's fd for parent -> child frames (stdio index). */
export const DOWN_FD = 4
/** The child's fd for child -> parent frames. */
export const UP_FD = 5
/** The `stdio` entries that create the two pipes, after stdin, stdout, stderr and 'ipc'. */
export const PIPE_STDIO = ['pipe', 'pipe'] as const

// The byte after the length: how the rest is encoded.
const VALUE = Buffer.from([0])
const LIST = Buffer.from([1])
// No cap that a pool batch of large arguments could hit: both ends are troupe, in one program.
const NO_LIMIT = Number.MAX_SAFE_INTEGER
// What a blocked write sleeps on between tries.
const pause = new Int32Array(new SharedArrayBuffer(4))

/** A message as the buffers of one frame. */
function encode(msg: unknown): Buffer[] {
  const list = Array.isArray(msg) && Object.getPrototypeOf(msg) === Array.prototype
  const body = list ? encodeList(msg as unknown[]) : encodeV8(msg)
  return [frameHeader(body.length + 1), list ? LIST : VALUE, body]
}

function decode(frame: Buffer): unknown {
  const body = frame.subarray(1)
  return frame[0] === LIST[0] ? decodeList(body) : decodeV8(body)
}

/** Call `fn` with each message the frames in `socket` carry, in order. */
function readMessages(socket: Socket, fn: (msg: unknown) => void): void {
  const reader = new FrameReader(NO_LIMIT)
  socket.on('data', (chunk: Buffer) => {
    reader.append(chunk)
    for (let f = reader.next(); f; f = reader.next()) fn(decode(f))
  })
}

/** The parent's end: writes to the child's DOWN_FD, reads its UP_FD. */
export class ParentPipe {
  /** Resolves when the child's end has closed (every message it sent has been handled). */
  readonly drained: Promise<void>
  private readonly down: Socket
  private readonly up: Socket

  constructor(stdio: readonly unknown[], onMessage: (msg: unknown) => void) {
    this.down = stdio[DOWN_FD] as Socket
    this.up = stdio[UP_FD] as Socket
    // A dead child's pipes fail writes (EPIPE); its exit is reported by the process itself.
    this.down.on('error', () => {})
    this.up.on('error', () => {})
    // Nothing comes down this one's read side; reading it only lets it see the child's end close.
    this.down.resume()
    readMessages(this.up, onMessage)
    this.drained = new Promise((resolve) => { this.up.once('close', () => resolve()) })
  }

  /** Send a message (queued in the event loop; never blocks). */
  send(msg: unknown): void {
    if (this.down.destroyed) return
    const [header, tag, body] = encode(msg)
    // One writev for the three pieces, without copying the body.
    this.down.cork()
    this.down.write(header!)
    this.down.write(tag!)
    this.down.write(body!)
    this.down.uncork()
  }

  /** Do not keep the parent's event loop alive for these pipes. */
  unref(): void {
    this.down.unref()
    this.up.unref()
  }

  /** Keep the parent's event loop alive while the pipes are open. */
  ref(): void {
    this.down.ref()
    this.up.ref()
  }
}

/** The child's end: reads DOWN_FD, writes UP_FD with blocking writes. */
export class ChildPipe {
  private readonly down: Socket
  private broken = false

  constructor(onMessage: (msg: unknown) => void) {
    // Reads land where the reader says: a large message (a pool batch of 64 KiB strings) is read
    // straight into its own buffer instead of in 64 KiB chunks joined afterwards.
    const reader = new FrameReader(NO_LIMIT)
    let target = reader.readTarget()
    this.down = new Socket({
      fd: DOWN_FD, readable: true, writable: false,
      onread: {
        buffer: () => target,
        callback: (n: number, buf: Uint8Array) => {
          reader.filled(buf as Buffer, n)
          try {
            for (let f = reader.next(); f; f = reader.next()) onMessage(decode(f))
          } finally {
            // A fresh target even when a handler threw: the next read must not land where a frame still points.
            target = reader.readTarget()
          }
        },
      },
    } as ConstructorParameters<typeof Socket>[0])
    this.down.on('error', () => {})
  }

  /** Send a message; it has left this process when this returns. */
  send(msg: unknown): void {
    if (this.broken) return
    const bufs = encode(msg)
    for (;;) {
      let n: number
      try {
        n = writevSync(UP_FD, bufs)
      } catch (err) {
        // Should the fd ever be non-blocking, a full pipe is waited out, not taken for a dead parent.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') { Atomics.wait(pause, 0, 0, 1); continue }
        // The parent is gone (EPIPE): the IPC channel's disconnect ends this process.
        this.broken = true
        return
      }
      // A blocking write may still be cut short (a signal): write the rest.
      while (bufs.length > 0 && n >= bufs[0]!.length) n -= bufs.shift()!.length
      if (bufs.length === 0) return
      bufs[0] = bufs[0]!.subarray(n)
    }
  }

  /** Let this process exit when nothing else keeps it alive. */
  unref(): void {
    this.down.unref()
  }

  /** Keep this process alive while listening. */
  ref(): void {
    this.down.ref()
  }
}
