/**
 * What runs inside every pool worker (thread or child process). It loads the
 * user's functions by id, runs tasks one at a time in the order they were
 * sent, and reports results in batches. Because tasks run in order, a result
 * batch needs no task ids: the main thread pairs the n-th value with the n-th
 * task it sent.
 */
import { performance } from 'node:perf_hooks'
import { serialize } from 'node:v8'
import { HotChild, load, placeLabel, type Boot, type Link } from '../process/index.js'
import { LOOSE_STRING, approxBytes, packForThread, toWireError, unmarshal } from '../codec/index.js'
import { UnsendableValueError } from '../errors.js'
import {
  RUN, DEF, STOP, DONE, STARTED, INIT_FAILED, READY, MODE_APPLY, MODE_MASK, MODE_STARMAP, FLAG_REPORT_START,
  FLAG_PORTABLES, FN_SHIFT, SLOT_STARTED, SLOT_RUNNING, type WorkerBootData,
} from './protocol.js'

type Fn = (...args: unknown[]) => unknown
interface FnSlot { fn?: Fn; loading?: Promise<void>; error?: unknown }

// Flush results at least this often so a long batch streams back instead of arriving all at the end.
const FLUSH_EVERY = 256
const FLUSH_AFTER_MS = 2
// ... and once they hold this many bytes (approxBytes): a message of hundreds of large strings is
// deserialized as one burst that outlives the young generation and costs the main thread twice.
const FLUSH_BYTES = 256 << 10
// Tasks taken straight from Atomics.wait before the event loop gets a turn.
const IDLE_TURNS = 64

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function'
}

/** The pool worker runtime, started by the pool through Endpoint (`boot.data` is WorkerBootData). */
export async function poolWorker(boot: Boot): Promise<void> {
  const runtime = new WorkerRuntime(boot.data as WorkerBootData, boot.link)
  await runtime.start()
}

class WorkerRuntime {
  private readonly fns: FnSlot[] = []
  private readonly batches: unknown[][] = []
  private batch: unknown[] | null = null
  private cursor = 0
  private pumping = false
  /** Waiting for an async task, a function's module, or the initializer. */
  private waiting = true
  private stopping = false
  private values: unknown[] = []
  private errors: number[] = []
  private times: number[] = []
  /** Approximate bytes of `values`. */
  private valueBytes = 0
  /** Whether some value in `values` may hold a string of LOOSE_STRING or more. */
  private large = false
  /** Buffers of packed results in `values`, moved rather than copied. */
  private transfer: ArrayBuffer[] | undefined = undefined
  private lastFlush = performance.now()
  private readonly state: Int32Array | undefined
  /** Threads: the task/result channel (process/hot-channel.ts). */
  private readonly hot: HotChild | undefined
  private readonly origin = placeLabel()
  private idleScheduled = false
  private inIdleWait = false

  constructor(private readonly data: WorkerBootData, private readonly link: Link) {
    this.hot = data.hot ? new HotChild(data.hot) : undefined
    this.state = this.hot?.state
    for (const [id, url, name] of data.defs) this.define(id, url, name)
    const onMessage = (msg: unknown[]) => this.receive(msg)
    if (this.hot) this.hot.onMessage(onMessage)
    else { link.onMessage(onMessage); link.send([READY]) }
    // A task that calls process.exit() still lets the results finished before it reach the pool.
    process.on('exit', () => this.flush())
  }

  async start(): Promise<void> {
    const { initializer, initargs } = this.data
    if (initializer) {
      try {
        const init = await load<Fn>(initializer)
        await init(...(initargs ?? []))
      } catch (err) {
        this.send([INIT_FAILED, toWireError(err, this.origin)])
        // Let the message leave before the thread/process ends.
        setTimeout(() => process.exit(1), 50)
        return
      }
    }
    this.waiting = false
    this.pump()
  }

  private send(msg: unknown[], transfer?: ArrayBuffer[]): void {
    if (this.hot) this.hot.send(msg, transfer)
    else this.link.send(msg)
  }

  private receive(msg: unknown[]): void {
    switch (msg[0]) {
      case RUN: this.batches.push(msg); break
      case DEF: this.define(msg[1] as number, msg[2] as string, msg[3] as string); break
      case STOP: this.stopping = true; break
    }
    if (!this.pumping && !this.waiting) this.pump()
  }

