import { serialize } from 'node:v8'
import { Manager } from '../../src/manager/index.ts'
import { connectTo, type FrameConnection } from '../../src/net/index.ts'
import { decodeReplies, type Reply } from '../../src/manager/protocol.ts'

/** Connect a Manager client to `address`. */
export function connectToManager(address: string, authkey: string): Promise<Manager> {
  return new Manager({ address, authkey }).connect()
}

/** Wait until `cond()` holds, polling; fails after `ms` so no test hangs. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/**
 * A troupe-dialect peer that speaks raw frames: for tests that send what no
 * troupe client would (holes, wrong shapes, garbage) and read the replies.
 */
export class RawPeer {
  private constructor(readonly conn: FrameConnection) {}

  /** Connect and authenticate. */
  static async open(address: string, authkey: string): Promise<RawPeer> {
    return new RawPeer(await connectTo(address, { authkey }))
  }

  /** Send a v8-serialized batch as it is, or bytes as they are. */
  send(batchOrBytes: unknown[] | Buffer): void {
    this.conn.send(Buffer.isBuffer(batchOrBytes) ? batchOrBytes : serialize(batchOrBytes))
  }

  /** The next reply frame, decoded; rejects when the server closes the connection instead. */
  async replies(timeoutMs = 10_000): Promise<Reply[]> {
    return decodeReplies(await this.conn.readFrame({ timeoutMs }))
  }

  /** Send one request and wait for its reply. */
  async call(id: number, ident: string, method: string, args: unknown[]): Promise<Reply> {
    this.send([[id, ident, method, args]])
    const [reply] = await this.replies()
    return reply!
  }

  /** Resolves with the close reason once the server has closed the connection. */
  closed(): Promise<Error | undefined> {
    return this.conn.closed
  }

  close(): void {
    this.conn.close()
  }
}
