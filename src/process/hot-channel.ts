/**
 * A worker thread's fast lane to the thread that started it: a
 * MessageChannel with a small SharedArrayBuffer beside it. Pool workers and
 * thread-hosted actors use it; child processes have no shared memory and keep
 * their Endpoint link.
 *
 * The parent bumps POSTED after each post and calls Atomics.notify only when
 * the child said (WAITING) that it sleeps on it; a child that has just gone
 * idle blocks in Atomics.wait and reads the next message with
 * receiveMessageOnPort a few µs after it was posted, instead of waking through
 * its event loop. The child bumps REPLIES after each message it sends, so a
 * parent waiting for an answer can spin on it and take the answer at once.
 * How hot the channel runs is measured (SpinPolicy, net/hot.ts) by the
 * parent, end to end: it times each wait for an answer it asked for, and
 * learns whether the child should block on Atomics when idle (told through
 * the HOT slot) and, when it does, whether the parent should spin. Blocking
 * costs more than it looks from the child's side: a post to a child blocked
 * on Atomics pays a futex wake on top of the port's own wake-up, so on some
 * machines the plain event loop answers sooner; and a spin only pays with a
 * core to spare.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import { SpinPolicy, spinUntil } from '../net/index.js'
import type { Transferable } from './endpoint.js'

/** Bumped by the parent after each post. */
const POSTED = 0
/** 1 while the child is (about to be) blocked in Atomics.wait: only then does a post need a notify. */
const WAITING = 1
/** Bumped by the child after each message it sends. */
const REPLIES = 2
/** 1 while the parent wants the child to wait for posts on Atomics when idle, 0 in its event loop. */
const HOT = 3
/** Int32 slots the channel uses; users of `state` may keep their own above these. */
export const HOT_SLOTS = 4

// A child spins this long before sleeping, when the previous message came within SPIN_WHEN_GAP_MS.
const CHILD_SPIN_MS = 0.05
const SPIN_WHEN_GAP_MS = 0.2

/** How a wait begun by `HotParent.beginWait()` runs: the child in its event loop, the parent sleeping. */
export const WAIT_COLD = 0
/** The child blocked on Atomics, the parent sleeping. */
export const WAIT_BLOCKING = 1
/** The child blocked on Atomics, the parent spinning (`spinForReply()`). */
export const WAIT_SPINNING = 2

/** What the child needs: put it in the thread's boot data and transfer `port`. */
export interface HotLink {
  port: MessagePort
  state: SharedArrayBuffer
}

/** The starting thread's end. */
export class HotParent {
  /** Hand this to the child (and list `link.port` in the transfer list). */
  readonly link: HotLink
  /** The shared slots; `state[HOT_SLOTS + i]` are the user's `extraSlots`. */
  readonly state: Int32Array
  private readonly port: MessagePort
  /** Messages handled, to compare with the child's REPLIES count. */
  private handled = 0
  private handler: (msg: any) => boolean | void = () => {}
  /** Whether the child should block on Atomics, and whether this side should spin then; measured. */
  private readonly block = new SpinPolicy(0)
  private readonly spin: SpinPolicy
  /** What the child does when idle before the next request. */
  private childBlocks = true

  /** `spinMs`: the longest this side spins for an answer when hot. */
  constructor(extraSlots = 0, spinMs = 0.1) {
    const { port1, port2 } = new MessageChannel()
    const sab = new SharedArrayBuffer((HOT_SLOTS + extraSlots) * 4)
    this.port = port1
    this.state = new Int32Array(sab)
    this.state[HOT] = 1
    this.spin = new SpinPolicy(spinMs)
    this.link = { port: port2, state: sab }
    // Each 'message' event takes every message already queued, so a burst costs one event-loop turn.
    port1.on('message', (msg) => {
      if (this.handle(msg) !== false) this.takeQueued()
    })
  }

  /**
   * Set the one handler for the child's messages. It returns false when the message was large enough
   * that this turn should end: the rest come with the next event, after the microtasks its values
   * started (which can let them go before the next scavenge instead of copying them).
   */
  onMessage(fn: (msg: any) => boolean | void): void {
    this.handler = fn
  }

  /** Post a message, waking the child if it sleeps on Atomics. */
  post(msg: unknown, transfer?: readonly Transferable[]): void {
    this.port.postMessage(msg, transfer as Transferable[] | undefined)
    // Bump after the post: a child that read the old value before draining will not sleep past
    // this message. Only one waiter is woken (V8's "wake all" path is several times slower).
    Atomics.add(this.state, POSTED, 1)
    if (Atomics.load(this.state, WAITING) === 1) Atomics.notify(this.state, POSTED, 1)
  }

