import { TimeoutError } from '../errors.js'
import { load, locate, type ModuleRef } from '../process/index.js'
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
    if (opts.timeout === undefined) return this.promise
    let timer: NodeJS.Timeout | undefined
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`result not ready within ${opts.timeout} ms`)), opts.timeout)
    })
    return Promise.race([this.promise, t]).finally(() => clearTimeout(timer))
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

  constructor(opts: WorkerOptions = {}) {
    this.on = opts.on ?? 'thread'
    this.ref = spawn(TaskRunner, { on: this.on, name: opts.name })
  }

  /** Run `fn(...args)` in the worker; the Result is typed by `fn`. */
  submit<F extends (...args: any[]) => unknown>(fn: F, ...args: Parameters<F>): Result<Awaited<ReturnType<F>>> {
    if (this.on === 'local') return new Result(this.ref.ask<Awaited<ReturnType<F>>>({ fn, args }))
    return new Result(locate(fn).then((mod) => this.ref.ask<Awaited<ReturnType<F>>>({ fn: mod, args })))
  }

  /** Finish what was submitted, then end. */
  close(): void {
    this.ref.close()
  }

  /** Wait until the worker has ended. */
  join(opts?: { timeout?: number }): Promise<void> {
    return this.ref.join(opts)
  }

  /** Stop now; submitted calls not yet run reject. */
  stop(): Promise<void> {
    return this.ref.stop()
  }

  /** `await using w = new Worker()` closes and joins it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close()
    await this.join()
  }
}