  private define(id: number, url: string, name: string): void {
    const slot: FnSlot = {}
    slot.loading = load<Fn>({ url, name }).then(
      (fn) => { slot.fn = fn; slot.loading = undefined },
      (err) => { slot.error = err; slot.loading = undefined })
    this.fns[id] = slot
  }

  /** Take every message already waiting on the port without going through the event loop. */
  private drainPort(): void {
    if (!this.hot) return
    for (let m = this.hot.take(); m !== undefined; m = this.hot.take()) this.receive(m as unknown[])
  }

  /** Run queued tasks until none are left or one has to be awaited. */
  private pump(): void {
    this.pumping = true
    try {
      while (!this.waiting) {
        let batch = this.batch
        if (batch === null || this.cursor >= batch.length) {
          if (this.batches.length === 0) this.drainPort()
          batch = this.batch = this.batches.shift() ?? null
          this.cursor = 1
          if (batch === null) break
          continue
        }
        const code = batch[this.cursor] as number
        const argc = batch[this.cursor + 1] as number
        const slot = this.fns[code >>> FN_SHIFT]
        if (slot?.loading) {
          this.waiting = true
          void slot.loading.then(() => this.resume())
          break
        }
        const start = this.cursor + 2
        this.cursor = start + argc
        this.run(slot, code, batch, start, argc)
        // The batch no longer holds this task's arguments: a large one can die young.
        for (let i = start; i < start + argc; i++) batch[i] = undefined
      }
    } finally {
      this.pumping = false
    }
    if (this.waiting) return
    this.flush()
    if (this.stopping) process.exit(0)
    this.idleSoon()
  }

  private resume(): void {
    this.waiting = false
    this.pump()
  }

  private run(slot: FnSlot | undefined, code: number, batch: unknown[], start: number, argc: number): void {
    if (code & FLAG_REPORT_START) {
      this.flush()
      this.send([STARTED])
    }
    const state = this.state
    if (state) { state[SLOT_STARTED] = (state[SLOT_STARTED]! + 1) | 0; state[SLOT_RUNNING] = 1 }
    const t0 = performance.now()
    let result: unknown
    try {
      if (!slot?.fn) throw slot?.error ?? new Error(`function #${code >>> FN_SHIFT} was never defined in this worker`)
      const fn = slot.fn
      const mode = code & MODE_MASK
      if (mode === MODE_APPLY) {
        if (code & FLAG_PORTABLES) result = fn(...batch.slice(start, start + argc).map((a) => unmarshal(a)))
        // Direct calls for the common arities: no arguments array on the hot path.
        else if (argc === 1) result = fn(batch[start])
        else if (argc === 2) result = fn(batch[start], batch[start + 1])
        else if (argc === 0) result = fn()
        else if (argc === 3) result = fn(batch[start], batch[start + 1], batch[start + 2])
        else result = fn(...batch.slice(start, start + argc))
      } else {
        // A Float64Array when the chunk was all numbers (FLAG_NUMBERS): indexed the same way.
        let items = batch[start] as ArrayLike<unknown>
        if (code & FLAG_PORTABLES) items = unmarshal(items) as unknown[]
        result = runChunk(fn, items, mode === MODE_STARMAP)
      }
    } catch (err) {
      this.finish(t0, false, err, code)
      return
    }
    if (isThenable(result)) {
      // Send what is finished before waiting, so an async task does not hold back earlier results.
      this.flush()
      this.waiting = true
      result.then(
        (v) => { this.finish(t0, true, v, code); this.resume() },
        (e) => { this.finish(t0, false, e, code); this.resume() })
      return
    }
    this.finish(t0, true, result, code)
  }

