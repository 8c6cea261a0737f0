/**
 * Spinning against wake-up latency: every spin troupe does is decided here,
 * with one switch for all of them.
 *
 * A thread sleeping in epoll or Atomics.wait takes tens of microseconds to
 * wake when its answer lands (more on an idle VM, whose virtual CPU sleeps
 * too); a request/reply round trip pays that on each end. Polling for a few
 * microseconds instead catches the answer at once — when the machine has a
 * core to spare. When it has not (other processes want the cores), the
 * poller takes CPU from the very peer it is waiting for, and the round trip
 * gets ten times slower (manager rpc p50 440 µs instead of 35 µs with a
 * CPU-bound neighbour). So no spin is unconditional: each place that spins
 * owns a SpinPolicy that measures how long its waits take with and without
 * spinning (a small share of waits always tries the other way) and keeps
 * spinning while spun waits are no longer than SLOWER times the slept ones
 * and at least half its spins catch their answers (on an
 * idle VM: manager rpc p50 33 µs against 67 for CPython, thread-actor asks
 * 21 µs against 62 for a raw port echo). Above that, no place spins (nor
 * probes spinning) while the machine's cores are contended: on Linux, while
 * /proc/pressure/cpu says tasks waited for a CPU more than CONTENDED % of the
 * last 10 s. A wait measures its own latency, not the CPU its spin took from
 * a neighbour: on a loaded machine spun waits can look shorter while each
 * round trip costs twice the CPU (thread-actor asks measured 42-50 cpu-µs
 * spun against 23-26 cold, load 4-10).
 *
 * `TROUPE_SPIN=0` in the environment, or `setSpinning(false)`, turns every
 * spin off in this process.
 */
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'

let enabled = process.env.TROUPE_SPIN !== '0'

// Pressure stall information: the share of the last 10 s in which some runnable task waited for a CPU.
const PRESSURE_FILE = '/proc/pressure/cpu'
// Above this share (%) the cores are contended: a spin would take CPU some other task is waiting for.
// Calibrated on the 2-vCPU VM: at rest it reads 2-7 %, and a spinning client and server raise it to
// 5-12 % by themselves (a gate at 10 % turned their own spin off every other second); a core-burning
// neighbour with spins on reads 23-33 %, where the policies stand down on their own (their spins stop
// catching answers). Above 40 % the machine is plainly overcommitted.
const CONTENDED = 40
// How often the pressure is read again (ms).
const RECHECK_MS = 1000
let pressureRead = false
let pressureAt = 0
let contended = false
let contention: (() => boolean) | undefined = readPressure

function readPressure(): boolean {
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync(PRESSURE_FILE, 'latin1'))
    return m !== null && Number(m[1]) > CONTENDED
  } catch {
    contention = undefined // no pressure information here (not Linux, or PSI off): the policies alone decide
    return false
  }
}

/** Whether the machine's cores are contended now (read at most once a second). */
function coresContended(): boolean {
  if (contention === undefined) return false
  const now = performance.now()
  if (!pressureRead || now - pressureAt >= RECHECK_MS) {
    pressureRead = true
    pressureAt = now
    contended = contention()
  }
  return contended
}

/** @internal Replace how contention is read (tests pin it; undefined: never contended). */
export function setContention(read: (() => boolean) | undefined): void {
  contention = read
  pressureRead = false
}

/** Turn every spin in this process on or off (default on, unless `TROUPE_SPIN=0`). */
export function setSpinning(on: boolean): void {
  enabled = on
}

/** Whether spinning is allowed in this process. */
export function spinningEnabled(): boolean {
  return enabled
}

// While spinning pays, one wait in PROBE sleeps, so the sleeping estimate stays current (a cheap probe).
// While it does not, one wait in PROBE_IDLE spins (a probe that costs CPU: rarer), one in PROBE_FAR
// when spinning has been more than twice as slow.
const PROBE = 16
const PROBE_IDLE = 32
const PROBE_FAR = 128
// Spinning is kept while spun waits are no longer than this many times slept ones: on a spare core a
// spin costs nothing another task wanted, so a tie goes to spinning. Requiring spins to be clearly
// faster made two spinning ends of one channel (a client and a server) undo each other: each one's
// sleep probe slows the other's spun waits, and both fell back to sleeping for half their waits.
const SLOWER = 1.25
// ...and while at least this share of spun waits ended within the spin: a spin that seldom catches
// its answer (a slow peer, or one that waits for the core the spinner holds) only burns CPU.
const HITS = 0.5
// Estimates are moving averages over about 1/ALPHA waits of the preferred way, 1/ALPHA_PROBE probes of
// the other (rare, so each weighs more: back to spinning within ~1,000 waits of the cores freeing up).
// One wait counts at most CAP_SPINS times the spin's length (and at least CAP_MIN_MS): a GC pause or
// a preemption is one slow wait, not a trend.
const ALPHA = 1 / 16
const ALPHA_PROBE = 1 / 4
const CAP_SPINS = 2
const CAP_MIN_MS = 0.5
// A spin loop that sees a gap this long between two looks was preempted: the cores are taken.
const PREEMPTED_MS = 0.5

