/**
 * Queue, SimpleQueue and JoinableQueue: one implementation whatever place a
 * handle is in. The queue's state lives in the place that created it (a
 * QueueCore); a handle elsewhere reaches it through the router (a transport
 * passed in), so a queue passed to a thread, a child process or a grandchild
 * works from every side.
 *
 * Hot path, remote side: puts to an unbounded queue are buffered and sent as
 * one message per batch (per event-loop turn, or every BATCH items), and
 * `for await` consumers prefetch a batch with one request while they consume
 * the previous one. A thread-to-thread item costs two messages per batch, not
 * two per item.
 */
import { marshal, portable, registerPortable, type Portable } from '../codec/index.js'
import { ClosedError, TaskDoneError } from '../errors.js'
import { serve, connect, placeAddress, beforePlaceExit, type ObjectAddress, type Remote } from '../process/index.js'
import { QueueCore, type TakeResult } from './queue-core.js'

/** Options of a blocking queue call. */
export interface QueueWaitOptions {
  /** Milliseconds to wait; then `get` rejects with Empty and `put` with Full. Default: forever. */
  timeout?: number
  /** Cancels the wait (AbortError). */
  signal?: AbortSignal
}

/** Options of `iterate()`. */
export interface IterateOptions {
  /** Items a consumer in another place fetches per request (it holds up to twice this many). Default 256. */
  prefetch?: number
}

type QueueKind = 'queue' | 'simple' | 'joinable'

/** What a queue handle looks like on the wire. */
export interface QueueDescriptor extends ObjectAddress { kind: QueueKind; maxsize: number; module: string }

/** How a handle reaches the queue's state: directly in its home, through the router elsewhere. */
interface Transport {
  readonly remote: boolean
  call(method: string, args: unknown[], signal?: AbortSignal): Promise<unknown>
}

const never = new AbortController().signal

function localTransport(core: QueueCore<unknown>): Transport {
  return {
    remote: false,
    call(method, args, signal) {
      try {
        return Promise.resolve(core.handle(method, args, { signal: signal ?? never }))
      } catch (err) {
        return Promise.reject(err)
      }
    },
  }
}

function remoteTransport(remote: Remote): Transport {
  return { remote: true, call: (method, args, signal) => remote.request(method, args, { signal }) }
}

// Items buffered per handle before a batch is sent without waiting for the turn to end.
const BATCH = 1024
const cores = new Map<number, { core: QueueCore<unknown>; handle: Queue<unknown> }>()
const dirty = new Set<Queue<unknown>>()
// A place that ends after its target returns first delivers what its handles buffered.
beforePlaceExit(() => Promise.all([...dirty].map((q) => q.flush())))
let attaching: { transport: Transport; desc: QueueDescriptor } | undefined

/**
 * A FIFO queue usable from every thread and process it is passed to
 * (Python's `multiprocessing.Queue`). `maxsize` > 0 bounds it: `put` then
 * waits for room (backpressure). Every method is async because the queue may
 * live in another place.
 */
export class Queue<T> implements Portable, AsyncIterable<T> {
  /** Bound on the number of items (0 = unbounded). */
  readonly maxsize: number
  protected readonly transport: Transport
  /** The state, in the queue's home place only. */
  private readonly core: QueueCore<T> | undefined
  private address: ObjectAddress | undefined
  private outbox: T[] = []
  private flushQueued = false
  private lastFlush: Promise<void> = Promise.resolve()
  private closedSeen = false
  /** Sent to another place at least once: values put are checked for sendability. */
  private shared = false

  /** A queue holding at most `maxsize` items (0, the default, means unbounded). */
  constructor(maxsize: number | { maxsize?: number } = 0) {
    const a = attaching
    attaching = undefined
    if (a) {
      this.maxsize = a.desc.maxsize
      this.transport = a.transport
      this.address = { place: a.desc.place, id: a.desc.id }
      this.core = undefined
      this.shared = true
    } else {
      const n = typeof maxsize === 'number' ? maxsize : maxsize.maxsize ?? 0
      if (!Number.isFinite(n) || n < 0) throw new RangeError(`maxsize must be a non-negative number, got ${n}`)
      this.core = new QueueCore<T>(n)
      this.maxsize = this.core.maxsize
      this.transport = localTransport(this.core as QueueCore<unknown>)
    }
  }

  protected kind(): QueueKind {
    return 'queue'
  }

