import type { ModuleRef, Transferable } from '../process/index.js'
import { AsyncResult, passAsPlainPromise } from './async-result.js'
import type { WorkerSlot } from './worker-slot.js'

/** A user function as the pool knows it: located once, then named by a small id in every task. */
export interface FnEntry {
  id: number
  name: string
  ref?: ModuleRef
  /** Set when the function cannot be located; every task of it fails with this. */
  error?: Error
  /** Still being located. */
  pending: boolean
}

/** Where a task is in its life. */
export const QUEUED = 0
export const SENT = 1
export const RUNNING = 2
export const DONE = 3

/** What only some tasks have (kept out of the common task object, which a burst makes by the 100,000). */
export interface TaskExtras {
  timeout?: number
  signal?: AbortSignal
  retriesLeft: number
  transfer?: readonly Transferable[]
  /** Cancels the running-time limit (armed when the task starts). */
  disarmTimeout?: () => void
  /** Stops listening to `signal`. */
  disarmSignal?: () => void
}

/**
 * One unit of work. It *is* the AsyncResult handed to the caller (one object
 * per task, no separate record), with the scheduling fields kept internal.
 */
export class Task<T = unknown> extends AsyncResult<T> {
  state = QUEUED
  worker: WorkerSlot | undefined = undefined

  constructor(
    readonly fn: FnEntry,
    /** Mode and flag bits (protocol.ts); the function id is added when sent. */
    readonly code: number,
    /** Emptied once the task is done, so a result kept around does not keep its arguments alive. */
    public args: unknown[],
    /** When it was submitted (ms since the epoch, sub-ms precision), for wait-time stats. */
    readonly submitted: number,
    /** Approximate bytes of its arguments (approxBytes; for batch sizing). */
    readonly bytes: number,
    /** Timeout, signal, retries, transfers: undefined for a plain task. */
    readonly extras: TaskExtras | undefined,
    callback?: (value: T) => void,
    errorCallback?: (error: Error) => void,
  ) {
    super(callback, errorCallback)
  }

  /** Needs a worker to itself: its timeout or abort may have to stop that worker. */
  get exclusive(): boolean {
    return this.extras !== undefined && (this.extras.timeout !== undefined || this.extras.signal !== undefined)
  }
}
passAsPlainPromise(Task)
