import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { WAIT_SPINNING, assertNotBootstrapping, locate, type Kind, type ExitInfo, type ModuleRef, type Transferable } from '../process/index.js'
import { approxBytes, fromWireError, isPacked, marshal, unpacked, type WireError } from '../codec/index.js'
import { Full, TimeoutError, UnsendableValueError, WorkerCrashedError } from '../errors.js'
import { PoolFront, abortError, earlyDeathsError, EARLY_DEATHS_LIMIT, type BaseApplyOptions, type Mode, type PoolCounters, type PoolFunction } from './front.js'
import { MAX_TIMER_MS, armWait, optionsError } from '../timers.js'
import { Deque } from './deque.js'
import { Recent, type Percentiles } from './stats.js'
import { Task, QUEUED, SENT, RUNNING, DONE, type FnEntry } from './task.js'
import { WorkerSlot } from './worker-slot.js'
import {
  RUN, DEF, DONE as MSG_DONE, STARTED, INIT_FAILED, MODE_APPLY, MODE_MAP, MODE_MASK,
  FLAG_REPORT_START, FLAG_PORTABLES, FLAG_NUMBERS, FN_SHIFT,
} from './protocol.js'

/** Options of `new Pool()`. */
export interface PoolOptions {
  /** Number of workers (default `os.availableParallelism()`). */
  workers?: number
  /** Worker threads (default) or child processes. */
  kind?: Kind
  /** An exported function each worker runs once before its first task. */
  initializer?: PoolFunction
  /** Arguments for `initializer`. */
  initargs?: unknown[]
  /** Replace a worker after it has run this many tasks (default: never). */
  maxTasksPerChild?: number
  /** Most tasks waiting for a worker; beyond it new tasks fail with `Full` (default: unbounded). */
  maxQueue?: number
  /** Stop a worker idle this many ms; it comes back when work arrives (default: never). */
  idleTimeout?: number
  /** Run a task again on another worker this many times if its worker dies under it (default 0). */
  retries?: number
  /** Prefix of worker names (default `pool-worker`). */
  name?: string
}

/** Options of `applyAsync`. */
export interface ApplyOptions<R> extends BaseApplyOptions<R>, PoolTaskOptions {}

/** What a Pool task takes beyond the callbacks. */
export interface PoolTaskOptions {
  /** Removes the task if queued; stops its worker (which is replaced) if running. */
  signal?: AbortSignal
  /** Milliseconds from the moment the task starts running; then it fails with TimeoutError and its worker is replaced. */
  timeout?: number
  /** Overrides the pool's `retries` for this task. */
  retries?: number
  /** ArrayBuffers (or ports) inside `args` to move to a worker thread instead of copying; they become unusable here. */
  transfer?: readonly Transferable[]
}

/** One worker in `stats()`. */
export interface WorkerStats {
  id: number
  pid: number
  threadId: number | undefined
  /** Tasks it finished. */
  tasks: number
  /** Tasks it holds now. */
  running: number
  /** Share of its life spent running tasks, 0..1. */
  utilisation: number
}

/** What `pool.stats()` returns. */
export interface PoolStats extends PoolCounters {
  kind: Kind
  /** Waiting for a worker. */
  queued: number
  /** Sent to a worker and not finished. */
  running: number
  perWorker: WorkerStats[]
  /** Run time of recent tasks (chunks, for map), ms. */
  runTime: Percentiles
  /** Time recent tasks waited between submission and start, ms. */
  waitTime: Percentiles
}

// Scheduling knobs. A worker is given about PREFETCH_MS of work ahead (measured from recent
// run times), so it never waits for the main thread yet a slow task cannot hide many others.
const PREFETCH_MS = 2
const MAX_INFLIGHT = 2048
const MAX_BATCH = 512
// Large payloads (approxBytes of the arguments): keep messages to about 256 KiB and each worker's
// backlog to a MiB. A batch of hundreds of 64 KiB strings is deserialized in one burst that
// outlives the worker's young generation: copied, promoted and marked, twice the CPU of the copy.
const BATCH_BYTES = 256 << 10
const INFLIGHT_BYTES = 1 << 20
// A lone task is waited for hot (see schedule()) only while tasks average under this (ms).
const SPIN_FOR_TASKS_UNDER_MS = 0.02