  protected call<R>(method: string, args: unknown[], signal?: AbortSignal): Promise<R> {
    // Items this handle buffered go first, so a handle sees its own puts in order.
    if (this.outbox.length) void this.flush()
    return this.transport.call(method, args, signal) as Promise<R>
  }

  /** Put an item, waiting while a bounded queue is full (Full after `timeout`). */
  put(item: T, opts: QueueWaitOptions = {}): Promise<void> {
    if (this.core) {
      if (this.shared) { try { marshal(item, 'item') } catch (err) { return Promise.reject(err) } }
      return this.core.put([item], opts)
    }
    if (this.maxsize === 0) return this.buffer(item)
    try { marshal(item, 'item') } catch (err) { return Promise.reject(err) }
    return this.call('put', [[item], opts.timeout], opts.signal)
  }

  /** Put an item or reject with Full at once. */
  putNowait(item: T): Promise<void> {
    if (this.core) {
      try {
        if (this.shared) marshal(item, 'item')
        this.core.putNowait(item)
        return Promise.resolve()
      } catch (err) {
        return Promise.reject(err)
      }
    }
    if (this.maxsize === 0) return this.buffer(item)
    return this.call('putNowait', [item])
  }

  /** Remote, unbounded: an unbounded put never waits, so it resolves once buffered (as Python's feeder thread does). */
  private buffer(item: T): Promise<void> {
    if (this.closedSeen) return Promise.reject(new ClosedError('put() on a closed queue'))
    try { marshal(item, 'item') } catch (err) { return Promise.reject(err) }
    if (this.outbox.push(item) === 1) dirty.add(this as Queue<unknown>)
    if (this.outbox.length >= BATCH) void this.flush()
    else if (!this.flushQueued) {
      this.flushQueued = true
      setImmediate(() => { this.flushQueued = false; void this.flush() })
    }
    return Promise.resolve()
  }

  /** Send buffered puts now; resolves when the queue's home has them. */
  flush(): Promise<void> {
    if (!this.outbox.length) return this.lastFlush
    const items = this.outbox
    this.outbox = []
    dirty.delete(this as Queue<unknown>)
    this.lastFlush = (this.transport.call('put', [items]) as Promise<void>).catch((err: Error) => {
      if (err instanceof ClosedError) this.closedSeen = true
      else process.emitWarning(`troupe: ${items.length} queued item(s) could not be delivered: ${err.message}`)
    })
    return this.lastFlush
  }

  /** Remove and return an item, waiting while empty (Empty after `timeout`; ClosedError once closed and drained). */
  get(opts: QueueWaitOptions = {}): Promise<T> {
    if (this.core) return this.core.get(opts)
    return this.call('get', [opts.timeout], opts.signal)
  }

  /** Remove and return an item or reject with Empty at once. */
  getNowait(): Promise<T> {
    return this.call('getNowait', [])
  }

  /** Number of items now (a snapshot: others may be putting and getting). */
  qsize(): Promise<number> {
    return this.call('qsize', [])
  }

  /** Whether it is empty now. */
  empty(): Promise<boolean> {
    return this.call('empty', [])
  }

  /** Whether a bounded queue is full now. */
  full(): Promise<boolean> {
    return this.call('full', [])
  }

  /** No more puts from anyone: waiting putters fail, consumers drain what is left and then end. */
  async close(): Promise<void> {
    await this.flush()
    await this.call('close', [])
  }

  /** Iterate until the queue is closed and drained. A consumer in another place prefetches `prefetch` items. */
  async *iterate(opts: IterateOptions = {}): AsyncGenerator<T, void, undefined> {
    if (!this.transport.remote) {
      for (;;) {
        let v: T
        try { v = await this.get() } catch (err) { if (err instanceof ClosedError) return; throw err }
        yield v
      }
    }
    const prefetch = Math.max(1, opts.prefetch ?? 256)
    let batch: T[] = []
    let i = 0
    let inflight: Promise<TakeResult<T>> | undefined
    let ctl: AbortController | undefined
    const ask = () => { ctl = new AbortController(); inflight = this.call<TakeResult<T>>('take', [prefetch], ctl.signal) }
    try {
      ask()
      for (;;) {
        const r = await inflight!
        inflight = undefined
        if (r.done) return
        batch = r.items
        i = 0
        // Ask for the next batch now, so it travels while this one is consumed.
        ask()
        while (i < batch.length) {
          const v = batch[i]!
          batch[i++] = undefined as T
          yield v
        }
      }
    } finally {
      // Stopped early: give back what was fetched but not consumed, so no item is lost.
      const rest = batch.slice(i)
      if (inflight) {
        ctl!.abort()
        try { rest.push(...(await inflight).items) } catch { /* home gone: nothing to return */ }
      }
      if (rest.length) await this.call('unget', [rest]).catch(() => {})
    }
  }

