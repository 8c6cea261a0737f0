/**
 * One timer structure for every deadline in this place: ask timeouts, receive
 * timeouts and delayed self-sends share a binary heap ordered by deadline and
 * a single `setTimeout` armed for the earliest live entry. Cancelling is lazy
 * (an entry is marked dead and skipped when it surfaces), so the common case —
 * an ask answered long before its timeout — costs one heap push and no timer
 * call at all.
 */

/** An entry in the deadline queue. */
export interface Timed {
  /** `performance.now()` ms at which `fire` runs. */
  deadline: number
  /** False once cancelled or fired; dead entries are skipped when they surface. */
  live: boolean
  /** Called once, when the deadline passes while the entry is live. */
  fire(): void
}

const heap: Timed[] = []
let liveCount = 0
let timer: NodeJS.Timeout | undefined
let armedFor = Infinity

function up(i: number): void {
  const e = heap[i]!
  while (i > 0) {
    const p = (i - 1) >> 1
    if (heap[p]!.deadline <= e.deadline) break
    heap[i] = heap[p]!
    i = p
  }
  heap[i] = e
}

function down(i: number): void {
  const n = heap.length
  const e = heap[i]!
  for (;;) {
    let c = 2 * i + 1
    if (c >= n) break
    if (c + 1 < n && heap[c + 1]!.deadline < heap[c]!.deadline) c++
    if (heap[c]!.deadline >= e.deadline) break
    heap[i] = heap[c]!
    i = c
  }
  heap[i] = e
}

function pop(): Timed {
  const top = heap[0]!
  const last = heap.pop()!
  if (heap.length > 0) { heap[0] = last; down(0) }
  return top
}

function arm(): void {
  // Dead entries at the top would arm the timer for nothing; drop them first.
  while (heap.length > 0 && !heap[0]!.live) pop()
  if (liveCount === 0 || heap.length === 0) {
    if (timer) { clearTimeout(timer); timer = undefined; armedFor = Infinity }
    return
  }
  const next = heap[0]!.deadline
  if (timer && armedFor <= next) return
  if (timer) clearTimeout(timer)
  armedFor = next
  timer = setTimeout(onTimer, Math.max(0, Math.ceil(next - performance.now())))
}

function onTimer(): void {
  timer = undefined
  armedFor = Infinity
  const now = performance.now()
  while (heap.length > 0 && heap[0]!.deadline <= now) {
    const e = pop()
    if (!e.live) continue
    e.live = false
    liveCount--
    e.fire()
  }
  arm()
}

/** Schedule `entry` to fire at `entry.deadline`. */
export function addDeadline(entry: Timed): void {
  entry.live = true
  liveCount++
  heap.push(entry)
  up(heap.length - 1)
  // Many answered asks leave dead entries behind; rebuild when they dominate.
  if (heap.length > 1024 && heap.length > liveCount * 4) compact()
  if (entry.deadline < armedFor) arm()
}

/** Cancel an entry (lazily: it stays in the heap, dead, until it surfaces). */
export function cancelDeadline(entry: Timed): void {
  if (!entry.live) return
  entry.live = false
  liveCount--
  // With nothing live left, the timer must not keep the process alive.
  if (liveCount === 0) arm()
}

function compact(): void {
  let j = 0
  for (let i = 0; i < heap.length; i++) if (heap[i]!.live) heap[j++] = heap[i]!
  heap.length = j
  for (let i = (j >> 1) - 1; i >= 0; i--) down(i)
}

/** How many live deadlines are waiting (for tests and diagnostics). */
export function liveDeadlines(): number {
  return liveCount
}