const now = () => performance.timeOrigin + performance.now()
const noop = () => {}
const NO_ARGS: unknown[] = []

// Python's Pool() keywords that are spelled otherwise here (a JavaScript caller's options are not checked by type).
const PYTHON_NAMES: Record<string, string> = { processes: 'workers', maxtasksperchild: 'maxTasksPerChild' }

/**
 * A pool of worker threads (or child processes) running exported functions:
 * Python's `multiprocessing.Pool`, typed. Tasks travel in batches and results
 * come back in batches; a worker that dies fails only the task it was running
 * (or retries it), and is replaced.
 */
export class Pool extends PoolFront<PoolTaskOptions> {
  /** Number of workers the pool keeps. */
  readonly size: number
  /** Threads or child processes. */
  readonly kind: Kind
  private readonly opts: PoolOptions
  private readonly name: string
  private readonly queue = new Deque<Task>()
  private readonly workers: WorkerSlot[] = []
  private readonly fns = new Map<PoolFunction, FnEntry>()
  private readonly located: [number, string, string][] = []
  private nextFnId = 0
  private nextWorkerId = 0
  private initRef: ModuleRef | undefined
  private booted = false
  /** Set when the pool cannot run anything (initializer failed, workers cannot start). */
  private broken: Error | undefined
  protected readonly label = 'the pool'
  /** Tasks submitted and not settled. */
  private outstanding = 0
  /** Queued tasks removed by abort, still in the deque until dispatch skips them. */
  private cancelledInQueue = 0
  private dispatchScheduled = false
  private dispatching = false
  private avgRunMs = -1
  /** Nesting of result handling (a callback may submit a task). */
  private replyDepth = 0
  /** Hot-path spins in a row that saw no reply; at the limit, spinning pauses for a second. */
  /** The lone task whose wait is being timed (its worker's hot channel measures whether running hot pays). */
  private timed: { task: Task; arm: number; since: number } | undefined
  private earlyDeaths = 0
  private completed = 0
  private failed = 0
  private crashes = 0
  private readonly runTimes = new Recent()
  private readonly waitTimes = new Recent()
  private readonly exits = new Set<Promise<ExitInfo>>()
  private drained: (() => void) | undefined