  /** `for await (const item of queue)`: iterate with the default prefetch. */
  [Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    return this.iterate()
  }

  /** The descriptor other places revive this handle from. */
  [portable](): { type: string; data: QueueDescriptor } {
    return { type: 'troupe.Queue', data: this.descriptor() }
  }

  /** @internal Serve the state (once) and describe this queue. */
  descriptor(): QueueDescriptor {
    if (!this.address) {
      const core = this.core!
      const served = serve((method, args, ctx) => core.handle(method, args, ctx))
      this.address = served.address
      cores.set(served.address.id, { core: core as QueueCore<unknown>, handle: this as Queue<unknown> })
    }
    this.shared = true
    return { ...this.address, kind: this.kind(), maxsize: this.maxsize, module: import.meta.url }
  }

  /** @internal Resolve true once an item is there or the queue closed, false after `timeout` ms (Connection.poll). */
  pollItems(timeout: number): Promise<boolean> {
    return this.call('poll', [timeout])
  }

  /** @internal Tell the home that this place writes the queue as a pipe end. */
  holdAsWriter(): Promise<void> {
    return this.call('hold', [])
  }

  /** @internal The home state (pipes watch its writers). */
  homeCore(): QueueCore<T> | undefined {
    return this.core
  }
}

/** Python's `SimpleQueue`: an unbounded queue. */
export class SimpleQueue<T> extends Queue<T> {
  /** An unbounded queue. */
  constructor() {
    super(0)
  }

  protected override kind(): QueueKind {
    return 'simple'
  }
}

/**
 * A Queue that counts unfinished items: every `put` adds one, every
 * `taskDone()` removes one, and `join()` resolves when none are left
 * (Python's `JoinableQueue`).
 */
export class JoinableQueue<T> extends Queue<T> {
  private doneWaiters: { resolve(): void; reject(e: unknown): void }[] = []
  private doneQueued = false

  protected override kind(): QueueKind {
    return 'joinable'
  }

  /** Mark one item as processed; rejects with TaskDoneError when called more times than items were put. */
  taskDone(): Promise<void> {
    if (!this.transport.remote) return this.call<number>('taskDone', [1]).then(() => {})
    // Remote: count them and send one request per turn; the reply says how many applied, in call order.
    return new Promise<void>((resolve, reject) => {
      this.doneWaiters.push({ resolve, reject })
      dirty.add(this as Queue<unknown>)
      if (this.doneWaiters.length >= BATCH) this.sendDone()
      else if (!this.doneQueued) { this.doneQueued = true; setImmediate(() => this.sendDone()) }
    })
  }

  /** Send buffered puts and taskDone counts now. */
  override flush(): Promise<void> {
    const f = super.flush()
    if (this.doneWaiters.length) this.sendDone()
    return f
  }

  private sendDone(): void {
    this.doneQueued = false
    dirty.delete(this as Queue<unknown>)
    const waiters = this.doneWaiters
    this.doneWaiters = []
    if (!waiters.length) return
    this.call<number>('taskDone', [waiters.length]).then((applied) => {
      waiters.forEach((w, k) => k < applied ? w.resolve() : w.reject(new TaskDoneError('taskDone() called more times than there were items put')))
    }, (err) => { for (const w of waiters) w.reject(err) })
  }

  /** Resolve once every item put so far has been marked done with `taskDone()`. */
  async join(opts: { signal?: AbortSignal } = {}): Promise<void> {
    await this.flush()
    if (this.doneWaiters.length) this.sendDone()
    await this.call('join', [], opts.signal)
  }
}

const classes: Record<QueueKind, new () => Queue<unknown>> = { queue: Queue, simple: SimpleQueue, joinable: JoinableQueue }

/** Rebuild a queue handle from its descriptor: the original object in its home, a remote handle elsewhere. */
export function reviveQueue<T>(desc: QueueDescriptor): Queue<T> {
  if (desc.place === placeAddress()) {
    const home = cores.get(desc.id)
    if (home) return home.handle as Queue<T>
  }
  attaching = { transport: remoteTransport(connect(desc)), desc }
  return new classes[desc.kind]() as Queue<T>
}

registerPortable('troupe.Queue', (data: QueueDescriptor) => reviveQueue(data))
