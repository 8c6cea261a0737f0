import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { Endpoint, type Kind, type ModuleRef, type ExitInfo } from '../process/index.js'
import { spinUntil } from '../net/index.js'
import { Deque } from './deque.js'
import { DONE, READY, SLOT_REPLIES, SLOT_WAITING, SLOT_POSTED, SLOT_RUNNING, SLOT_STARTED, STATE_SLOTS, STOP, type WorkerBootData } from './protocol.js'
import type { Task } from './task.js'

const here = import.meta.url
/** The pool's worker runtime, named the way Endpoint loads runtimes. */
const RUNTIME: ModuleRef = { url: new URL(here.endsWith('.ts') ? './worker.ts' : './worker.js', here).href, name: 'poolWorker' }

/** What a worker slot tells the pool. */
export interface SlotEvents {
  message(slot: WorkerSlot, msg: unknown[]): void
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
  private readonly port: MessagePort | undefined
  private readonly state: Int32Array | undefined
  private stopTimer: NodeJS.Timeout | undefined
  /** Result messages handled from the port, to compare with the worker's SLOT_REPLIES count. */
  private replyMessages = 0
  private onPortMessage: ((msg: unknown[]) => void) | undefined
  /** Child processes: messages held until the runtime says it listens. */
  private backlog: unknown[][] | undefined

  constructor(readonly id: number, kind: Kind, name: string, data: Omit<WorkerBootData, 'id' | 'port' | 'state' | 'flushEach'>, events: SlotEvents) {
    const boot: WorkerBootData = { ...data, id, flushEach: kind === 'process' }
    let transfer: MessagePort[] | undefined
    if (kind === 'thread') {
      const { port1, port2 } = new MessageChannel()
      const sab = new SharedArrayBuffer(STATE_SLOTS * 4)
      this.port = port1
      this.state = new Int32Array(sab)
      boot.port = port2
      boot.state = sab
      transfer = [port2]
    } else this.backlog = []
    if (kind === 'thread') {
      const port1 = this.port!
      // Results come on a channel of their own; each 'message' event drains every reply already
      // queued with receiveMessageOnPort, so a burst costs one event-loop turn, not one per message.
      this.onPortMessage = (msg) => {
        if (msg[0] === DONE) this.replyMessages = (this.replyMessages + 1) | 0
        events.message(this, msg)
      }
      port1.on('message', (msg: unknown[]) => {
        this.onPortMessage!(msg)
        this.drain(this.onPortMessage!)
      })
    }
    this.endpoint = new Endpoint({ kind, runtime: RUNTIME, data: boot, transfer, name: `${name}-${id}` })
    this.endpoint.onMessage((msg: any) => {
      if (msg && !Array.isArray(msg) && msg.t === 'boot-error') events.bootError(this, msg.error)
      else if (Array.isArray(msg) && msg[0] === READY) {
        const held = this.backlog ?? []
        this.backlog = undefined
        for (const m of held) this.endpoint.send(m)
      } else events.message(this, msg as unknown[])
    })
    void this.endpoint.exited.then((info) => {
      if (this.stopTimer) clearTimeout(this.stopTimer)
      if (this.idleTimer) clearTimeout(this.idleTimer)
      // Replies posted just before the thread died may still sit in the port: take them first.
      if (this.onPortMessage) this.drain(this.onPortMessage)
      this.port?.close()
      events.exit(this, info)
    })
  }

  /** Whether the thread or process is still running. */
  get alive(): boolean {
    return this.endpoint.alive
  }

  /** Post a message (a task batch), waking the worker if it waits on Atomics. */
  post(msg: unknown[], transfer?: readonly any[]): void {
    if (this.port) {
      this.port.postMessage(msg, transfer as any)
      // Bump after the post: a worker that read the old value before draining will not sleep past
      // this message. Only a worker that said it waits needs the wake-up syscall, and only one
      // waiter is woken (V8's "wake all" path is several times slower).
      Atomics.add(this.state!, SLOT_POSTED, 1)
      if (Atomics.load(this.state!, SLOT_WAITING) === 1) Atomics.notify(this.state!, SLOT_POSTED, 1)
    } else if (this.backlog) this.backlog.push(msg)
    else this.endpoint.send(msg)
  }

  /**
   * Threads: wait up to `ms`, spinning, for the worker's next result message and handle it now,
   * without going through the event loop. True if one came.
   */
  spinForReply(ms: number): boolean {
    const state = this.state
    if (!state || !this.port) return false
    if (!spinUntil(() => Atomics.load(state, SLOT_REPLIES) !== this.replyMessages, ms)) return false
    this.drain(this.onPortMessage!)
    return true
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
    this.port?.ref()
  }

  /** Let the parent exit while it idles. */
  unref(): void {
    this.endpoint.unref()
    this.port?.unref()
  }

  private drain(fn: (msg: unknown[]) => void): void {
    if (!this.port) return
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) fn(m.message as unknown[])
  }
}
