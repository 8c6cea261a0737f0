/**
 * Process: run a user's exported function in a worker thread (default) or a
 * child process, Python-style. The target is found by module URL and export
 * name (`locate`), its arguments cross with `marshal` (structured clone for
 * threads, v8 for processes), and the place it runs in joins the router tree
 * so queues and references passed in the arguments work there.
 */
import { marshal, toWireError, fromWireError, PORTABLE_TAG, type Marshalled, type WireError } from '../codec/index.js'
import { TroupeError, UnsendableValueError } from '../errors.js'
import { armWait, holdUntilSettled, optionsError } from '../timers.js'
import { Endpoint, type Boot, type Kind, type Transferable } from './endpoint.js'
import { Lane } from './lane.js'
import { assertNotBootstrapping, locateNow, load, type ModuleRef } from './locate.js'
import { currentPlace, placeLabel, type PlaceInfo } from './place.js'
import { reviveAsync, runPlaceExitHooks } from './router.js'

/** How to run a target. */
export interface ProcessOptions<A extends unknown[]> {
  /**
   * An exported function (sync or async) of some module; it runs in the new
   * place. Omit it in a subclass that overrides `run()` (Python's `class P(Process)`).
   */
  target?: (...args: A) => unknown
  /** Its arguments; default none. */
  args?: A
  /** `'thread'` (default) or `'process'`. */
  kind?: Kind
  /** Default `Process-N`, as in Python. */
  name?: string
  /** A daemon does not keep the parent alive and is killed when the parent exits. Default false. */
  daemon?: boolean
  /** ArrayBuffers / MessagePorts inside `args` to transfer instead of copy (threads only). */
  transfer?: Transferable[]
}

/** Bootstrap data the runtime receives. */
interface ProcessBoot {
  target: ModuleRef; args: unknown[]; portables: boolean
  /** Set when `target` is a Process subclass whose `run()` is the target: its public fields, and `args[0]` its own state. */
  subclass?: { name: string; kind: Kind; daemon: boolean }
}

/** What start() sends: the function to locate, the checked arguments and, for a subclass, its fields. */
interface LaunchPlan { fn: Function; values: Marshalled; subclass?: ProcessBoot['subclass'] }

// The keys a Process has before a subclass's fields exist: what is left over is the subclass's own state.
const baseKeys = new WeakMap<object, Set<string>>()

/** Messages a Process runtime sends its parent. */
type RuntimeMessage = { t: 'error' | 'boot-error'; error: WireError } | { t: 'done'; code: number }

let processSeq = 0
// Non-daemon Processes started from this place: it waits for them before exiting, as Python does.
const liveChildren = new Set<Process<any>>()
const runtimeRef: ModuleRef = { url: import.meta.url, name: 'processRuntime' }

/** Python's `current_process()`: name, kind, pid, parent pid and thread id of the calling code. */
export function currentProcess(): PlaceInfo {
  return currentPlace()
}

/** Python's `active_children()`: Processes started from this place that are still running. */
export function activeChildren(): Process<any>[] {
  return [...liveChildren].filter((p) => p.isAlive)
}

/** Where inside `v` shared memory sits (SharedArrayBuffer, a view on one, or a portable marked `shared`). */
function findSharedMemory(v: unknown, path: string, seen = new Set<object>()): { path: string; what: string } | undefined {
  if (v === null || typeof v !== 'object' || seen.has(v)) return undefined
  seen.add(v)
  if (v instanceof SharedArrayBuffer) return { path, what: 'a SharedArrayBuffer' }
  if (ArrayBuffer.isView(v)) return v.buffer instanceof SharedArrayBuffer ? { path, what: `a ${v.constructor.name} on shared memory` } : undefined
  if (v instanceof ArrayBuffer) return undefined
  const rec = v as Record<string, unknown>
  if (typeof rec[PORTABLE_TAG] === 'string' && (rec.data as { shared?: unknown } | undefined)?.shared === true) {
    return { path, what: `a ${String(rec[PORTABLE_TAG]).replace(/^troupe\./, '')}` }
  }
  const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [`${path}[${i}]`, x])
    : v instanceof Map ? [...v].map(([k, x]) => [`${path}.get(${JSON.stringify(String(k))})`, x])
    : v instanceof Set ? [...v].map((x) => [`${path}.<item>`, x])
    : Object.keys(rec).map((k) => [`${path}.${k}`, rec[k]])
  for (const [p, x] of entries) {
    const hit = findSharedMemory(x, p, seen)
    if (hit) return hit
  }
  return undefined
}

/**
 * A target running in another thread or child process (Python's
 * `multiprocessing.Process`). `start()` it, `join()` it, read `exitCode` and
 * `error`.
 */
export class Process<A extends unknown[] = unknown[]> {
  /** Shown by `currentProcess().name` inside and in logs. */
  readonly name: string
  /** `'thread'` or `'process'`. */
  readonly kind: Kind
  /** Whether it is a daemon (set before `start()`). */
  daemon: boolean
  /** The error the target threw (class, message, remote stack and origin kept), once it has. */
  error: Error | undefined
  private readonly target: ((...args: A) => unknown) | undefined
  private readonly args: A
  private readonly transfer?: Transferable[]
  private endpoint: Endpoint | undefined
  private started = false
  private startFailure: Error | undefined
  // start() takes its place here at once; join/terminate/kill made before it finished wait their turn.
  private readonly lane = new Lane()

