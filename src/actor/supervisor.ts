import { SupervisorGaveUpError } from '../errors.js'
import { defaultLog } from '../net/index.js'
import { armWait } from '../timers.js'
import type { ActorClass, StopReason } from './actor.js'
import { allocateId, describeReason, register, unregister, type Address, type Entity, type EntityInfo, type SupervisorHooks } from './entity.js'
import type { ReplyTo } from './mailbox.js'
import { localAddress } from './router.js'
import { LocalRef, joinWithin, type ActorRef, type JoinOptions } from './ref.js'
import { spawnEntity, type SpawnOptions } from './spawn.js'
import { ExitSignal } from './exit.js'

/** Which children a failure restarts: the failed one, all of them, or it and those started after it. */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one'

/** When a child that ended is restarted: always, only after a failure (default), or never. */
export type RestartType = 'permanent' | 'transient' | 'temporary'

/** A supervised actor: its class plus `spawn` options. */
export interface ActorChildSpec<C extends ActorClass = ActorClass> extends SpawnOptions<ConstructorParameters<C>> {
  actor: C
  /** Default `'transient'`: restarted after a failure, not after `close()`/`stop()`. */
  restart?: RestartType
}

/** A nested supervisor: when it gives up, its parent's strategy applies to it. */
export interface SupervisorChildSpec {
  supervise: ChildSpec[]
  options?: SupervisorOptions
  name?: string
  restart?: RestartType
}

/** One child of a supervisor. */
export type ChildSpec = ActorChildSpec<any> | SupervisorChildSpec

/** Options of `supervise`. */
export interface SupervisorOptions {
  /** Default `'one-for-one'`. */
  strategy?: Strategy
  /** Restarts allowed within `withinMs` before the supervisor gives up (default 3). */
  maxRestarts?: number
  /** The intensity window in ms (default 5000). */
  withinMs?: number
  /** Wait before a restart: `minMs` doubling per recent restart, capped at `maxMs` (default: restart at once). */
  backoff?: { minMs?: number; maxMs?: number }
  /** A name for logs and errors (default `supervisor-<n>`). */
  name?: string
  /**
   * Where crash reports go, one per child failure: the child's name, class and
   * place, what it was handling, the error with its stack, and what the
   * supervisor does about it (default: stderr; `false` for silence; nested
   * supervisors inherit it).
   */
  log?: ((line: string) => void) | false
}

/** One node of `Supervisor.tree()`. */
export interface SupervisionNode extends EntityInfo {
  name: string
  /** Times its supervisor restarted it. */
  restarts: number
  /** Messages waiting. */
  mailbox: number
  /** Messages handled. */
  processed?: number
  children: SupervisionNode[]
}

// `done`: it ended and its restart type says it stays ended (until a sibling's restart or the supervisor's brings it back).
interface Kid { spec: ChildSpec; entity: Entity; restarts: number; done?: boolean }

/**
 * A supervisor's restart intensity: at most `maxRestarts` restarts within
 * `withinMs`, spaced by a doubling `backoff` when given. Supervisors and the
 * Redis nodes that host actors both count restarts with it.
 */
export class RestartIntensity {
  readonly maxRestarts: number
  readonly withinMs: number
  private readonly backoff: { minMs: number; maxMs: number } | undefined
  private times: number[] = []

  constructor(opts: Pick<SupervisorOptions, 'maxRestarts' | 'withinMs' | 'backoff'> = {}, what = 'supervise') {
    this.maxRestarts = opts.maxRestarts ?? 3
    this.withinMs = opts.withinMs ?? 5000
    if (!(this.maxRestarts >= 0) || !(this.withinMs > 0)) throw new RangeError(`${what}: maxRestarts must be >= 0 and withinMs > 0`)
    if (opts.backoff) {
      const minMs = opts.backoff.minMs ?? 0
      this.backoff = { minMs, maxMs: opts.backoff.maxMs ?? Math.max(minMs, 30_000) }
    }
  }

  /** Count a restart now: the ms to wait before it, or -1 when that is more restarts than allowed (give up). */
  next(): number {
    const now = performance.now()
    this.times = this.times.filter((t) => now - t < this.withinMs)
    this.times.push(now)
    if (this.times.length > this.maxRestarts) return -1
    return this.backoff ? Math.min(this.backoff.maxMs, this.backoff.minMs * 2 ** (this.times.length - 1)) : 0
  }

  /** Restarts counted within the current window. */
  get recent(): number {
    return this.times.length
  }

  /** Forget past restarts (a supervisor started afresh). */
  reset(): void {
    this.times = []
  }

