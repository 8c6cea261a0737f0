import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Manager, BaseManager, SharedRLock, SharedLock, SharedSemaphore, SharedBarrier, typed, proxyInfo } from '../../src/manager/index.ts'
import { BrokenBarrierError, SyncStateError, TaskDoneError, TimeoutError, Full, Empty } from '../../src/errors.ts'
import { connectToManager } from './helpers.ts'
import { tuple, float, FrozenSet } from '../../src/codec/index.ts'

let m: Manager
const clients: { shutdown(): Promise<void> }[] = []
after(async () => { for (const c of clients) await c.shutdown(); await m?.shutdown() })

async function setup(): Promise<Manager> {
  m ??= await new Manager({ authkey: 'types', log: false }).serve()
  return m
}
async function another(): Promise<Manager> {
  const c = await connectToManager((await setup()).address, 'types')
  clients.push(c)
  return c
}

test('JoinableQueue: join waits for every taskDone; one too many is TaskDoneError', async () => {
  const q = await (await setup()).JoinableQueue<number>()
  await q.putMany([1, 2])
  let joined = false
  const j = q.join().then(() => { joined = true })
  await q.get(); await q.taskDone()
  assert.equal(joined, false)
  await q.get(); await q.taskDone()
  await j
  assert.equal(joined, true)
  await assert.rejects(q.taskDone(), TaskDoneError)
  await q.put(3)
  await assert.rejects(q.join({ timeout: 20 }), TimeoutError)
})

test('Queue.purge removes what waits (a JoinableQueue counts it done); stats tell the oldest waiting item\'s age and closed', async () => {
  const q = await (await setup()).JoinableQueue<number>()
  await q.putMany([1, 2, 3])
  await q.get()
  await new Promise((r) => setTimeout(r, 120))
  const before = await q.stats()
  assert.ok(before.oldestAgeMs >= 100, JSON.stringify(before))
  assert.equal(before.closed, false)
  assert.equal(await q.purge(), 2)
  assert.deepEqual([await q.qsize(), (await q.stats()).oldestAgeMs, await q.unfinishedTasks()], [0, 0, 1])
  await q.taskDone()
  await q.join({ timeout: 1000 })
  await q.close()
  assert.equal((await q.stats()).closed, true)
})

test('a bounded Queue applies backpressure: putNowait on a full queue is Full, a waiting put resumes after a get', async () => {
  const q = await (await setup()).Queue<number>(1)
  await q.put(1)
  await assert.rejects(q.putNowait(2), Full)
  const waiting = q.put(2)
  assert.equal(await q.get(), 1)
  await waiting
  assert.equal(await q.get(), 2)
  await assert.rejects(q.get({ block: false }), Empty)
})

test('Lock: a second acquire waits until release; timeouts answer false; releasing an unlocked lock is SyncStateError', async () => {
  const lock = await (await setup()).Lock()
  assert.equal(await lock.acquire(), true)
  assert.equal(await lock.acquire({ timeout: 20 }), false)
  const later = lock.acquire()
  await lock.release()
  assert.equal(await later, true)
  await lock.release()
  await assert.rejects(lock.release(), SyncStateError)
})

test('RLock is reentrant for its owner and exclusive across clients', async () => {
  const theLock = new SharedRLock()
  const server = await new BaseManager({ authkey: 'rlock', log: false }).register('lock', () => theLock).serve()
  try {
    const a = await new BaseManager({ address: server.address, authkey: 'rlock' }).register('lock', typed<SharedRLock>()).connect()
    const b = await new BaseManager({ address: server.address, authkey: 'rlock' }).register('lock', typed<SharedRLock>()).connect()
    clients.push(a, b)
    const ra = await a.lock()
    const rb = await b.lock()
    assert.equal(await ra.acquire(), true)
    assert.equal(await ra.acquire(), true)
    assert.equal(await rb.acquire({ timeout: 20 }), false)
    await assert.rejects(rb.release(), SyncStateError)
    const bWaits = rb.acquire({ timeout: 5000 })
    await ra.release()
    await ra.release()
    assert.equal(await bWaits, true)
    await rb.release()
  } finally {
    await server.shutdown()
  }
})

test('Semaphore and BoundedSemaphore count; over-release of a bounded one is SyncStateError', async () => {
  const s = await (await setup()).Semaphore(2)
  assert.equal(await s.acquire(), true)
  assert.equal(await s.acquire(), true)
  assert.equal(await s.acquire({ block: false }), false)
  await s.release()
  assert.equal(await s.getValue(), 1)
  const b = await (await setup()).BoundedSemaphore(1)
  await assert.rejects(b.release(), SyncStateError)
})

test('Event wakes every waiter; wait with a timeout answers false', async () => {
  const e = await (await setup()).Event()
  assert.equal(await e.wait({ timeout: 10 }), false)
  const waiters = [e.wait(), e.wait()]
  await e.set()
  assert.deepEqual(await Promise.all(waiters), [true, true])
  assert.equal(await e.isSet(), true)
})

test('Condition: wait releases the lock and returns after notify', async () => {
  const cond = await (await setup()).Condition()
  await cond.acquire()
  const waiting = cond.wait({ timeout: 5000 })
  // wait() released the lock, so the lock can be taken again to notify.
  await cond.acquire()
  await cond.notify()
  await cond.release()
  assert.equal(await waiting, true)
  assert.equal(await cond.wait({ timeout: 10 }), false)
  await cond.release()
  await assert.rejects(cond.notify(), SyncStateError)
})