  /** Start a pool; workers start at once (threads by default). */
  constructor(options: PoolOptions = {}) {
    super()
    const bad = optionsError('new Pool()', options, '{ workers?, kind?, initializer?, ... }', 1, `Python's Pool(4) is new Pool({ workers: 4 })`)
    if (bad) throw bad
    for (const [python, ours] of Object.entries(PYTHON_NAMES)) {
      const v = (options as Record<string, unknown>)[python]
      if (v !== undefined) throw new TypeError(`new Pool(): '${python}' is Python's name; here it is '${ours}': new Pool({ ${ours}: ${String(v)} })`)
    }
    assertNotBootstrapping(`a ${options.kind ?? 'thread'} Pool`)
    const workers = options.workers ?? availableParallelism()
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`workers must be a positive integer, got ${workers}`)
    if (options.maxTasksPerChild !== undefined && !(Number.isInteger(options.maxTasksPerChild) && options.maxTasksPerChild >= 1)) {
      throw new RangeError(`maxTasksPerChild must be a positive integer, got ${options.maxTasksPerChild}`)
    }
    if (options.kind !== undefined && options.kind !== 'thread' && options.kind !== 'process') throw new RangeError(`kind must be 'thread' or 'process', got ${String(options.kind)}`)
    this.size = workers
    this.kind = options.kind ?? 'thread'
    this.opts = options
    this.name = options.name ?? 'pool-worker'
    if (options.initializer) {
      locate(options.initializer).then((ref) => { this.initRef = ref; this.boot() }, (err) => this.breakPool(err as Error))
    } else this.boot()
  }

  private boot(): void {
    if (this.terminated) return
    this.booted = true
    // Closed with nothing to do while the initializer was being located: no workers needed.
    if (this.closed && this.outstanding === 0) return this.afterExit()
    for (let i = 0; i < this.size; i++) this.spawn()
    this.dispatch()
  }

  // ---------------------------------------------------------------- submitting

  protected chunkWorkers(): number {
    return this.size
  }

  protected defaultInflight(): number {
    return this.size * 2
  }

  private fnEntry(fn: PoolFunction): FnEntry {
    let entry = this.fns.get(fn)
    if (entry) return entry
    if (typeof fn !== 'function') throw new TypeError(`expected a function to run, got ${typeof fn}`)
    const e: FnEntry = { id: this.nextFnId++, name: fn.name || 'anonymous', pending: true }
    entry = e
    this.fns.set(fn, e)
    locate(fn).then((ref) => {
      e.ref = ref
      e.pending = false
      const def: [number, string, string] = [e.id, ref.url, ref.name]
      this.located.push(def)
      for (const w of this.workers) if (w.alive) w.post([DEF, ...def])
      this.dispatch()
    }, (err: Error) => {
      e.error = err
      e.pending = false
      this.failQueued((t) => t.fn === e, () => err)
      this.dispatch()
    })
    return e
  }

  protected submit<R>(fn: PoolFunction, mode: Mode, args: unknown[], o: ApplyOptions<R> | undefined): Task<R> {
    const entry = this.fnEntry(fn)
    let code = mode
    let bytes = 0
    let error: Error | undefined = entry.error ?? this.broken
    let packed: Float64Array | undefined
    if (!error && mode === MODE_MAP && (packed = packNumbers(args[0] as unknown[]))) {
      args = [packed]
      code |= FLAG_NUMBERS
    } else if (!error) {
      try {
        for (let i = 0; i < args.length; i++) {
          const a = args[i]
          if (ArrayBuffer.isView(a)) { bytes += a.byteLength; continue }
          if (a !== null && typeof a === 'object' || typeof a === 'function' || typeof a === 'symbol') {
            const m = marshal(a, mode === MODE_APPLY ? `args[${i}]` : 'items')
            if (m.portables) { args = args.slice(); args[i] = m.value; code |= FLAG_PORTABLES }
          }
          bytes += approxBytes(a)
        }
      } catch (err) { error = err as Error }
    }
    const timeout = o?.timeout
    if (timeout !== undefined || o?.signal) code |= FLAG_REPORT_START
    const retries = o?.retries ?? this.opts.retries ?? 0
    // The packed array is ours alone, so it can move instead of being copied.
    const transfer: readonly Transferable[] | undefined = this.kind !== 'thread' ? undefined : packed ? [packed.buffer as ArrayBuffer] : o?.transfer
    const extras = timeout !== undefined || o?.signal || retries > 0 || transfer
      ? { timeout, signal: o?.signal, retriesLeft: retries, transfer }
      : undefined
    const task = new Task<R>(entry, code, args, now(), bytes, extras, o?.callback, o?.errorCallback)
    if (!error && o?.signal?.aborted) error = abortError(o.signal)
    if (!error && this.opts.maxQueue !== undefined && this.queue.length - this.cancelledInQueue >= this.opts.maxQueue) {
      error = new Full(`the pool's queue holds maxQueue=${this.opts.maxQueue} tasks already`)
    }
    const t = task as Task
    this.outstanding++
    if (this.outstanding === 1) this.refAll()
    if (error) { this.finish(t, false, error); return task }
    const x = t.extras
    if (x?.signal) x.disarmSignal = armWait({ signal: x.signal }, noop, () => this.abort(t))
    this.queue.push(t)
    this.schedule(t, o)
    return task
  }

  // ---------------------------------------------------------------- scheduling

  private schedule(t: Task, o: ApplyOptions<any> | undefined): void {
    // Hot path for one task at a time: a lone task goes out now, to an idle worker, instead of
    // after a microtask. (Without an idle worker it waits, so a burst is shared out as a whole.)
    if (this.queue.length === 1 && !this.dispatching && this.hasIdleWorker()) {
      this.dispatch()
      // Tiny tasks one at a time: wait a few microseconds for the answer right here, rather than
      // sleep in the event loop and pay the wake-up (tens of µs on an idle machine or VM). Never
      // while handling results (it would reorder them), and never with callbacks (they would run
      // before applyAsync returns).
      // Whether it pays is measured: some of these waits spin and some sleep, and the policy keeps
      // the faster way (an idle core makes the spin win; a busy machine makes it lose).
      const w = t.worker
      if (w && this.kind === 'thread' && this.replyDepth === 0 && !o?.callback && !o?.errorCallback && t.extras === undefined &&
          this.avgRunMs >= 0 && this.avgRunMs < SPIN_FOR_TASKS_UNDER_MS && (this.timed === undefined || this.timed.task.state === DONE)) {
        const arm = w.beginWait()
        this.timed = { task: t, arm, since: performance.now() }
        if (arm === WAIT_SPINNING) w.spinForReply()
      }
      return
    }
    if (this.dispatchScheduled) return
    this.dispatchScheduled = true
    queueMicrotask(() => { this.dispatchScheduled = false; this.dispatch() })
  }

  private hasIdleWorker(): boolean {
    for (const w of this.workers) if (w.inflight.length === 0 && w.accepting) return true
    return false
  }

  private capacity(): number {
    if (this.avgRunMs < 0) return 1
    return Math.max(1, Math.min(MAX_INFLIGHT, Math.floor(PREFETCH_MS / Math.max(this.avgRunMs, 1e-4))))
  }

  private dispatch(): void {
    if (this.dispatching || !this.booted || this.terminated) return
    this.dispatching = true
    try {
      this.skipCancelled()
      if (this.queue.length === 0) return
      const accepting = this.topUp()
      const n = this.workers.length
      const cap = this.capacity()
      // Each worker's part of this burst, fixed before any is sent so the last worker gets as much as the first.
      const share = Math.max(1, Math.ceil((this.queue.length - this.cancelledInQueue) / accepting))
      // Least loaded workers first, ties to the first one: a lone task goes to the same warm thread
      // each time, and each worker gets only its share of a burst.
      const order: WorkerSlot[] = []
      for (let k = 0; k < n; k++) {
        const w = this.workers[k]!
        if (w.accepting && !w.exclusive && w.alive) order.push(w)
      }
      // Stable sort: least loaded first, ties in worker order.
      if (order.length > 1) order.sort((a, b) => a.inflight.length - b.inflight.length)
      const budgets = order.map((w) => this.budget(w, cap, share))
      // One batch per worker per round, so every worker starts early instead of waiting while the
      // first one's whole share is serialized.
      for (let progress = true; progress && this.queue.length > 0;) {
        progress = false
        for (let i = 0; i < order.length; i++) {
          const w = order[i]!
          if (budgets[i]! <= 0 || !w.accepting || w.exclusive) continue
          const sent = this.sendBatch(w, Math.min(budgets[i]!, MAX_BATCH))
          budgets[i] = sent === 0 ? 0 : budgets[i]! - sent
          if (sent > 0) progress = true
        }
      }
    } finally {
      this.dispatching = false
    }
  }

  private skipCancelled(): void {
    while (this.queue.length > 0 && this.queue.peek()!.state === DONE) { this.queue.shift(); this.cancelledInQueue-- }
  }

  /** How many tasks `w` may be sent now: its prefetch room, limited to its share of the queue. */
  private budget(w: WorkerSlot, cap: number, share: number): number {
    const max = this.opts.maxTasksPerChild
    const room = Math.min(cap - w.inflight.length, max === undefined ? Infinity : max - w.sent)
    if (room <= 0) return 0
    const queued = this.queue.length - this.cancelledInQueue
    // A busy worker waits for room for a decent batch rather than getting a trickle of tiny messages.
    if (w.inflight.length > 0 && (room < Math.min(cap >> 2, queued) || w.bytes > INFLIGHT_BYTES / 2)) return 0
    return Math.min(room, share)
  }

  /** Post one batch of up to `limit` tasks to `w`; returns how many went. */
  private sendBatch(w: WorkerSlot, limit: number): number {
    const max = this.opts.maxTasksPerChild
    const msg: unknown[] = [RUN]
    let transfer: Transferable[] | undefined
    let bytes = 0
    let count = 0
    while (count < limit) {
      this.skipCancelled()
      const t = this.queue.peek()
      if (!t || t.fn.pending) break
      if (t.exclusive) {
        // A task with a timeout or signal runs alone, so stopping its worker harms nothing else.
        if (count > 0 || w.inflight.length > 0) break
        w.exclusive = true
      } else if (count > 0 && (t.code & MODE_MASK) !== MODE_APPLY) {
        // A map chunk is a batch already: one per message, so the worker starts on the first while the next is encoded.
        break
      } else if (count > 0 || w.inflight.length > 0) {
        if (bytes + t.bytes > BATCH_BYTES || w.bytes + bytes + t.bytes > INFLIGHT_BYTES) break
      }
      this.queue.shift()
      msg.push(t.code | (t.fn.id << FN_SHIFT), t.args.length)
      for (let i = 0; i < t.args.length; i++) msg.push(t.args[i])
      if (t.extras?.transfer) (transfer ??= []).push(...t.extras.transfer)
      bytes += t.bytes
      t.state = SENT
      t.worker = w
      w.inflight.push(t)
      count++
      if (t.exclusive) break
    }
    if (count === 0) return 0
    w.sent += count
    w.bytes += bytes
    if (w.idleTimer) { clearTimeout(w.idleTimer); w.idleTimer = undefined }
    try {
      w.post(msg, transfer)
    } catch (err) {
      this.unsendable(w, count, err as Error)
    }
    if (max !== undefined && w.sent >= max) this.recycle(w)
    return count
  }

  /** A batch could not be cloned: resend its tasks one by one and fail those that cannot go. */
  private unsendable(w: WorkerSlot, count: number, err: Error): void {
    const tasks: Task[] = []
    for (let i = 0; i < count; i++) tasks.unshift(w.inflight.pop()!)
    w.sent -= count
    w.exclusive = false
    for (const t of tasks) w.bytes -= t.bytes
    for (const t of tasks) {
      try {
        w.post([RUN, t.code | (t.fn.id << FN_SHIFT), t.args.length, ...t.args], t.extras?.transfer as Transferable[] | undefined)
        w.inflight.push(t)
        w.sent++
        w.bytes += t.bytes
        if (t.exclusive) w.exclusive = true
      } catch (e) {
        const u = new UnsendableValueError(`the task's arguments cannot be sent to a worker: ${(e as Error).message ?? err.message}`, { cause: e })
        u.path = 'args'
        this.finish(t, false, u)
      }
    }
  }

  /** maxTasksPerChild reached: no more tasks for `w`; a fresh worker takes its place now. */
  private recycle(w: WorkerSlot): void {
    w.accepting = false
    this.spawn()
    if (w.inflight.length === 0) w.stop()
  }

  // ---------------------------------------------------------------- results

  /** One message from a worker; false when it brought large results (see HotParent.onMessage). */
  private onMessage(w: WorkerSlot, msg: unknown[]): boolean {
    this.replyDepth++
    try {
      switch (msg[0]) {
        case MSG_DONE: {
          // A packed batch held large strings: end this turn after it (see HotParent.onMessage).
          const packed = isPacked(msg[1])
          this.onDone(w, unpacked(msg[1]) as unknown[], msg[2] as number[], msg[3] as number[])
          return !packed
        }
        case STARTED: this.onStarted(w); break
        case INIT_FAILED: this.breakPool(fromWireError(msg[1] as WireError)); break
      }
      return true
    } finally {
      this.replyDepth--
    }
  }

  private onDone(w: WorkerSlot, values: unknown[], errors: number[], times: number[]): void {
    this.earlyDeaths = 0
    let e = 0
    let runSum = 0
    for (let i = 0; i < values.length; i++) {
      const t = w.inflight.shift()
      if (!t) break
      if (this.timed?.task === t) { w.waited(this.timed.arm, performance.now() - this.timed.since); this.timed = undefined }
      w.replied = (w.replied + 1) | 0
      w.bytes -= t.bytes
      const started = times[2 * i]!
      const ran = times[2 * i + 1]!
      runSum += ran
      this.runTimes.add(ran)
      this.waitTimes.add(Math.max(0, started - t.submitted))
      if (errors[e] === i) { e++; this.finish(t, false, fromWireError(values[i] as WireError)) }
      else this.finish(t, true, values[i])
    }
    w.done += values.length
    w.busyMs += runSum
    const avg = runSum / Math.max(1, values.length)
    this.avgRunMs = this.avgRunMs < 0 ? avg : this.avgRunMs * 0.7 + avg * 0.3
    if (w.inflight.length === 0) {
      w.exclusive = false
      if (!w.accepting) w.stop()
    }
    this.dispatch()
    if (w.inflight.length === 0 && w.accepting) this.idle(w)
  }

  private onStarted(w: WorkerSlot): void {
    const t = w.inflight.peek()
    if (!t || t.state !== SENT) return
    t.state = RUNNING
    const x = t.extras
    if (x?.timeout !== undefined) {
      const timeout = x.timeout
      x.disarmTimeout = armWait({ timeout }, () => {
        if (t.state !== RUNNING) return
        this.finish(t, false, new TimeoutError(`task ${t.fn.name} ran longer than its timeout of ${timeout} ms; its worker was stopped and replaced`))
        w.kill()
      }, noop)
    }
  }

  private abort(t: Task): void {
    if (t.state === DONE) return
    const err = abortError(t.extras!.signal!)
    if (t.state === QUEUED) { this.cancelledInQueue++; this.finish(t, false, err); return }
    // Sent or running: the only way to stop code in another thread is to stop the thread.
    this.finish(t, false, err)
    t.worker?.kill()
  }

  /** Every path that settles a task ends here. */
  private finish(t: Task, ok: boolean, value: unknown): void {
    if (t.state === DONE) return
    t.state = DONE
    t.args = NO_ARGS
    const x = t.extras
    if (x) {
      x.disarmTimeout?.()
      x.disarmSignal?.()
    }
    if (ok) { this.completed++; t.fulfill(value) } else { this.failed++; t.reject(value as Error) }
    if (--this.outstanding === 0) this.quiet()
  }

  /** Nothing outstanding: let the process exit if it wants to, or finish a close(). */
  private quiet(): void {
    if (this.closed) { for (const w of this.workers) w.stop(); return }
    for (const w of this.workers) w.unref()
  }

  private refAll(): void {
    for (const w of this.workers) w.ref()
  }

  private idle(w: WorkerSlot): void {
    const ms = this.opts.idleTimeout
    if (ms === undefined || !Number.isFinite(ms) || this.queue.length > 0 || w.idleTimer) return
    w.idleTimer = setTimeout(() => {
      w.idleTimer = undefined
      if (w.inflight.length === 0) { w.stop(); this.remove(w) }
    }, Math.min(ms, MAX_TIMER_MS))
    w.idleTimer.unref()
  }

  // ---------------------------------------------------------------- workers

  private spawn(): void {
    if (this.terminated) return
    const w = new WorkerSlot(++this.nextWorkerId, this.kind, this.name, {
      defs: [...this.located], initializer: this.initRef, initargs: this.opts.initargs, idleSpinMs: 2,
    }, {
      message: (slot, msg) => this.onMessage(slot, msg),
      bootError: (_slot, error) => this.breakPool(fromWireError(error as WireError)),
      exit: (slot, info) => this.onExit(slot, info),
    })
    this.workers.push(w)
    this.exits.add(w.endpoint.exited)
    if (this.outstanding === 0 && !this.closed) w.unref()
  }

  /** Start workers until `size` of them take tasks; returns that number. */
  private topUp(): number {
    let accepting = 0
    for (const w of this.workers) if (w.accepting) accepting++
    while (accepting < this.size && !this.broken && !this.terminated) { this.spawn(); accepting++ }
    return accepting
  }

  private remove(w: WorkerSlot): void {
    const i = this.workers.indexOf(w)
    if (i >= 0) this.workers.splice(i, 1)
  }

  private onExit(w: WorkerSlot, info: ExitInfo): void {
    this.remove(w)
    this.exits.delete(w.endpoint.exited)
    if (w.inflight.length === 0 && (w.stopping || this.terminated)) return this.afterExit()
    if (this.terminated) return this.afterExit()
    // A child's last results can trail its exit event; give them a moment before judging.
    if (this.kind === 'process') setTimeout(() => this.crashed(w, info), 25)
    else this.crashed(w, info)
  }

  /** A worker died holding tasks: fail (or retry) the one it was running, put the rest back in front of the queue. */
  private crashed(w: WorkerSlot, info: ExitInfo): void {
    const running = w.runningIndex()
    const tasks = w.inflight.drain()
    if (this.terminated) {
      for (const t of tasks) this.finish(t, false, this.terminatedError())
      return this.afterExit()
    }
    w.bytes = 0
    if (tasks.length > 0 || !w.stopping) this.crashes++
    const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`
    // Died before finishing anything and not inside a task: its start-up (an import, say) kills it.
    if (tasks.length > 0 && w.done === 0 && running === -1) this.earlyDeaths++
    for (let i = tasks.length - 1; i >= 0; i--) {
      const t = tasks[i]!
      if (t.state === DONE) continue
      if (i === running) {
        if (t.extras && t.extras.retriesLeft > 0) t.extras.retriesLeft--
        else {
          const err = new WorkerCrashedError(`pool worker ${w.id} (${this.kind === 'thread' ? `thread ${w.endpoint.threadId}` : `pid ${w.endpoint.pid}`}) ${how} while running task ${t.fn.name}`)
          err.workerId = w.id
          err.exitCode = info.exitCode
          err.signal = info.signal
          this.finish(t, false, err)
          continue
        }
      }
      t.state = QUEUED
      t.worker = undefined
      this.queue.unshift(t)
    }
    if (this.earlyDeaths >= EARLY_DEATHS_LIMIT) this.breakPool(earlyDeathsError(WorkerCrashedError, 'pool', how))
    if (!this.closed) this.topUp()
    this.dispatch()
    this.afterExit()
  }

  private afterExit(): void {
    if (this.closed && this.outstanding === 0 && this.workers.length === 0) this.drained?.()
  }

  /** The pool cannot run tasks: fail everything queued and everything later with `err`. */
  private breakPool(err: Error): void {
    if (this.broken) return
    this.broken = err
    this.failQueued(() => true, () => err)
    for (const w of this.workers) {
      for (const t of w.inflight.drain()) this.finish(t, false, err)
      w.kill()
    }
  }

  private failQueued(match: (t: Task) => boolean, error: () => Error): void {
    const keep: Task[] = []
    for (const t of this.queue.drain()) {
      if (t.state === DONE) continue
      if (match(t)) this.finish(t, false, error())
      else keep.push(t)
    }
    this.cancelledInQueue = 0
    for (const t of keep) this.queue.push(t)
  }

  // ---------------------------------------------------------------- lifecycle

  protected closing(): void {
    if (this.outstanding === 0) this.quiet()
  }

  protected async terminating(): Promise<void> {
    const err = () => this.terminatedError()
    this.failQueued(() => true, err)
    for (const w of this.workers) {
      for (const t of w.inflight.drain()) this.finish(t, false, err())
      w.kill()
    }
  }

  protected async joining(): Promise<void> {
    if (this.outstanding > 0 || this.workers.length > 0) {
      await new Promise<void>((resolve) => { const prev = this.drained; this.drained = () => { prev?.(); resolve() } ; this.afterExit() })
    }
    await Promise.all(this.exits)
  }

  /** Counters, per-worker utilisation, and run/wait-time percentiles. */
  stats(): PoolStats {
    const t = performance.now()
    let running = 0
    const perWorker: WorkerStats[] = this.workers.map((w) => {
      running += w.inflight.length
      return {
        id: w.id, pid: w.endpoint.pid, threadId: w.endpoint.threadId, tasks: w.done, running: w.inflight.length,
        utilisation: Math.min(1, Math.round((w.busyMs / Math.max(1e-3, t - w.born)) * 1000) / 1000),
      }
    })
    return {
      kind: this.kind, workers: this.workers.length, completed: this.completed, failed: this.failed, pending: this.outstanding,
      queued: this.queue.length - this.cancelledInQueue, running, crashes: this.crashes, perWorker,
      runTime: this.runTimes.percentiles(), waitTime: this.waitTimes.percentiles(),
    }
  }
}

// Below this many items the encoding saving does not pay for the scan.
const PACK_MIN_ITEMS = 64

/** A Float64Array of the items when every one is a number (numbers survive exactly, -0 and NaN included). */
function packNumbers(items: unknown[]): Float64Array | undefined {
  if (!Array.isArray(items) || items.length < PACK_MIN_ITEMS) return undefined
  for (let i = 0; i < items.length; i++) if (typeof items[i] !== 'number') return undefined
  return Float64Array.from(items as number[])
}