  /** What a crash report says a restart after `next()` returned `delay` does. */
  restarting(delay: number, what = 'it'): string {
    return `restarting ${what}${delay > 0 ? ` in ${delay} ms` : ''} (restart ${this.recent} of at most ${this.maxRestarts} within ${this.withinMs} ms)`
  }

  /** What a crash report says of a `temporary` child that failed (it is never restarted). */
  static readonly notRestartingTemporary = "not restarting it (restart: 'temporary')"

  /** What a crash report says when `next()` returned -1. */
  givingUp(): string {
    return `giving up (more than ${this.maxRestarts} restarts within ${this.withinMs} ms)`
  }

  /** The error of a supervisor that gave up on `child` after `err`. */
  gaveUp(supervisor: string, child: string, err: Error): SupervisorGaveUpError {
    const reason = new SupervisorGaveUpError(
      `supervisor '${supervisor}' gave up: more than ${this.maxRestarts} restarts within ${this.withinMs} ms; ` +
      `last failure in '${child}': ${describeReason(err)}`, { cause: err })
    return Object.assign(reason, { supervisor, child })
  }
}

/** What one crash report tells. */
export interface CrashReport {
  child: Entity
  err: Error
  /** What the child was handling (`onStart()`, `onTimeout()`, or the message as `describeMessage` puts it). */
  during?: string
  /** The supervisor's name (a Redis node says `redis node <id>`). */
  supervisor: string
  /** What the supervisor does about it: `restartIntensity.restarting(...)`, `givingUp()`, `stopping it (...)`. */
  outcome: string
  /** Where the child runs, when its `info()` does not say it (a Redis-hosted actor: `redis node <id>`). */
  where?: string
}

/**
 * Log one crash report, like OTP's: who failed, where, doing what, what the
 * supervisor does next, and the error with its stack. Every supervisor —
 * `supervise()` and the Redis nodes that host actors — reports through this.
 */
export function reportCrash(log: (line: string) => void, r: CrashReport): void {
  const info = r.child.info?.() ?? { type: 'actor', place: 'local', pid: undefined }
  const where = r.where ?? (info.place === 'local' ? 'local' : `${info.place}${info.pid !== undefined ? ` pid ${info.pid}` : ''}`)
  const stack = (r.err.stack ?? `${r.err.name}: ${r.err.message}`).split('\n').map((l) => `    ${l}`).join('\n')
  try {
    log(`crash report: actor '${r.child.name}' (${info.type}, ${where}) failed${r.during ? ` handling ${r.during}` : ''}; supervisor '${r.supervisor}' is ${r.outcome}\n${stack}`)
  } catch { /* a failing log must not stop the restart */ }
}

/** Where crash reports go: the `log` option (a function, `false` for silence), stderr by default. */
export function crashLog(opt: ((line: string) => void) | false | undefined): (line: string) => void {
  return opt === false ? () => {} : opt ?? defaultLog
}

const enum State { Running, Suspended, Stopping, Stopped }

let anon = 0

/**
 * Starts children and keeps them running (Erlang/OTP style). A child that
 * throws from `receive`/`onStart`, or whose thread/process dies, is restarted
 * by the strategy, under the same ref. More than `maxRestarts` restarts
 * within `withinMs` and the supervisor gives up: it stops its children and
 * ends with a SupervisorGaveUpError — reported to its own parent supervisor
 * when nested, otherwise through `join()` and death watch.
 */
export class Supervisor implements Entity, SupervisorHooks {
  readonly id = allocateId()
  readonly name: string
  readonly ref: LocalRef<{ type: 'children' }, { name: string; alive: boolean }[]>
  supervisor: SupervisorHooks | undefined
  exitReason: StopReason | undefined
  private readonly kids: Kid[] = []
  private state = State.Running
  private readonly intensity: RestartIntensity
  /** Delayed restarts (backoff), each cancelled by its function. */
  private readonly timers = new Set<() => void>()
  private readonly exit = new ExitSignal()
  private readonly strategy: Strategy
  private readonly logOption: ((line: string) => void) | false | undefined
  private readonly log: (line: string) => void