test('Barrier releases all parties together with distinct indices; a timeout breaks it', async () => {
  const b = await (await setup()).Barrier(3)
  const idx = await Promise.all([b.wait(), b.wait(), b.wait()])
  assert.deepEqual([...idx].sort(), [0, 1, 2])
  const b2 = await (await setup()).Barrier(2)
  await assert.rejects(b2.wait({ timeout: 20 }), BrokenBarrierError)
  assert.equal(await b2.broken(), true)
  await b2.reset()
  assert.equal(await b2.broken(), false)
})

test('dict, list, Namespace, Value and Array behave like their Python counterparts', async () => {
  const mgr = await setup()
  const d = await mgr.dict<string, number>({ a: 1 })
  assert.equal(await d.setdefault('b', 2), 2)
  assert.equal(await d.increment('a', 5), 6)
  assert.deepEqual(await d.toObject(), { a: 6, b: 2 })
  assert.equal(await d.pop('a'), 6)
  const l = await mgr.list([3, 1, 2])
  await l.append(0)
  await l.sort()
  assert.deepEqual(await l.toArray(), [0, 1, 2, 3])
  assert.equal(await l.pop(), 3)
  const ns = await mgr.Namespace({ x: 1 })
  await ns.set('y', 'two')
  assert.deepEqual(await ns.toObject(), { x: 1, y: 'two' })
  const v = await mgr.Value('d', 1.5)
  await v.set(2.5)
  assert.equal(await v.get(), 2.5)
  const arr = await mgr.Array('i', [1, 2, 3])
  await arr.set(1, 20)
  assert.deepEqual(await arr.toArray(), [1, 20, 3])
  await assert.rejects(arr.get(9), RangeError)
})

test("a dict finds tuple, bytes and frozenset keys again, and 1, 1.0 and true are one key (Python's hashing); a list counts by value", async () => {
  const d = await (await setup()).dict<unknown, string>()
  await d.set(tuple(1, 2), 'pair')
  await d.set(Buffer.from('k'), 'bytes')
  await d.set(new FrozenSet([1, 2]), 'frozen')
  await d.set(1, 'one')
  assert.equal(await d.get(tuple(1, 2)), 'pair')
  assert.equal(await d.get(Buffer.from('k')), 'bytes')
  assert.equal(await d.get(new FrozenSet([2, 1])), 'frozen')
  assert.equal(await d.get(float(1)), 'one')
  assert.equal(await d.get(true), 'one')
  assert.equal(await d.size(), 4)
  await assert.rejects(d.set([1], 'list'), (err: Error) => err.name === 'TypeError' && /unhashable type: 'list'/.test(err.message))
  const l = await (await setup()).list<unknown>([tuple(1, 2), [1], 1, true, float(1)])
  assert.equal(await l.count(1), 3)
  assert.equal(await l.index([1]), 1)
  assert.equal(await l.index(tuple(1, 2)), 0)
})

test('a client that disconnects while holding a Lock or Semaphore units gives them back; a Barrier breaks instead of hanging', async () => {
  const lock = new SharedLock()
  const sem = new SharedSemaphore(1)
  const barrier = new SharedBarrier(3)
  const server = await new BaseManager({ authkey: 'gone', log: false })
    .register('lock', () => lock).register('sem', () => sem).register('barrier', () => barrier).serve()
  try {
    const connectOne = () => new BaseManager({ address: server.address, authkey: 'gone' })
      .register('lock', typed<SharedLock>()).register('sem', typed<SharedSemaphore>()).register('barrier', typed<SharedBarrier>()).connect()
    const doomed = await connectOne()
    const survivor = await connectOne()
    clients.push(survivor)
    assert.equal(await (await doomed.lock()).acquire(), true)
    assert.equal(await (await doomed.sem()).acquire(), true)
    const parkedAtBarrier = (await doomed.barrier()).wait().catch((e: Error) => e)
    const survivorLock = await survivor.lock()
    const survivorSem = await survivor.sem()
    const waitingLock = survivorLock.acquire({ timeout: 5000 })
    const waitingSem = survivorSem.acquire({ timeout: 5000 })
    const survivorBarrier = (await survivor.barrier()).wait({ timeout: 5000 }).catch((e: Error) => e)
    await doomed.shutdown()
    assert.equal(await waitingLock, true)
    assert.equal(await waitingSem, true)
    assert.ok((await survivorBarrier) instanceof BrokenBarrierError)
    void parkedAtBarrier
  } finally {
    await server.shutdown()
  }
})

test('clients can call only the public API of built-in types, never their internal helpers', async () => {
  const q = await (await setup()).JoinableQueue<number>()
  const exposed = proxyInfo(q)!.exposed
  for (const name of ['put', 'get', 'getMany', 'taskDone', 'join', 'qsize']) assert.ok(exposed.includes(name), `${name} is exposed`)
  for (const name of ['take', 'shift', 'wakeGetters', 'wakePutters', 'checkOpen', 'push', '_push', '_onPut', 'onPut']) {
    assert.ok(!exposed.includes(name), `${name} is not exposed`)
  }
  const lock = await (await setup()).Lock()
  assert.deepEqual([...proxyInfo(lock)!.exposed].sort(), ['acquire', 'locked', 'release'])
})
