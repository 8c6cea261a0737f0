// The floor for one-task-at-a-time latency (bench/pool.ts): no messages at all. The main thread
// writes the arguments into shared memory and bumps a counter; this worker, blocked in
// Atomics.wait, wakes, adds, writes the result and bumps the answer counter.
import { workerData } from 'node:worker_threads'

const ctl = new Int32Array(workerData, 0, 4)
const num = new Float64Array(workerData, 16, 3)
let seen = 0
for (;;) {
  Atomics.wait(ctl, 0, seen)
  seen = Atomics.load(ctl, 0)
  if (seen < 0) break
  num[2] = num[0] + num[1]
  Atomics.store(ctl, 1, seen)
  Atomics.notify(ctl, 1)
}
