/**
 * Pipe(duplex): two Connections, each direction a Queue living where the
 * pipe was created. A Connection can be passed to any thread or process.
 *
 * A peer that dies must not leave the other end waiting forever: an end
 * passed to other places belongs to them, so when every place holding the
 * writing end of a direction has ended, that direction closes and `recv()`
 * on the other side rejects with ClosedError once drained.
 */
import { portable, registerPortable, type Portable } from '../codec/index.js'
import { BrokenPipeError, ClosedError, EOFError } from '../errors.js'
import { optionsError, timeoutError } from '../timers.js'
import { onPlaceDown, isUnder, placeAddress } from '../process/index.js'
import { Queue, reviveQueue, type QueueDescriptor, type QueueWaitOptions } from './queue.js'

interface ConnectionDescriptor { inbox?: QueueDescriptor; outbox?: QueueDescriptor; module: string }

/** One end of a Pipe (Python's `multiprocessing.connection.Connection`). */
export class Connection<T = unknown> implements Portable {
  private closedHere = false

  /** @internal Use `Pipe()`. */
  constructor(private readonly inbox: Queue<T> | undefined, private readonly outbox: Queue<T> | undefined) {}

  /** Whether this end can receive. */
  get readable(): boolean { return !!this.inbox }
  /** Whether this end can send. */
  get writable(): boolean { return !!this.outbox }
  /** Whether `close()` was called on this end. */
  get closed(): boolean { return this.closedHere }

  /** Send a value to the other end; BrokenPipeError once the other end closed, ClosedError after this end's `close()`. */
  send(value: T): Promise<void> {
    if (this.closedHere) return Promise.reject(new ClosedError('send() on a closed connection'))
    if (!this.outbox) return Promise.reject(new ClosedError('this end of a one-way pipe can only receive'))
    return this.outbox.put(value).catch((err) => { throw err instanceof ClosedError ? new BrokenPipeError('the other end closed the pipe') : err })
  }

  /** Receive the next value; EOFError (a ClosedError) once the other end closed (or ended) and nothing is left. */
  recv(opts: QueueWaitOptions = {}): Promise<T> {
    const bad = optionsError('Connection.recv()', opts)
    if (bad) return Promise.reject(bad)
    if (this.closedHere) return Promise.reject(new ClosedError('recv() on a closed connection'))
    if (!this.inbox) return Promise.reject(new ClosedError('this end of a one-way pipe can only send'))
    return this.inbox.get(opts).catch((err) => { throw err instanceof ClosedError ? new EOFError('the other end closed the pipe and everything it sent was received') : err })
  }

  /** Resolve whether there is something to `recv()` (or the pipe ended), waiting up to `timeout` ms (default 0; null: no limit, Python's `poll(None)`). */
  async poll(timeout: number | null = 0): Promise<boolean> {
    const bad = timeoutError(timeout, 'Connection.poll(): ')
    if (bad) throw bad
    if (this.closedHere) throw new ClosedError('poll() on a closed connection')
    if (!this.inbox) throw new ClosedError('this end of a one-way pipe can only send')
    return this.inbox.pollItems(timeout ?? Infinity)
  }

  /** Close this end: the other end's `recv()` ends after what was sent, its `send()` fails. */
  async close(): Promise<void> {
    if (this.closedHere) return
    this.closedHere = true
    await Promise.all([this.outbox?.close(), this.inbox?.close()])
  }

  /** The descriptor other places revive this end from. */
  [portable](): { type: string; data: ConnectionDescriptor } {
    return { type: 'troupe.Connection', data: { inbox: this.inbox?.descriptor(), outbox: this.outbox?.descriptor(), module: import.meta.url } }
  }
}

/** Close `q` when the last place holding a writing end of it ends. */
function closeWhenWritersEnd(q: Queue<unknown>): void {
  const core = q.homeCore()!
  const stop = onPlaceDown((place) => {
    if (!core.writers.size) return
    for (const w of [...core.writers.keys()]) if (isUnder(w, place)) core.writers.delete(w)
    if (!core.writers.size) { core.close(); stop() }
  })
}

/**
 * A pair of connected ends. `duplex` (default true): both ends send and
 * receive. `Pipe(false)`: the first end only receives, the second only sends.
 */
export function Pipe<T = unknown>(duplex = true): [Connection<T>, Connection<T>] {
  const toFirst = new Queue<T>()
  closeWhenWritersEnd(toFirst as Queue<unknown>)
  if (!duplex) return [new Connection<T>(toFirst, undefined), new Connection<T>(undefined, toFirst)]
  const toSecond = new Queue<T>()
  closeWhenWritersEnd(toSecond as Queue<unknown>)
  return [new Connection<T>(toFirst, toSecond), new Connection<T>(toSecond, toFirst)]
}

registerPortable('troupe.Connection', (data: ConnectionDescriptor) => {
  const inbox = data.inbox ? reviveQueue<unknown>(data.inbox) : undefined
  const outbox = data.outbox ? reviveQueue<unknown>(data.outbox) : undefined
  // Tell the home that this place now writes that direction, so its end can close when we do.
  if (data.outbox && data.outbox.place !== placeAddress()) void outbox!.holdAsWriter().catch(() => {})
  return new Connection(inbox, outbox)
})