  constructor(opts: ProcessOptions<A> = {}) {
    const bad = optionsError('new Process()', opts, '{ target?, args?, kind?, name?, daemon? }', 1, 'write new Process({ target: fn, args: [...] })')
    if (bad) throw bad
    if ((opts as { kwargs?: unknown }).kwargs !== undefined) throw new TypeError('new Process(): there are no kwargs (a JavaScript function takes no keyword arguments): pass an object in args')
    this.target = opts.target
    this.args = (opts.args ?? []) as A
    this.kind = opts.kind ?? 'thread'
    this.name = opts.name ?? `Process-${++processSeq}`
    this.daemon = opts.daemon ?? false
    this.transfer = opts.transfer
    if (typeof opts.target !== 'function' && !this.overridesRun()) throw new TypeError(`Process target must be a function, got ${typeof opts.target} (or subclass Process and override run())`)
    if (this.kind !== 'thread' && this.kind !== 'process') throw new TypeError(`Process kind must be 'thread' or 'process', got ${String(this.kind)}`)
    baseKeys.set(this, new Set(Object.keys(this)))
  }

  /**
   * What the new place runs (Python's `run()`): the target with its args. A
   * subclass may override it instead of passing a target; the subclass must
   * be exported, and its own fields travel to the new place as `args` do.
   */
  run(): unknown {
    return this.target?.(...this.args)
  }

  private overridesRun(): boolean {
    return this.run !== Process.prototype.run
  }

  /** The function or subclass to locate, the values it needs (checked by `marshal`), and how the place starts it. */
  private launchPlan(): LaunchPlan {
    if (!this.overridesRun()) return { fn: this.target!, values: marshal(this.args, 'args') }
    const own = baseKeys.get(this)!
    const state: Record<string, unknown> = {}
    for (const k of Object.keys(this)) if (!own.has(k)) state[k] = (this as Record<string, unknown>)[k]
    const m = marshal(state, 'this')
    return { fn: this.constructor, values: { value: [m.value], portables: m.portables }, subclass: { name: this.name, kind: this.kind, daemon: this.daemon } }
  }

  /**
   * Check the arguments (now: later changes to them are not seen, as Python
   * pickles them at start), locate the target and start the thread or child
   * process. Rejects with UnlocatableFunctionError (naming the function) or
   * UnsendableValueError (naming the path, e.g. `args[1].callback`).
   * `join()`, `terminate()` and `kill()` called before it resolves wait for
   * it, so `p.start(); await p.join()` works as in Python.
   */
  start(): Promise<void> {
    if (this.started) return Promise.reject(new TroupeError(`${this.name} was already started; a Process can be started once`))
    this.started = true
    let plan: LaunchPlan
    try {
      assertNotBootstrapping(`Process ${this.name}`)
      plan = this.launchPlan()
      const m = plan.values
      if (this.kind === 'process') {
        const shared = findSharedMemory(m.value, 'args')
        if (shared) {
          const err = new UnsendableValueError(
            `${shared.path} is ${shared.what}, which only threads of one process can share. ` +
            "Use kind: 'thread', or get the primitive from a manager to share it across child processes and hosts.")
          err.path = shared.path
          throw err
        }
      }
    } catch (err) {
      this.startFailure = err as Error
      return Promise.reject(err)
    }
    const located = locateNow(plan.fn)
    // Remembered for join(); the promise returned stays unhandled unless the caller handles it, so the error shows.
    if (located instanceof Promise) located.catch((err: Error) => { this.startFailure = err })
    return Promise.resolve(this.lane.run(located, (ref) => this.spawn(ref, plan)))
  }

  private spawn(ref: ModuleRef, plan: LaunchPlan): void {
    const m = plan.values
    const data: ProcessBoot = { target: ref, args: m.value as unknown[], portables: m.portables, subclass: plan.subclass }
    const endpoint = new Endpoint({ kind: this.kind, runtime: runtimeRef, data, name: this.name, transfer: this.transfer })
    this.endpoint = endpoint
    endpoint.onMessage((msg: RuntimeMessage) => {
      if (msg.t === 'done') endpoint.send({ t: 'bye' })
      else if (msg.t === 'error' || msg.t === 'boot-error') {
        this.error = fromWireError(msg.error)
        if (this.kind === 'thread' || msg.t === 'boot-error') console.error(`Process ${this.name}:\n${msg.error.stack || `${msg.error.name}: ${msg.error.message}`}`)
      }
    })
    if (this.daemon) {
      endpoint.unref()
      if (this.kind === 'process') {
        // Python terminates daemonic children when the parent exits; a busy child would not notice the closed channel.
        const killAtExit = () => { void endpoint.terminate() }
        process.once('exit', killAtExit)
        void endpoint.exited.then(() => process.off('exit', killAtExit))
      }
    } else {
      liveChildren.add(this)
      void endpoint.exited.then(() => liveChildren.delete(this))
    }
  }

