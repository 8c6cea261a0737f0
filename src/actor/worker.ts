import { TimeoutError } from '../errors.js'
import { optionsError, withTimeout } from '../timers.js'
import { Lane, load, locateNow, type ModuleRef } from '../process/index.js'
import { Actor } from './actor.js'
import type { ActorRef } from './ref.js'
import { spawn, type Placement } from './spawn.js'

/** A task for a TaskRunner: a located function (or, locally, the function itself) and its arguments. */
export interface Task {
  fn: ModuleRef | ((...args: any[]) => unknown)
  args: unknown[]
}

const loaded = new Map<string, (...args: any[]) => unknown>()

/** The actor behind `Worker`: runs each submitted function, one at a time, and answers with its result. */
export class TaskRunner extends Actor<Task> {
  /** Run one task; its error answers the submit instead of crashing the worker. */
  async receive(task: Task): Promise<void> {
    const reply = this.deferReply()
    try {
      if (typeof task.fn === 'function') return reply.resolve(await task.fn(...task.args))
      const key = `${task.fn.url}#${task.fn.name}`
      let fn = loaded.get(key)
      if (!fn) {
        fn = await load<(...args: any[]) => unknown>(task.fn)
        loaded.set(key, fn)
      }
      reply.resolve(await fn(...task.args))
    } catch (err) {
      reply.reject(err)
    }
  }
}

/**
 * The future of a submitted call (seed 001's `Result`): awaitable, or read
 * with `result({ timeout })` like Python's `Future.result(timeout)`.
 */
export class Result<T> implements PromiseLike<T> {
  private readonly promise: Promise<T>
  private state: 'pending' | 'fulfilled' | 'rejected' = 'pending'

  constructor(promise: Promise<T>) {
    this.promise = promise
    // Settled state is tracked here; a Result nobody reads must not be an unhandled rejection.
    promise.then(() => { this.state = 'fulfilled' }, () => { this.state = 'rejected' })
  }

  /** Await the value. */
  then<A = T, B = never>(onFulfilled?: ((v: T) => A | PromiseLike<A>) | null, onRejected?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.promise.then(onFulfilled, onRejected)
  }

  /** The value; rejects with the task's error, or TimeoutError when `timeout` ms pass first (the task keeps running). */
  result(opts: { timeout?: number } = {}): Promise<T> {
    const bad = optionsError('Result.result()', opts, '{ timeout? }')
    if (bad) return Promise.reject(bad)
    return withTimeout(this.promise, opts, () => new TimeoutError(`result not ready within ${opts.timeout} ms`))
  }

  /** True once the call finished (either way). */
  ready(): boolean {
    return this.state !== 'pending'
  }

  /** True once the call finished without throwing. */
  successful(): boolean {
    return this.state === 'fulfilled'
  }
}

/** Options of `new Worker()`. */
export interface WorkerOptions {
  /** Where the submitted functions run (default `'thread'`). */
  on?: Placement
  name?: string
}

/**
 * Seed 001's Worker: an actor in its own thread (or process) that runs the
 * functions you submit, in order. `submit(add, 2, 3)` returns a Result; the
 * function must be exported from its module (found with `locate`).
 */
export class Worker {
  /** The TaskRunner actor doing the work. */
  readonly ref: ActorRef<Task, unknown>
  private readonly on: Placement
  // Submissions wait here while their function is located, so a close() made after them stays after them.
  private readonly lane = new Lane()

  constructor(opts: WorkerOptions = {}) {
    const bad = optionsError('new Worker()', opts, '{ on?, name? }', 1, `write new Worker({ on: '${String(opts)}' })`)
    if (bad) throw bad
    this.on = opts.on ?? 'thread'
    this.ref = spawn(TaskRunner, { on: this.on, name: opts.name })
  }

  /** Run `fn(...args)` in the worker; the Result is typed by `fn`. Runs after everything submitted before, even if `close()` follows at once. */
  submit<F extends (...args: any[]) => unknown>(fn: F, ...args: Parameters<F>): Result<Awaited<ReturnType<F>>> {
    const where = this.on === 'local' ? fn : locateNow(fn)
    return new Result(Promise.resolve(this.lane.run(where, (f) => this.ref.ask<Awaited<ReturnType<F>>>({ fn: f, args }))))
  }

  /** Finish what was submitted (including submissions still being located), then end. */
  close(): void {
    void this.lane.run(undefined, () => this.ref.close())
  }

  /** Wait until the worker has ended. */
  join(opts?: { timeout?: number }): Promise<void> {
    return this.ref.join(opts)
  }

  /** Stop now; submitted calls not yet run reject. */
  stop(): Promise<void> {
    return Promise.resolve(this.lane.run(undefined, () => this.ref.stop()))
  }

  /** `await using w = new Worker()` closes and joins it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.join()
  }
}