  /**
   * A request whose answer the caller will wait for has just been posted: returns how this wait
   * runs (WAIT_SPINNING: call `spinForReply()`), to report with `waited(arm, ms)` once answered.
   * Whether the child blocks for the next request is picked now, since the child reads it when it
   * goes idle after answering this one.
   */
  beginWait(): number {
    const blocks = this.childBlocks
    const arm = !blocks ? WAIT_COLD : this.spin.shouldSpin() ? WAIT_SPINNING : WAIT_BLOCKING
    this.childBlocks = this.block.shouldSpin()
    Atomics.store(this.state, HOT, this.childBlocks ? 1 : 0)
    return arm
  }

  /** How long the wait begun by `beginWait()` took. */
  waited(arm: number, ms: number): void {
    this.block.record(arm !== WAIT_COLD, ms)
    if (arm !== WAIT_COLD) this.spin.record(arm === WAIT_SPINNING, ms)
  }

  /** Spin briefly for the child's next message and handle it (and any queued) now; true if one came. */
  spinForReply(): boolean {
    const state = this.state
    if (!spinUntil(() => Atomics.load(state, REPLIES) !== this.handled, this.spin.maxMs)) return false
    this.takeQueued()
    return true
  }

  /** Handle every message already queued (before reporting the child's exit, say). */
  drain(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) this.handle(m.message)
  }

  /** Handle the messages already queued until the handler says this turn has had enough. */
  private takeQueued(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) if (this.handle(m.message) === false) return
  }

  private handle(msg: unknown): boolean | void {
    this.handled = (this.handled + 1) | 0
    return this.handler(msg)
  }

  /** Keep this thread alive while the child has work. */
  ref(): void {
    this.port.ref()
  }

  /** Let this thread exit while the child idles. */
  unref(): void {
    this.port.unref()
  }

  close(): void {
    this.port.close()
  }
}

/** The started thread's end. */
export class HotChild {
  /** The shared slots (see HotParent.state). */
  readonly state: Int32Array
  private readonly port: MessagePort
  private seen = 0
  /** How long the last idle wait lasted before a message came (ms). */
  private lastGapMs = Infinity
  private readonly spin = new SpinPolicy(CHILD_SPIN_MS)

  constructor(link: HotLink) {
    this.port = link.port
    this.state = new Int32Array(link.state)
  }

  /** Handle messages that arrive while this thread runs its event loop. */
  onMessage(fn: (msg: any) => void): void {
    this.port.on('message', fn)
  }

  /** Send a message to the parent (and bump the count it may be spinning on). */
  send(msg: unknown, transfer?: readonly Transferable[]): void {
    this.port.postMessage(msg, transfer as Transferable[] | undefined)
    Atomics.add(this.state, REPLIES, 1)
  }

  /** The next message already queued, without an event-loop turn. */
  take(): unknown {
    const m = receiveMessageOnPort(this.port)
    return m ? m.message : undefined
  }

  /** Whether the parent wants this thread to wait for posts on Atomics when it goes idle (else waitForPost returns false at once). */
  get runsHot(): boolean {
    return Atomics.load(this.state, HOT) === 1
  }

  /**
   * This thread is idle: block until the parent posts (true) or `ms` pass (false; go back to the
   * event loop then, so timers and I/O run). When messages have been coming back to back, spin a
   * few µs first, if that has been paying. Take the messages with `take()` afterwards. False at
   * once while the parent keeps the channel cold: the event loop's message listener takes over.
   */
  waitForPost(ms: number): boolean {
    const state = this.state
    if (Atomics.load(state, HOT) === 0) return false
    const idleSince = performance.now()
    const timed = this.lastGapMs < SPIN_WHEN_GAP_MS
    const spun = timed && this.spin.shouldSpin()
    if (spun) spinUntil(() => Atomics.load(state, POSTED) !== this.seen, CHILD_SPIN_MS)
    // Announce the wait first (seq-cst): a post that lands after this store sees it and notifies.
    // The wait returns at once ('not-equal') if anything was posted since we last looked.
    Atomics.store(state, WAITING, 1)
    const woke = Atomics.wait(state, POSTED, this.seen, ms)
    Atomics.store(state, WAITING, 0)
    this.lastGapMs = woke === 'timed-out' ? Infinity : performance.now() - idleSince
    if (timed) this.spin.record(spun, Math.min(this.lastGapMs, ms))
    if (woke === 'timed-out') return false
    // Read the counter before draining: a message posted after the drain bumps it again.
    this.seen = Atomics.load(state, POSTED)
    return true
  }

  /** Keep this thread alive while listening. */
  ref(): void {
    this.port.ref()
  }

  /** Let this thread exit when nothing else keeps it alive. */
  unref(): void {
    this.port.unref()
  }
}