  constructor(specs: ChildSpec[], opts: SupervisorOptions = {}, parent?: SupervisorHooks) {
    this.name = opts.name ?? `supervisor-${++anon}`
    this.strategy = opts.strategy ?? 'one-for-one'
    if (!['one-for-one', 'one-for-all', 'rest-for-one'].includes(this.strategy)) throw new TypeError(`supervise: strategy must be 'one-for-one', 'one-for-all' or 'rest-for-one', got '${this.strategy}'`)
    this.intensity = new RestartIntensity(opts)
    if (!Array.isArray(specs)) throw new TypeError('supervise: children must be an array of child specs')
    this.logOption = opts.log
    this.log = crashLog(opts.log)
    this.supervisor = parent
    this.ref = new LocalRef(this)
    register(this)
    this.starting = true
    try {
      for (const spec of specs) this.kids.push({ spec, entity: this.makeChild(spec), restarts: 0 })
    } finally {
      this.starting = false
    }
  }

  // Children may fail while the constructor is still creating them; their reports wait until all exist.
  private starting = false

  private makeChild(spec: ChildSpec): Entity {
    if ('supervise' in spec) return new Supervisor(spec.supervise, { log: this.logOption, ...spec.options, name: spec.name ?? spec.options?.name }, this)
    if (typeof spec.actor !== 'function') throw new TypeError('supervise: each child needs `actor: SomeActorClass` (or `supervise: [...]`)')
    return spawnEntity(spec.actor, spec, this)
  }

  /** The children's refs, in start order; each stays valid across restarts. */
  get children(): ActorRef<any, any>[] {
    return this.kids.map((k) => k.entity.ref)
  }

  /** The ref of the child with this name. */
  child<Msg = unknown, Reply = unknown>(name: string): ActorRef<Msg, Reply> | undefined {
    return this.kids.find((k) => k.entity.name === name)?.entity.ref
  }

  // ---- SupervisorHooks ----

  /** A child threw or its host died: restart by strategy, or give up past the intensity. */
  childFailed(child: Entity, err: Error, during?: string): void {
    if (this.starting) return queueMicrotask(() => this.childFailed(child, err, during))
    if (this.state !== State.Running) {
      this.report(child, err, during, 'stopping it (the supervisor is stopping)')
      void child.stop(err)
      return
    }
    if ((this.kids.find((k) => k.entity === child)?.spec.restart ?? 'transient') === 'temporary') {
      // A temporary child is never restarted (OTP): it ends with its error, and childExited counts it as done.
      this.report(child, err, during, RestartIntensity.notRestartingTemporary)
      void child.stop(err)
      return
    }
    this.report(child, err, during, this.restartFor(child, err))
  }

  private report(child: Entity, err: Error, during: string | undefined, outcome: string): void {
    reportCrash(this.log, { child, err, during, supervisor: this.name, outcome })
  }

  /** A child ended: restart it if its restart type says so. */
  childExited(child: Entity, reason: StopReason): void {
    if (this.starting) return queueMicrotask(() => this.childExited(child, reason))
    if (this.state !== State.Running) return
    const kid = this.kids.find((k) => k.entity === child)
    if (!kid) return
    const type = kid.spec.restart ?? 'transient'
    if (type === 'permanent' || (type === 'transient' && reason instanceof Error)) {
      const outcome = this.restartFor(child, reason instanceof Error ? reason : new Error(`child '${child.name}' ended (${reason}) and is permanent`))
      if (reason instanceof Error) this.report(child, reason, undefined, outcome)
      return
    }
    // Every child has ended for good: nothing is left to supervise, so end normally (else `await sup.join()` would wait forever).
    kid.done = true
    if (this.kids.every((k) => k.done)) this.ended('normal')
  }

  /** Restart per the strategy (or give up); says what it did, for the crash report. */
  private restartFor(child: Entity, err: Error): string {
    const delay = this.intensity.next()
    if (delay < 0) {
      void this.giveUp(child, err)
      return this.intensity.givingUp()
    }
    const i = this.kids.findIndex((k) => k.entity === child)
    const targets = this.strategy === 'one-for-one' ? [child]
      : this.strategy === 'one-for-all' ? this.kids.map((k) => k.entity)
        : this.kids.slice(Math.max(0, i)).map((k) => k.entity)
    const go = () => {
      if (this.state !== State.Running) return
      for (const e of targets) {
        const kid = this.kids.find((k) => k.entity === e)
        if (kid) { kid.restarts++; kid.done = false }
        e.restart()
      }
    }
    // Even without backoff, restart on a fresh stack: a child failing in onStart would otherwise recurse through here.
    const what = this.intensity.restarting(delay, targets.length > 1 ? `it and ${targets.length - 1} sibling(s) (${this.strategy})` : 'it')
    if (delay <= 0) { queueMicrotask(go); return what }
    const cancel = armWait({ timeout: delay, precise: true }, () => { this.timers.delete(cancel); go() }, () => {})
    this.timers.add(cancel)
    return what
  }

