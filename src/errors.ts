/**
 * Every error troupe raises, by name. Each has a stable `code` for programs to
 * match on; errors that crossed a thread, process or socket also carry
 * `origin` (where they were thrown) and `remoteStack`.
 */

/** Base class of every troupe error. */
export class TroupeError extends Error {
  /** Stable machine-readable code, e.g. `ERR_TROUPE_TIMEOUT`. */
  readonly code: string = 'ERR_TROUPE'
  /** Where the error happened when it crossed a boundary (`worker 3`, `pid 123`, `127.0.0.1:5000`). */
  origin?: string
  /** The stack as it was in the place that threw. */
  remoteStack?: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

function define<C extends string>(name: string, code: C) {
  const cls = class extends TroupeError {
    override readonly code: string = code
  }
  Object.defineProperty(cls, 'name', { value: name })
  return cls
}

/** An operation did not finish in time (a `get`, a `join`, an `ask`, a task). */
export class TimeoutError extends define('TimeoutError', 'ERR_TROUPE_TIMEOUT') {}
/** An operation was cancelled through an AbortSignal. */
export class AbortError extends define('AbortError', 'ERR_TROUPE_ABORTED') {}
/** `getNowait()` / `get({ timeout })` found the queue empty (Python's `queue.Empty`). */
export class Empty extends define('Empty', 'ERR_TROUPE_EMPTY') {}
/** `putNowait()` / `put({ timeout })` found the queue full (Python's `queue.Full`). */
export class Full extends define('Full', 'ERR_TROUPE_FULL') {}
/** The queue, pipe, pool or actor was closed. */
export class ClosedError extends define('ClosedError', 'ERR_TROUPE_CLOSED') {}
/** `recv()` on a pipe end whose other end closed (or ended), once everything it sent was received (Python's EOFError). */
export class EOFError extends ClosedError {
  override readonly code: string = 'ERR_TROUPE_EOF'
}
/** `send()` on a pipe end whose other end closed (or ended) (Python's BrokenPipeError). */
export class BrokenPipeError extends ClosedError {
  override readonly code: string = 'ERR_TROUPE_BROKEN_PIPE'
}
/** `taskDone()` was called more times than items were put. */
export class TaskDoneError extends define('TaskDoneError', 'ERR_TROUPE_TASK_DONE') {}
/** A value cannot be sent to another thread, process or host; `path` says where inside it. */
export class UnsendableValueError extends define('UnsendableValueError', 'ERR_TROUPE_UNSENDABLE') {
  /** Where inside the value the offending part sits, e.g. `args[1].callback`. */
  path = ''
}
/** A function or class cannot be located by module URL and export name. */
export class UnlocatableFunctionError extends define('UnlocatableFunctionError', 'ERR_TROUPE_UNLOCATABLE') {}
/** A worker thread or child process died while it owned work. */
export class WorkerCrashedError extends define('WorkerCrashedError', 'ERR_TROUPE_WORKER_CRASHED') {
  /** Pool/worker id of the dead worker. */
  workerId?: number | string
  /** Exit code, when it exited. */
  exitCode?: number | null
  /** Signal name, when it was killed by one. */
  signal?: string | null
}
/** A process target, task or actor threw; `cause` holds the remote error. */
export class RemoteError extends define('RemoteError', 'ERR_TROUPE_REMOTE') {}
/** The peer's HMAC answer was wrong, or it rejected ours. */
export class AuthenticationError extends define('AuthenticationError', 'ERR_TROUPE_AUTH') {}
/** The connection closed while a request was in flight. */
export class ConnectionClosedError extends define('ConnectionClosedError', 'ERR_TROUPE_CONNECTION_CLOSED') {}
/** A frame was malformed or larger than the configured limit. */
export class ProtocolError extends define('ProtocolError', 'ERR_TROUPE_PROTOCOL') {}
/** The bytes could not be decoded by a codec (v8, pickle, json). */
export class DecodeError extends define('DecodeError', 'ERR_TROUPE_DECODE') {}
/** A pickle named a global outside troupe's allow-list (never imported or called). */
export class ForbiddenGlobalError extends define('ForbiddenGlobalError', 'ERR_TROUPE_FORBIDDEN_GLOBAL') {}
/** A mailbox with `overflow: 'fail'` is full. */
export class MailboxFullError extends define('MailboxFullError', 'ERR_TROUPE_MAILBOX_FULL') {}
/** The actor is not running (stopped, crashed, or never started). */
export class ActorStoppedError extends define('ActorStoppedError', 'ERR_TROUPE_ACTOR_STOPPED') {}
/** No actor of that name exists (a Redis actor never spawned under that name and prefix); an ActorStoppedError too. */
export class ActorNotFoundError extends ActorStoppedError {
  override readonly code: string = 'ERR_TROUPE_ACTOR_NOT_FOUND'
}
/** A supervisor gave up: its children failed faster than `maxRestarts` within `withinMs`. */
export class SupervisorGaveUpError extends define('SupervisorGaveUpError', 'ERR_TROUPE_SUPERVISOR_GAVE_UP') {}
/** The pool was terminated or closed while this task was pending. */
export class PoolClosedError extends define('PoolClosedError', 'ERR_TROUPE_POOL_CLOSED') {}
/** A Lock/Semaphore was released more often than acquired, or by a non-owner. */
export class SyncStateError extends define('SyncStateError', 'ERR_TROUPE_SYNC_STATE') {}
/** A Barrier was aborted or broken while a party was waiting. */
export class BrokenBarrierError extends define('BrokenBarrierError', 'ERR_TROUPE_BROKEN_BARRIER') {}
/**
 * A worker imported the program's entry module (to find a function or class
 * defined there) and its top-level code tried to start a thread, process,
 * pool or actor: the program lacks its `isMainModule(import.meta)` guard
 * (Python's `if __name__ == '__main__':`).
 */
export class MissingMainGuardError extends define('MissingMainGuardError', 'ERR_TROUPE_MISSING_MAIN_GUARD') {}
/** A manager method is not exposed, or the typeid is unknown. */
export class UnknownMethodError extends define('UnknownMethodError', 'ERR_TROUPE_UNKNOWN_METHOD') {}
/** This node no longer holds the lease of a Redis actor (it stalled past `leaseMs`, or could not renew): it stops handling at once. */
export class LeaseLostError extends define('LeaseLostError', 'ERR_TROUPE_LEASE_LOST') {}

/** Every named troupe error class, by name: used to rebuild errors that crossed a boundary. */
export const errorClasses: Record<string, new (message: string) => TroupeError> = {
  TroupeError, TimeoutError, AbortError, Empty, Full, ClosedError, EOFError, BrokenPipeError, TaskDoneError,
  UnsendableValueError, UnlocatableFunctionError, WorkerCrashedError, RemoteError,
  AuthenticationError, ConnectionClosedError, ProtocolError, DecodeError, ForbiddenGlobalError,
  MailboxFullError, ActorStoppedError, ActorNotFoundError, SupervisorGaveUpError, PoolClosedError, SyncStateError,
  BrokenBarrierError, UnknownMethodError, LeaseLostError, MissingMainGuardError,
}