/**
 * Whether one place should spin while it waits, learned from its own waits:
 * moving averages of how long they took when it spun and when it slept, and
 * of how often a spin caught the answer before it ran out.
 */
export class SpinPolicy {
  private spinMs = 0
  private sleepMs = 0
  private hits = 1
  private prefer = true
  private probe = PROBE
  private count = 0
  private readonly capMs: number

  /** How long one spin may last (ms); 0 for a choice that blocks rather than spins. */
  constructor(readonly maxMs: number) {
    this.capMs = Math.max(CAP_SPINS * maxMs, CAP_MIN_MS)
  }

  /** Whether to spin for the wait that starts now (usually the way that has been faster). */
  shouldSpin(): boolean {
    if (!enabled || coresContended()) return false
    if (++this.count < this.probe) return this.prefer
    this.count = 0
    return !this.prefer
  }

  /** How long a wait took, and whether it was spun. */
  record(spun: boolean, waitMs: number): void {
    const w = waitMs < this.capMs ? waitMs : this.capMs
    const a = spun === this.prefer ? ALPHA : ALPHA_PROBE
    if (spun) {
      this.spinMs = this.spinMs === 0 ? w : this.spinMs + (w - this.spinMs) * a
      if (this.maxMs > 0) this.hits += ((waitMs <= this.maxMs ? 1 : 0) - this.hits) * a
    } else this.sleepMs = this.sleepMs === 0 ? w : this.sleepMs + (w - this.sleepMs) * a
    if (this.spinMs > 0 && this.sleepMs > 0) {
      this.prefer = this.spinMs <= this.sleepMs * SLOWER && this.hits >= HITS
      this.probe = this.prefer ? PROBE : this.spinMs > 2 * this.sleepMs ? PROBE_FAR : PROBE_IDLE
    }
  }

  /** The current estimates (ms; `hits` is the share of spins that caught their answer), for diagnostics and tests. */
  estimates(): { spin: number; sleep: number; hits: number; spinning: boolean } {
    return { spin: this.spinMs, sleep: this.sleepMs, hits: this.hits, spinning: enabled && this.prefer }
  }
}

/**
 * Spin synchronously until `done()` is true, `ms` have passed, or the thread
 * was preempted (then the spin only takes CPU from others). True if done.
 */
export function spinUntil(done: () => boolean, ms: number): boolean {
  const start = performance.now()
  const until = start + ms
  let last = start
  for (;;) {
    if (done()) return true
    const now = performance.now()
    if (now > until || now - last > PREEMPTED_MS) return false
    last = now
  }
}

// Pollers whose window is open; one setImmediate chain serves them all.
const polling = new Set<LoopPoller>()
let ticking = false

function tick(): void {
  const now = performance.now()
  for (const p of polling) if (!p.open(now)) polling.delete(p)
  if (polling.size > 0) setImmediate(tick)
  else ticking = false
}

/**
 * Keeps this thread's event loop polling (a chain of setImmediate, so epoll
 * is asked with a zero timeout) from the moment one channel sends a request
 * until the answer arrives, for at most the policy's `maxMs`, when its policy
 * says spinning pays. Each wait is timed and reported to the policy, spun or
 * not. Every channel of the thread shares one chain.
 */
export class LoopPoller {
  private waiting = false
  private spun = false
  private since = 0
  private until = 0

  constructor(readonly policy: SpinPolicy) {}

  /** A request went out: time the wait for its answer, polling if the policy says so. */
  sent(): void {
    if (this.waiting) return
    this.waiting = true
    this.since = performance.now()
    this.spun = this.policy.shouldSpin()
    if (!this.spun) return
    this.until = this.since + this.policy.maxMs
    polling.add(this)
    if (!ticking) {
      ticking = true
      setImmediate(tick)
    }
  }

  /** Something arrived: the wait is over. */
  received(): void {
    if (!this.waiting) return
    this.waiting = false
    this.policy.record(this.spun, performance.now() - this.since)
  }

  /** @internal Whether this poller still wants the loop kept hot at `now`. */
  open(now: number): boolean {
    return this.waiting && this.spun && now < this.until
  }
}