  private finish(t0: number, ok: boolean, value: unknown, code: number): void {
    const t1 = performance.now()
    if (this.state) this.state[SLOT_RUNNING] = 0
    if (!ok) { this.errors.push(this.values.length); value = toWireError(value, this.origin) }
    else if ((code & MODE_MASK) !== MODE_APPLY) {
      const packed = packNumbers(value as unknown[])
      if (packed) { value = packed; (this.transfer ??= []).push(packed.buffer as ArrayBuffer) }
    }
    this.values.push(value)
    const bytes = approxBytes(value)
    this.valueBytes += bytes
    if (bytes >= LOOSE_STRING) this.large = true
    this.times.push(performance.timeOrigin + t0, t1 - t0)
    // A chunk of a map is a big result on its own: send it now so the main thread copies it out while we go on.
    if (this.data.flushEach || (code & MODE_MASK) !== MODE_APPLY || this.values.length >= FLUSH_EVERY || this.valueBytes >= FLUSH_BYTES ||
        t1 - this.lastFlush > FLUSH_AFTER_MS) this.flush()
  }

  /**
   * Send the finished results as one message. From a thread, results holding large strings go packed
   * (codec/packed.ts): the strings as raw bytes in a buffer that moves, which the main thread turns back
   * into strings nothing else holds. (Over a process link packing would only add copies.)
   */
  private flush(): void {
    if (this.values.length === 0) return
    const { msg: values, transfer } = packForThread(this.values, this.large && this.hot !== undefined)
    if (transfer) (this.transfer ??= []).push(...transfer)
    const msg = [DONE, values, this.errors, this.times]
    try {
      this.send(msg, this.transfer)
    } catch {
      // Some result cannot be cloned: find which, and send an error in its place.
      for (let i = 0; i < this.values.length; i++) {
        if (this.errors.includes(i)) continue
        try { serialize(this.values[i]) } catch (err) {
          const e = new UnsendableValueError(`the task's result cannot be sent back to the pool: ${(err as Error).message}`)
          e.path = 'result'
          this.values[i] = toWireError(e, this.origin)
          this.errors.push(i)
        }
      }
      this.errors.sort((a, b) => a - b)
      this.send([DONE, this.values, this.errors, this.times], this.transfer)
    }
    this.transfer = undefined
    this.large = false
    this.values = []
    this.errors = []
    this.times = []
    this.valueBytes = 0
    this.lastFlush = performance.now()
  }

  private idleSoon(): void {
    if (!this.hot || this.idleScheduled || this.inIdleWait) return
    this.idleScheduled = true
    setImmediate(() => { this.idleScheduled = false; this.idleWait() })
  }

  /**
   * The latency trick (threads only): once the event loop has had a turn,
   * block on the hot channel's counter instead of sleeping in the event loop
   * (process/hot-channel.ts), so the next task is read a few microseconds
   * after it was sent, with no event-loop wake-up. Every IDLE_TURNS tasks,
   * and after `idleSpinMs` without work, the worker goes back to its event
   * loop so timers and I/O started by tasks still run; there the channel's
   * message listener takes over.
   */
  private idleWait(): void {
    const hot = this.hot!
    this.inIdleWait = true
    try {
      for (let turn = 0; turn < IDLE_TURNS; turn++) {
        if (this.waiting || this.pumping || this.stopping) return
        if (this.batches.length === 0 && (this.batch === null || this.cursor >= this.batch.length)) {
          if (!hot.waitForPost(this.data.idleSpinMs)) return
          this.drainPort()
        }
        if (this.waiting || this.stopping) return
        this.pump()
      }
    } finally {
      this.inIdleWait = false
    }
    this.idleSoon()
  }
}

const PACK_MIN_ITEMS = 64

/** A chunk's results as a Float64Array when all are numbers (the main thread copies them out). */
function packNumbers(values: unknown[]): Float64Array | undefined {
  if (!Array.isArray(values) || values.length < PACK_MIN_ITEMS) return undefined
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') return undefined
  return Float64Array.from(values as number[])
}

function runChunk(fn: Fn, items: ArrayLike<unknown>, star: boolean): unknown {
  const out = new Array<unknown>(items.length)
  for (let i = 0; i < items.length; i++) {
    const r = star ? fn(...(items[i] as unknown[])) : fn(items[i])
    if (isThenable(r)) return finishChunk(fn, items, star, out, i, r)
    out[i] = r
  }
  return out
}

async function finishChunk(fn: Fn, items: ArrayLike<unknown>, star: boolean, out: unknown[], i: number, pending: PromiseLike<unknown>): Promise<unknown[]> {
  out[i] = await pending
  for (let j = i + 1; j < items.length; j++) out[j] = await (star ? fn(...(items[j] as unknown[])) : fn(items[j]))
  return out
}
