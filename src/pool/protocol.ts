/**
 * The pool's wire between the main thread and a worker. Messages are plain
 * arrays (cheap to structured-clone and to v8-serialize) whose first element
 * names them. Tasks travel in batches, flattened: `[RUN, code, argc, ...args,
 * code, argc, ...args]`, so a batch of 1,000 tasks is one message with no
 * per-task object on either side.
 */
import { HOT_SLOTS, type HotLink } from '../process/index.js'

/** main -> worker: a batch of tasks. */
export const RUN = 0
/** main -> worker: `[DEF, id, url, name]`, a function the following tasks call by id. */
export const DEF = 1
/** main -> worker: finish what was sent, then exit. */
export const STOP = 2

/**
 * worker -> main: `[DONE, values, errorIndexes, timings]` (timings: start, duration per task) for
 * the next `values.length` tasks, in order. A map chunk whose results are all numbers comes back as
 * a Float64Array.
 */
export const DONE = 10
/** worker -> main: the (exclusive) task sent last has started running; its timeout starts now. */
export const STARTED = 11
/** worker -> main: `[INIT_FAILED, wireError]`, the pool's initializer threw. */
export const INIT_FAILED = 12
/** worker -> main: listening (child processes drop IPC messages that arrive before the runtime listens). */
export const READY = 13

// A task's `code` packs the function id with how to call it, so a task costs two numbers.
/** Call `fn(...args)`. */
export const MODE_APPLY = 0
/** `args[0]` is a chunk of items: return `items.map((x) => fn(x))`. */
export const MODE_MAP = 1
/** `args[0]` is a chunk of argument lists: return `items.map((a) => fn(...a))`. */
export const MODE_STARMAP = 2
/** Mask of the mode bits. */
export const MODE_MASK = 3
/** Tell the main thread when this task starts (it has a timeout or an AbortSignal). */
export const FLAG_REPORT_START = 4
/** Arguments hold portable references to revive. */
export const FLAG_PORTABLES = 8
/** A map chunk of plain numbers travels as one Float64Array (one copy, no per-item encoding). */
export const FLAG_NUMBERS = 16
/** The function id sits above the mode and flag bits. */
export const FN_SHIFT = 5

// The pool's own slots in a thread worker's hot channel state (process/hot-channel.ts keeps its
// counters below HOT_SLOTS).
/** How many tasks the worker has started (wrapping int32); tells which task a dead worker was running. */
export const SLOT_STARTED = HOT_SLOTS
/** 1 while a task runs. */
export const SLOT_RUNNING = HOT_SLOTS + 1
/** Slots the pool adds. */
export const POOL_SLOTS = 2

/** What the pool hands a worker at boot. */
export interface WorkerBootData {
  id: number
  /** Thread workers: the task/result channel and its shared state. */
  hot?: HotLink
  /** Functions already known to the pool: `[id, url, name]`. */
  defs: [number, string, string][]
  initializer?: { url: string; name: string }
  initargs?: unknown[]
  /** Flush results after every task (child processes: a dead child must not take finished results with it). */
  flushEach: boolean
  /** How long an idle thread waits on Atomics before handing back to its event loop (ms). */
  idleSpinMs: number
}
