/**
 * Queue, SimpleQueue and JoinableQueue: one implementation whatever place a
 * handle is in. The queue's state lives in the place that created it (a
 * QueueCore); a handle elsewhere reaches it through the router (a transport
 * passed in), so a queue passed to a thread, a child process or a grandchild
 * works from every side.
 *
 * Hot path, remote side: puts are buffered and sent as one v8-serialized
 * batch per event-loop turn (or every BATCH items or BATCH_BYTES) that the home forwards
 * without rebuilding (packed.ts); a bounded queue's producer first reserves
 * slots in batches (credits). `for await` consumers prefetch a batch with one
 * request while they consume the previous one. A thread-to-thread item costs
 * two messages per batch, not two per item.
 */
import { approxBytes, marshal, portable, registerPortable, type Portable } from '../codec/index.js'
import { ClosedError, Full, TaskDoneError } from '../errors.js'
import { abortError, armWait, optionsError } from '../timers.js'
import { serve, connect, placeAddress, beforePlaceExit, onPlaceDown, isUnder, type ObjectAddress, type Remote } from '../process/index.js'
import { QueueCore } from './queue-core.js'
import { LOOSE_STRING, movableBuffer, pack } from '../codec/index.js'
import { PrefetchIterator } from './prefetch.js'

/** Options of a blocking queue call. */
export interface QueueWaitOptions {
  /** `false`: do not wait (Python's `block=False`): `get` rejects with Empty and `put` with Full at once, as `getNowait`/`putNowait`. Default true. */
  block?: boolean
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
  call(method: string, args: unknown[], signal?: AbortSignal, marshalled?: { portables: boolean }, transfer?: ArrayBuffer[]): Promise<unknown>
}

/** An item as checked by marshal when it was put, with whether it holds references. */
interface Checked { value: unknown; portables: boolean }

/** Marshal an item as it is put (so an unsendable one fails here, naming its path); flat items need no walk. */
function check(item: unknown): Checked {
  if (isFlat(item)) return { value: item, portables: false }
  return marshal(item, 'item')
}

interface CreditWaiter { checked: Checked; resolve(): void; reject(e: unknown): void; cleanup(): void }

const never = new AbortController().signal
const RESOLVED = Promise.resolve()

/** Primitives and plain objects of primitives need no marshal walk (the common small item: one check, no allocation). */
function isFlat(v: unknown): boolean {
  const t = typeof v
  if (t !== 'object') return t !== 'function' && t !== 'symbol'
  if (v === null) return true
  if (Object.getPrototypeOf(v) !== Object.prototype) return false
  for (const k in v as object) {
    const x = (v as Record<string, unknown>)[k]
    const tx = typeof x
    if (tx === 'object' ? x !== null : tx === 'function' || tx === 'symbol') return false
  }
  return true
}

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
  return { remote: true, call: (method, args, signal, marshalled, transfer) => remote.request(method, args, { signal, marshalled, transfer }) }
}

