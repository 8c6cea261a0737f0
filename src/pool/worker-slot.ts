import { performance } from 'node:perf_hooks'
import { Endpoint, HotParent, WAIT_COLD, type Kind, type ModuleRef, type ExitInfo } from '../process/index.js'
import { Deque } from './deque.js'
import { POOL_SLOTS, READY, SLOT_RUNNING, SLOT_STARTED, STOP, type WorkerBootData } from './protocol.js'
import type { Task } from './task.js'

const here = import.meta.url
/** Longest the main thread spins for a lone tiny task's answer, when its channel runs hot (ms). */
const SPIN_FOR_REPLY_MS = 0.04
/** The pool's worker runtime, named the way Endpoint loads runtimes. */
const RUNTIME: ModuleRef = { url: new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here).href, name: 'poolWorker' }

/** What a worker slot tells the pool. */
export interface SlotEvents {
  /** False: the message was large, end this event-loop turn before taking more (HotParent.onMessage). */
  message(slot: WorkerSlot, msg: unknown[]): boolean
  bootError(slot: WorkerSlot, error: unknown): void
  exit(slot: WorkerSlot, info: ExitInfo): void
}

/**
 * The main thread's side of one pool worker: its Endpoint, the channel tasks
 * and results travel on, and the tasks it holds in the order it will run them.
 */
export class WorkerSlot {
  /** Tasks sent and not yet answered, in the order the worker runs them. */
  readonly inflight = new Deque<Task>()
  readonly endpoint: Endpoint
  /** Tasks ever sent (for maxTasksPerChild). */
  sent = 0
  /** Tasks answered, wrapping like the worker's int32 started counter. */
  replied = 0
  /** Approximate argument bytes in flight. */
  bytes = 0
  /** It holds a task with a timeout or signal, and gets nothing else meanwhile. */
  exclusive = false
  /** Takes no new tasks: recycled, idle-retired, or the pool is closing. */
  accepting = true
  /** Its exit was asked for (not a crash). */
  stopping = false
  /** Tasks finished and milliseconds spent running them. */
  done = 0
  busyMs = 0
  readonly born = performance.now()
  idleTimer: NodeJS.Timeout | undefined
  /** Threads: the task/result channel (process/hot-channel.ts). */
  private readonly hot: HotParent | undefined
  private readonly state: Int32Array | undefined
  private stopTimer: NodeJS.Timeout | undefined
  /** Child processes: messages held until the runtime says it listens. */
  private backlog: unknown[][] | undefined

  constructor(readonly id: number, kind: Kind, name: string, data: Omit<WorkerBootData, 'id' | 'hot' | 'flushEach'>, events: SlotEvents) {
    const boot: WorkerBootData = { ...data, id, flushEach: kind === 'process' }
    if (kind === 'thread') {
      // Tasks and results travel on a channel of their own, with shared counters beside it.
      this.hot = new HotParent(POOL_SLOTS, SPIN_FOR_REPLY_MS)
      this.state = this.hot.state
      this.hot.onMessage((msg: unknown[]) => events.message(this, msg))
      boot.hot = this.hot.link
    } else this.backlog = []
    this.endpoint = new Endpoint({ kind, runtime: RUNTIME, data: boot, transfer: this.hot ? [this.hot.link.port] : undefined, name: `${name}-${id}` })
    this.endpoint.onMessage((msg: any) => {
      if (msg && !Array.isArray(msg) && msg.t === 'boot-error') events.bootError(this, msg.error)
      else if (Array.isArray(msg) && msg[0] === READY) {
        const held = this.backlog ?? []
        this.backlog = undefined
        for (const m of held) this.endpoint.send(m)
      } else void events.message(this, msg as unknown[])
    })
    void this.endpoint.exited.then((info) => {
      if (this.stopTimer) clearTimeout(this.stopTimer)
      if (this.idleTimer) clearTimeout(this.idleTimer)
      // Replies posted just before the thread died may still sit in the port: take them first.
      this.hot?.drain()
      this.hot?.close()
      events.exit(this, info)
    })
  }

  /** Whether the thread or process is still running. */
  get alive(): boolean {
    return this.endpoint.alive
  }

  /** Post a message (a task batch), waking the worker if it waits on Atomics. */
  post(msg: unknown[], transfer?: readonly any[]): void {
    if (this.hot) this.hot.post(msg, transfer)
    else if (this.backlog) this.backlog.push(msg)
    else this.endpoint.send(msg)
  }

  /**
   * Threads: a lone task the caller waits for was just posted; how the wait runs (WAIT_SPINNING:
   * call spinForReply). Report how long it took with `waited`. See process/hot-channel.ts.
   */
  beginWait(): number {
    return this.hot ? this.hot.beginWait() : WAIT_COLD
  }

  /** How long the wait begun by `beginWait()` took. */
  waited(arm: number, ms: number): void {
    this.hot?.waited(arm, ms)
  }

  /** Spin briefly for the worker's next message and handle it now, without an event-loop turn; true if one came. */
  spinForReply(): boolean {
    return this.hot ? this.hot.spinForReply() : false
  }

  /**
   * Which of the in-flight tasks a dead worker was running: an index into
   * `inflight`, or -1 if it was between tasks. Threads say so through shared
   * memory; a child process reports every result at once, so it was running
   * the first unanswered one.
   */
  runningIndex(): number {
    if (!this.state) return this.inflight.length > 0 ? 0 : -1
    if (this.state[SLOT_RUNNING] !== 1) return -1
    return (this.state[SLOT_STARTED]! - 1 - this.replied) | 0
  }

  /** Ask the worker to exit once idle; kill it if it does not within `graceMs`. */
  stop(graceMs = 5000): void {
    this.accepting = false
    if (this.stopping || !this.alive) return
    this.stopping = true
    this.ref()
    this.post([STOP])
    this.stopTimer = setTimeout(() => void this.endpoint.kill(), graceMs)
    this.stopTimer.unref()
  }

  /** Kill it now (timeouts, aborts, terminate). */
  kill(): void {
    this.accepting = false
    this.ref()
    void this.endpoint.kill()
  }

  /** Keep the parent alive while it has work. */
  ref(): void {
    this.endpoint.ref()
    this.hot?.ref()
  }

  /** Let the parent exit while it idles. */
  unref(): void {
    this.endpoint.unref()
    this.hot?.unref()
  }
}