  private async giveUp(child: Entity, err: Error): Promise<void> {
    const reason = this.intensity.gaveUp(this.name, child.name, err)
    await this.stopChildren()
    if (this.supervisor && this.state !== State.Stopped) {
      // Nested: our parent's strategy decides whether we start again.
      this.state = State.Suspended
      this.supervisor.childFailed(this, reason)
    } else this.ended(reason)
  }

  private async stopChildren(): Promise<void> {
    this.state = State.Stopping
    for (const cancel of this.timers) cancel()
    this.timers.clear()
    // Reverse start order, like OTP: later children may depend on earlier ones.
    for (const k of [...this.kids].reverse()) await k.entity.stop()
  }

  // ---- Entity ----

  /** Where other places reach this supervisor. */
  address(): Address {
    return localAddress(this.id, this.name)
  }

  /** A supervisor answers `{ type: 'children' }` with its children's names and liveness. */
  tell(msg: unknown, token: ReplyTo | undefined): void {
    const answer = (msg as { type?: string })?.type === 'children' ? this.kids.map((k) => ({ name: k.entity.name, alive: k.entity.alive })) : undefined
    if (answer === undefined) {
      const err = new TypeError(`supervisor '${this.name}' only answers { type: 'children' }`)
      if (token) return token.settle(false, err)
      throw err
    }
    token?.settle(true, answer)
  }

  /** Same as `stop()`: a supervisor has no mailbox to drain. */
  close(): void {
    void this.stop('normal')
  }

  /** Stop every child (reverse order), then end. */
  async stop(reason: StopReason = 'stopped'): Promise<void> {
    if (this.state === State.Stopped) return
    await this.stopChildren()
    this.ended(reason)
  }

  /** Start every child again (a parent supervisor does this after we gave up). */
  restart(): void {
    if (this.state === State.Stopped) { this.exitReason = undefined; register(this) }
    this.state = State.Running
    this.intensity.reset()
    for (const k of this.kids) { k.done = false; k.entity.restart() }
  }

  /** False once ended. */
  get alive(): boolean {
    return this.state !== State.Stopped
  }

  /** Call `fn` when the supervisor ends. */
  onExit(fn: (reason: StopReason) => void): () => void {
    return this.exit.onExit(fn)
  }

  /** Resolves when stopped or when every child has ended for good; rejects with SupervisorGaveUpError when it gave up. */
  join(opts?: JoinOptions): Promise<void> {
    const p = this.state === State.Stopped
      ? (this.exitReason instanceof Error ? Promise.reject(this.exitReason) : Promise.resolve())
      : this.exit.wait()
    return joinWithin(p, opts, `join of supervisor '${this.name}'`)
  }

  /** False once ended. */
  get isAlive(): boolean {
    return this.alive
  }

  /** A supervisor has no mailbox. */
  stats(): undefined {
    return undefined
  }

  /** Kind, place and state for supervision trees. */
  info(): EntityInfo {
    const state = this.state === State.Running ? 'running' : this.state === State.Suspended || this.state === State.Stopping ? 'restarting'
      : this.exitReason instanceof Error ? 'failed' : 'stopped'
    return { type: 'Supervisor', place: 'local', pid: process.pid, state }
  }

  /**
   * The supervision tree under this supervisor, for dashboards: each node's
   * name, class, state, mailbox counters, restarts, place and pid.
   */
  tree(): SupervisionNode {
    return this.node(0)
  }

  private node(restarts: number): SupervisionNode {
    return {
      ...this.info(),
      name: this.name,
      restarts,
      mailbox: 0,
      children: this.kids.map((k) => {
        if (k.entity instanceof Supervisor) return k.entity.node(k.restarts)
        const s = k.entity.stats()
        const info = k.entity.info?.() ?? { type: 'Actor', place: 'local' as const, state: k.entity.alive ? 'running' as const : 'stopped' as const }
        return { ...info, name: k.entity.name, restarts: k.restarts, mailbox: s?.queued ?? 0, processed: s?.processed, children: [] }
      }),
    }
  }

  private ended(reason: StopReason): void {
    if (this.state === State.Stopped) return
    this.state = State.Stopped
    this.exitReason = reason
    unregister(this)
    this.exit.fire(reason)
    this.supervisor?.childExited(this, reason)
  }

  /** `await using sup = supervise(...)` stops it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}

/** Start `children` under a new supervisor (see Supervisor). */
export function supervise(children: ChildSpec[], opts: SupervisorOptions = {}): Supervisor {
  return new Supervisor(children, opts)
}