  /** The endpoint once started (after a `start()` still locating its target); rejects if it never started. */
  private whenStarted(what: string): Promise<Endpoint> {
    if (!this.started) return Promise.reject(new TroupeError(`${this.name} must be started before ${what}`))
    return Promise.resolve(this.lane.run(undefined, () => {
      if (!this.endpoint) throw this.startFailure ?? new TroupeError(`${this.name} did not start`)
      return this.endpoint
    }))
  }

  /** Wait until it ends, or `timeout` ms pass; resolves with `exitCode` (null if still running). */
  async join(opts: { timeout?: number } = {}): Promise<number | null> {
    const bad = optionsError('Process.join()', opts, '{ timeout? }')
    if (bad) throw bad
    const endpoint = this.endpoint ?? await holdUntilSettled(this.whenStarted('join()'))
    // Held open while awaited, so joining a daemon keeps the program alive until it ends (as Python blocks).
    await new Promise<void>((resolve) => {
      const disarm = armWait({ timeout: opts.timeout }, () => resolve(), () => resolve())
      void endpoint.exited.then(() => { disarm(); resolve() })
    })
    return this.exitCode
  }

  /** Stop it: SIGTERM for a child process, thread termination for a thread (exitCode -15). Resolves when it has ended. */
  async terminate(): Promise<void> {
    const endpoint = this.endpoint ?? (this.started ? await holdUntilSettled(this.whenStarted('terminate()')).catch(() => undefined) : undefined)
    if (endpoint) await holdUntilSettled(endpoint.terminate())
  }

  /** Kill it at once: SIGKILL for a child process (exitCode -9). Resolves when it has ended. */
  async kill(): Promise<void> {
    const endpoint = this.endpoint ?? (this.started ? await holdUntilSettled(this.whenStarted('kill()')).catch(() => undefined) : undefined)
    if (endpoint) await holdUntilSettled(endpoint.kill())
  }

  /** True between `start()` and its end. */
  get isAlive(): boolean {
    return this.endpoint?.alive ?? false
  }

  /** OS pid (for a thread, the pid of the process it runs in); undefined before start. */
  get pid(): number | undefined {
    return this.endpoint?.pid
  }

  /** Worker thread id (threads only). */
  get threadId(): number | undefined {
    return this.endpoint?.threadId
  }

  /** Null while running; the exit code once ended, or minus the signal number when killed (-9, -15). */
  get exitCode(): number | null {
    return this.endpoint?.exit?.exitCode ?? null
  }

  /** Resolves when it has ended (whether or not someone joins). */
  get exited(): Promise<unknown> {
    return this.endpoint?.exited ?? Promise.resolve()
  }

  /** `await using p = new Process(...)`: kills it if still running at scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.isAlive) await this.kill()
  }
}

/**
 * The function every Process place runs (named in the Endpoint's boot record):
 * load the target, revive its arguments, await it, report a thrown error,
 * flush, wait for non-daemon children, then exit with Python's codes.
 */
export async function processRuntime(boot: Boot): Promise<void> {
  const { target, args, portables, subclass } = boot.data as ProcessBoot
  const link = boot.link
  let sayBye!: () => void
  const bye = new Promise<void>((r) => { sayBye = r })
  link.onMessage((msg: { t?: string }) => { if (msg?.t === 'bye') sayBye() })
  let failed = false
  const fail = (err: unknown) => {
    if (failed) return
    failed = true
    // Like Python, a failed process prints the traceback on its own stderr. A thread's stderr reaches the
    // parent asynchronously and can be lost if the parent exits first, so the parent prints a thread's.
    if (boot.info.kind === 'process') console.error(`Process ${boot.info.name}:\n${(err as Error)?.stack ?? String(err)}`)
    link.send({ t: 'error', error: toWireError(err, placeLabel()) })
  }
  let finishing: Promise<void> | undefined
  const finish = (code: number) => finishing ??= (async () => {
    await runPlaceExitHooks()
    await Promise.all([...liveChildren].map((p) => p.join()))
    // Everything sent before 'done' is received before the parent answers 'bye' (one FIFO link), so nothing is lost.
    link.send({ t: 'done', code })
    const timer = setTimeout(sayBye, 5000)
    await bye
    clearTimeout(timer)
    process.exit(code)
  })()
  // An error thrown from a callback the target left behind ends the place like one thrown by the target.
  process.on('uncaughtException', (err) => { fail(err); void finish(1) })
  try {
    const fn = await load<(...a: unknown[]) => unknown>(target)
    const values = (portables ? await reviveAsync(args) : args) as unknown[]
    if (subclass) {
      // A Process subclass: rebuild the instance without its constructor (as Python unpickles one) and run it.
      const self = Object.create((fn as unknown as { prototype: object }).prototype) as Process
      Object.assign(self, subclass, values[0])
      await self.run()
    } else await fn(...values)
  } catch (err) {
    fail(err)
  }
  await finish(failed ? 1 : 0)
}
