import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier, Value, RawArray } from '../../src/sync/index.ts'
import { Process } from '../../src/process/index.ts'
import { SyncStateError, BrokenBarrierError, UnsendableValueError, AbortError } from '../../src/errors.ts'
import * as s from './fixtures/shared.ts'

const started: Process<any>[] = []
after(async () => { await Promise.all(started.map((p) => p.kill())) })

async function threads<A extends unknown[]>(n: number, target: (...a: A) => unknown, args: (i: number) => unknown[]): Promise<Process<A>[]> {
  const ps: Process<A>[] = []
  for (let i = 0; i < n; i++) {
    const p = new Process({ target, args: args(i) as A })
    started.push(p)
    await p.start()
    ps.push(p)
  }
  return ps
}

async function joinAll(ps: Process<any>[]): Promise<void> {
  for (const p of ps) assert.equal(await p.join({ timeout: 30_000 }), 0, String(p.error?.stack))
}

test('a Lock shared by 3 threads makes a read-await-write increment exact', async () => {
  const lock = new Lock()
  const counter = RawArray('i32', 1)
  await joinAll(await threads(3, s.incrementUnderLock, () => [lock, counter, 100]))
  assert.equal(counter[0], 300)
  assert.equal(lock.locked(), false)
})

test('Lock: acquire times out with false, non-blocking acquire fails at once, releasing an unlocked lock throws', async () => {
  const lock = new Lock()
  assert.equal(await lock.acquire(), true)
  assert.equal(await lock.acquire({ blocking: false }), false)
  assert.equal(await lock.acquire({ timeout: 20 }), false)
  lock.release()
  assert.throws(() => lock.release(), SyncStateError)
  const ctl = new AbortController()
  await lock.acquire()
  const waiting = lock.acquire({ signal: ctl.signal })
  ctl.abort()
  await assert.rejects(waiting, AbortError)
  lock.release()
  assert.equal(await lock.acquire({ timeout: 1_000 }), true, 'an aborted waiter does not swallow the wake-up')
})

test('RLock: the holder can take it again and must release as often', async () => {
  const r = new RLock()
  await r.acquire()
  await r.acquire()
  r.release()
  assert.equal(r.isOwned(), true)
  r.release()
  assert.equal(r.isOwned(), false)
  assert.throws(() => r.release(), SyncStateError)
})

test('a Semaphore(2) shared by 4 threads never lets more than 2 in at once', async () => {
  const sem = new Semaphore(2)
  const stats = RawArray('i32', 2)
  await joinAll(await threads(4, s.useSlot, () => [sem, stats, 5]))
  assert.ok(stats[1]! >= 1 && stats[1]! <= 2, `max holders ${stats[1]}`)
  assert.equal(sem.value, 2)
})

test('a BoundedSemaphore refuses a release beyond its initial value', async () => {
  const b = new BoundedSemaphore(1)
  await b.acquire()
  b.release()
  assert.throws(() => b.release(), SyncStateError)
})

test('an Event set in the main thread wakes a thread waiting on it', async () => {
  const ev = new Event()
  const seen = RawArray('i32', 1)
  const [p] = await threads(1, s.waitForEvent, () => [ev, seen])
  assert.equal(await ev.wait({ timeout: 10 }), false)
  ev.set()
  await joinAll([p!])
  assert.equal(seen[0], 1)
})

test('a Condition: a thread waits until the main thread changes the state and notifies', async () => {
  const cond = new Condition()
  const box = RawArray('i32', 2)
  const ready = new Event()
  const [p] = await threads(1, s.waitOnCondition, () => [cond, box, ready])
  assert.equal(await ready.wait({ timeout: 20_000 }), true)
  await cond.run(() => { box[0] = 42; cond.notifyAll() })
  await joinAll([p!])
  assert.equal(box[1], 42)
})

test('a Barrier for 4: three threads and the main thread meet, each with a distinct index', async () => {
  const barrier = new Barrier(4)
  const indexes = RawArray('i32', 3)
  const ps = await threads(3, s.meet, (i) => [barrier, indexes, i])
  const mine = await barrier.wait({ timeout: 20_000 })
  await joinAll(ps)
  assert.deepEqual([...indexes, mine].sort(), [0, 1, 2, 3])
})

test('an aborted Barrier breaks its waiters with BrokenBarrierError', async () => {
  const barrier = new Barrier(2)
  const waiting = barrier.wait()
  barrier.abort()
  await assert.rejects(waiting, BrokenBarrierError)
  assert.equal(barrier.broken, true)
  barrier.reset()
  assert.equal(barrier.broken, false)
})

test('Values shared by 3 threads: atomic add on an integer, lock-guarded update of a float', async () => {
  const count = new Value('i32', 0)
  const total = new Value('f64', 0)
  await joinAll(await threads(3, s.addToValues, () => [count, total, 200]))
  assert.equal(count.value, 600)
  assert.equal(total.value, 300)
  assert.equal(new Value('q', 5n).value, 5n)
})

test('a Lock passed to a child process fails at start() saying to use a manager', async () => {
  const p = new Process({ target: s.incrementUnderLock, args: [new Lock(), RawArray('i32', 1), 1], kind: 'process' })
  await assert.rejects(p.start(), (err: Error) => err instanceof UnsendableValueError && /args\[0\] is a Lock/.test(err.message) && /manager/.test(err.message))
})

test('blocking variants work in worker threads and are refused on the main thread', async () => {
  const lock = new Lock()
  const ev = new Event()
  const counter = RawArray('i32', 1)
  const ps = await threads(2, s.blockingWorker, () => [lock, ev, counter, 500])
  assert.throws(() => lock.acquireSync(), SyncStateError)
  assert.throws(() => ev.waitSync(1), SyncStateError)
  ev.set()
  await joinAll(ps)
  assert.equal(counter[0], 1000)
})