// Items buffered per handle before a batch is sent without waiting for the turn to end...
const BATCH = 1024
// ... or bytes (approxBytes): a batch of a thousand 64 KiB strings is unpacked in one burst that
// outlives the consumer's young generation (copied and promoted), ten times the cost of the copy; 2 MiB
// (32 such strings) halves the home's and the GC threads' work per item against 256 KiB (bench queue
// "thread strings": 34-44 cpu-µs per item against 57-66, 1 MiB in between).
const BATCH_BYTES = 2 << 20
// A lone item this large is packed too: moving its bytes beats the home rebuilding it and cloning it again.
const PACK_ONE_BYTES = 8 << 10
// A batch this large is sent paced (the home answers once it holds few packed bytes), and an unbounded put waits
// while PACE_WINDOW bytes of them are unanswered: a producer far ahead of its consumers makes every batch in
// memory never touched before (its page faults cost the producer twice the copy) and fills the home's heap.
const PACE_MIN = 64 << 10
const PACE_WINDOW = 2 * BATCH_BYTES
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
  // Items checked and converted by marshal as they were put, sent as they are.
  private outbox: unknown[] = []
  private outboxBytes = 0
  private outboxPortables = false
  // Some buffered item is large enough to hold a string pack() takes out (most batches of small items are not walked for one).
  private outboxLarge = false
  private flushQueued = false
  // Bytes of paced batches not answered yet, and puts waiting for them to drop below PACE_WINDOW.
  private pacedBytes = 0
  private paceWaiters: (() => void)[] = []
  private lastFlush: Promise<void> = Promise.resolve()
  private closedSeen = false
  // Bounded, remote: slots reserved at the home and puts waiting for one.
  private credits = 0
  private creditWaiters: CreditWaiter[] = []
  private reserving = false
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

  /** Put an item, waiting while a bounded queue is full (Full after `timeout`); from another place, large items wait a moment while the home holds several MiB of them. */
  put(item: T, opts: QueueWaitOptions = {}): Promise<void> {
    const bad = optionsError('Queue.put()', opts, '{ block?, timeout?, signal? }', 2)
    if (bad) return Promise.reject(bad)
    if (opts.block === false) return this.putNowait(item)
    if (this.core) {
      if (this.shared) { try { marshal(item, 'item') } catch (err) { return Promise.reject(err) } }
      return this.core.put([item], opts)
    }
    if (this.closedSeen) return Promise.reject(new ClosedError('put() on a closed queue'))
    // The hot path: a flat item needs neither a marshal walk nor an allocation.
    if (this.maxsize === 0 && isFlat(item)) return this.buffer(item, false)
    let checked: Checked
    try { checked = check(item) } catch (err) { return Promise.reject(err) }
    if (this.maxsize === 0) return this.buffer(checked.value, checked.portables)
    if (this.credits > 0 && !this.creditWaiters.length) { this.credits--; return this.buffer(checked.value, checked.portables) }
    return this.waitForCredit(checked, opts)
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
    if (this.closedSeen) return Promise.reject(new ClosedError('putNowait() on a closed queue'))
    let checked: Checked
    try { checked = check(item) } catch (err) { return Promise.reject(err) }
    if (this.maxsize === 0) return this.buffer(checked.value, checked.portables)
    if (this.credits > 0 && !this.creditWaiters.length) { this.credits--; return this.buffer(checked.value, checked.portables) }
    return this.call('putNowait', [item])
  }

  /**
   * Remote: buffer a checked item; it leaves with the others in one message
   * per event-loop turn (or every BATCH items). An unbounded put resolves
   * here, as Python's feeder thread takes it, except while PACE_WINDOW bytes of
   * large batches wait for the home's answer (as Python's feeder waits on a full
   * pipe, but here the put yields, since this thread is its own feeder); a
   * bounded one got here holding a reserved slot (credit).
   */
  private buffer(value: unknown, portables: boolean): Promise<void> {
    if (portables) this.outboxPortables = true
    if (this.outbox.push(value) === 1) dirty.add(this as Queue<unknown>)
    const bytes = approxBytes(value)
    this.outboxBytes += bytes
    if (bytes >= LOOSE_STRING) this.outboxLarge = true
    if (this.outbox.length < BATCH && this.outboxBytes < BATCH_BYTES) { this.flushSoon(); return RESOLVED }
    void this.send(true)
    return this.pacedBytes < PACE_WINDOW ? RESOLVED : new Promise<void>((resolve) => { this.paceWaiters.push(resolve) })
  }

  private flushSoon(): void {
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => { this.flushQueued = false; void this.flush() })
  }

  /**
   * Remote, bounded: wait for a slot reserved at the home. Slots are reserved
   * in batches (credits), so a producer loop pays one round trip per batch,
   * not per item; unused credits go back at the end of the turn.
   */
  private waitForCredit(checked: Checked, opts: QueueWaitOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w: CreditWaiter = { checked, resolve, reject, cleanup: () => {} }
      const drop = (err: Error) => { this.creditWaiters = this.creditWaiters.filter((x) => x !== w); w.cleanup(); reject(err) }
      w.cleanup = armWait(opts, () => drop(new Full(`the queue stayed full (maxsize ${this.maxsize}) for ${opts.timeout} ms`)),
        (r) => drop(abortError(r, 'put() was aborted')))
      this.creditWaiters.push(w)
      this.requestCredits()
    })
  }

  private requestCredits(): void {
    if (this.reserving || !this.creditWaiters.length) return
    this.reserving = true
    const want = Math.max(this.creditWaiters.length, Math.min(256, Math.floor(this.maxsize / 4)))
    this.transport.call('reserve', [want]).then((granted) => {
      this.reserving = false
      this.credits += granted as number
      while (this.credits > 0 && this.creditWaiters.length) {
        const w = this.creditWaiters.shift()!
        w.cleanup()
        this.credits--
        void this.buffer(w.checked.value, w.checked.portables)
        w.resolve()
      }
      if (this.creditWaiters.length) this.requestCredits()
      else this.flushSoon()
    }, (err: Error) => {
      this.reserving = false
      if (err instanceof ClosedError) this.closedSeen = true
      for (const w of this.creditWaiters.splice(0)) { w.cleanup(); w.reject(err) }
    })
  }

  /** Send buffered puts now; resolves when the queue's home has them. */
  flush(): Promise<void> {
    return this.send(false)
  }

  /** Send the buffered puts; `paced`: a large batch is answered only once the home holds few packed bytes. */
  private send(paced: boolean): Promise<void> {
    const bounded = this.maxsize > 0 && !this.core
    // Credits nobody waits for go back, so other producers are not held up by slots this one does not use.
    if (bounded && this.credits > 0 && !this.creditWaiters.length) {
      const n = this.credits
      this.credits = 0
      this.transport.call('unreserve', [n]).catch(() => {})
    }
    if (!this.outbox.length) return this.lastFlush
    const items = this.outbox
    const bytes = this.outboxBytes
    const large = this.outboxLarge
    const portables = this.outboxPortables
    this.outbox = []
    this.outboxBytes = 0
    this.outboxPortables = false
    this.outboxLarge = false
    dirty.delete(this as Queue<unknown>)
    // One serialized batch: the home stores and forwards the bytes, the consumer's place unpacks them.
    // Batches holding references stay unpacked, so every place on the way revives them (importing their modules).
    // Its bytes are this batch's alone, so a thread link moves them rather than copying them.
    const packed = (items.length > 1 || bytes >= PACK_ONE_BYTES) && !portables ? pack(items, false, large) : undefined
    const payload = packed ? [packed] : items
    const moved = packed && movableBuffer(packed)
    const pace = paced && !bounded && packed && bytes >= PACE_MIN ? bytes : 0
    const method = bounded ? 'putReserved' : pace ? 'putPaced' : 'put'
    this.pacedBytes += pace
    const sent = this.transport.call(method, [payload], undefined, { portables: !packed && portables }, moved ? [moved] : undefined) as Promise<void>
    this.lastFlush = sent.catch((err: Error) => {
      if (err instanceof ClosedError) this.closedSeen = true
      else process.emitWarning(`troupe: ${items.length} queued item(s) could not be delivered: ${err.message}`)
    })
    if (pace) void this.lastFlush.then(() => this.answered(pace))
    return this.lastFlush
  }

  /** A paced batch was answered: puts waiting for the window go on. */
  private answered(bytes: number): void {
    this.pacedBytes -= bytes
    if (this.pacedBytes < PACE_WINDOW && this.paceWaiters.length) for (const resolve of this.paceWaiters.splice(0)) resolve()
  }

  /** Remove and return an item, waiting while empty (Empty after `timeout`; ClosedError once closed and drained). */
  get(opts: QueueWaitOptions = {}): Promise<T> {
    const bad = optionsError('Queue.get()', opts, '{ block?, timeout?, signal? }')
    if (bad) return Promise.reject(bad)
    if (opts.block === false) return this.getNowait()
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

  /**
   * No more puts from anyone: waiting putters fail, consumers drain what is
   * left and then end. Takes effect in call order: puts made before it land,
   * puts made after it (even before it resolves) reject with ClosedError.
   */
  close(): Promise<void> {
    // No await before the close is sent: the transport keeps order, and awaiting would let later puts overtake it.
    const flushed = this.flush()
    const closing = this.call<void>('close', [])
    if (!this.core) this.closedSeen = true
    return Promise.all([flushed, closing]).then(() => {})
  }

  /** Iterate until the queue is closed and drained. A consumer in another place prefetches `prefetch` items. */
  iterate(opts: IterateOptions = {}): AsyncIterableIterator<T> {
    if (!this.transport.remote) return this.iterateHere()
    return new PrefetchIterator<T>((m, a, sig) => this.call(m, a, sig), Math.max(1, opts.prefetch ?? 256))
  }

  private async *iterateHere(): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let v: T
      try { v = await this.get() } catch (err) { if (err instanceof ClosedError) return; throw err }
      yield v
    }
  }

  /** `for await (const item of queue)`: iterate with the default prefetch. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
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
      // Slots reserved by a place that ended would otherwise stay taken forever.
      if (this.maxsize > 0) onPlaceDown((place) => core.releasePlace((from) => isUnder(from, place)))
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
  join(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const bad = optionsError('JoinableQueue.join()', opts, '{ signal? }')
    if (bad) return Promise.reject(bad)
    // Puts and taskDones made before the join go first, in order (the transport keeps it); nothing is awaited before sending.
    void this.flush()
    if (this.doneWaiters.length) this.sendDone()
    return this.call('join', [], opts.signal)
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
