/**
 * The run queue of this thread: actors with messages waiting, drained in
 * turn. One microtask drains up to TURN_BUDGET messages across actors (at most
 * ACTOR_BATCH from one actor before it goes to the back of the queue), then
 * the rest waits for `setImmediate` so timers and I/O run between turns: a
 * flood of local messages never starves the event loop.
 */

/** Something the dispatcher can run: an actor cell. */
export interface Runnable {
  /** True while the runnable sits in the run queue. */
  queued: boolean
  /** Process up to `budget` messages; returns how many were processed. Must requeue itself if it still has work. */
  drain(budget: number): number
}

/** Messages one actor may process before another waiting actor gets a turn. */
export const ACTOR_BATCH = 1024
/** Messages processed per event-loop turn before yielding to timers and I/O. */
export const TURN_BUDGET = 16384

// A drain is started as a reaction of this settled promise rather than with queueMicrotask, which
// wraps every callback in an AsyncResource (about 80 ns against 30, paid per local ask). run() never
// throws: each actor's failures are caught and supervised inside its drain.
const SETTLED = Promise.resolve()

let ready: Runnable[] = []
let head = 0
let scheduled = false
let immediate = false

/** Put a runnable at the back of the run queue and make sure a drain is coming. */
export function schedule(r: Runnable): void {
  r.queued = true
  ready.push(r)
  if (!scheduled) {
    scheduled = true
    void SETTLED.then(run)
  }
}

function run(): void {
  let budget = TURN_BUDGET
  while (head < ready.length && budget > 0) {
    const r = ready[head]!
    ready[head++] = undefined as unknown as Runnable
    r.queued = false
    budget -= r.drain(budget < ACTOR_BATCH ? budget : ACTOR_BATCH)
  }
  if (head === ready.length) {
    ready.length = 0
    head = 0
    scheduled = false
    return
  }
  if (head > 4096) { ready = ready.slice(head); head = 0 }
  // Budget spent with work left: continue after I/O had its turn.
  if (!immediate) {
    immediate = true
    setImmediate(() => { immediate = false; run() })
  }
}
