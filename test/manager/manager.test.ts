import { test, after } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import assert from 'node:assert/strict'
import { Manager, BaseManager, typed, proxyInfo, releaseProxy, SharedQueue, type Proxied } from '../../src/manager/index.ts'
import { connectToManager, until } from './helpers.ts'
import { Empty, AuthenticationError, UnknownMethodError, UnsendableValueError, ConnectionClosedError, ClosedError, AbortError, TaskDoneError, UnlocatableFunctionError } from '../../src/errors.ts'
import { connectTo, frameHeader } from '../../src/net/index.ts'
import { Process } from '../../src/process/index.ts'
import { Counter, makeCounter, produceInto, useManager } from './fixtures.ts'

const cleanup: (() => Promise<unknown> | unknown)[] = []
after(async () => { for (const f of cleanup.reverse()) await f() })

async function served(log: string[] = []): Promise<Manager> {
  const m = await new Manager({ authkey: 'secret', log: (l) => log.push(l) }).serve()
  cleanup.push(() => m.shutdown())
  return m
}

async function client(m: { address: string }, authkey = 'secret'): Promise<Manager> {
  const c = await connectToManager(m.address, authkey)
  cleanup.push(() => c.shutdown())
  return c
}

test('a typed queue proxy puts and gets across connections, FIFO', async () => {
  const m = await served()
  const q = await m.Queue<number>()
  await q.put(1)
  await q.putNowait(2)
  await q.putMany([3, 4])
  assert.equal(await q.qsize(), 4)
  assert.deepEqual([await q.get(), await q.getNowait(), ...(await q.getMany(10))], [1, 2, 3, 4])
  assert.equal(await q.empty(), true)
})

test('a get with a timeout on an empty queue rejects with Empty carrying the remote stack and origin', async () => {
  const m = await served()
  const q = await m.Queue<number>()
  await assert.rejects(q.get({ timeout: 30 }), (err: Error & { origin?: string; remoteStack?: string }) => {
    assert.ok(err instanceof Empty)
    assert.match(err.origin!, new RegExp(`manager ${m.address.replace(/\./g, '\\.')}`))
    assert.match(err.remoteStack!, /queue\.ts/)
    return true
  })
  await assert.rejects(q.getNowait(), Empty)
})

test('a blocked get blocks neither other calls on the same connection nor other clients', async () => {
  const m = await served()
  const q = await m.Queue<string>()
  const other = await m.Queue<string>()
  const waiting = q.get({ timeout: 10_000 })
  await other.put('x')
  assert.equal(await other.get(), 'x')
  const c = await client(m)
  const shared = await c.create('Queue')
  await shared.put('y')
  assert.equal(await shared.get(), 'y')
  await q.put('wake')
  assert.equal(await waiting, 'wake')
})

test('many pipelined calls on one proxy all get their own replies', async () => {
  const m = await served()
  const d = await m.dict<string, number>()
  const keys = Array.from({ length: 2000 }, (_, i) => `k${i}`)
  await Promise.all(keys.map((k, i) => d.set(k, i)))
  const values = await Promise.all(keys.map((k) => d.get(k)))
  assert.deepEqual(values, keys.map((_, i) => i))
  assert.equal(await d.size(), 2000)
})

test('a wrong authkey gives the client AuthenticationError naming the address; the server logs and keeps serving', async () => {
  const log: string[] = []
  const m = await served(log)
  await assert.rejects(connectToManager(m.address, 'wrong'), (err: Error) => err instanceof AuthenticationError && err.message.includes(m.address))
  const c = await client(m)
  assert.equal(await c.numberOfObjects(), await m.numberOfObjects())
  assert.ok(log.some((l) => /refused connection/.test(l)))
})

test('a malformed frame closes only that connection with a logged reason', async () => {
  const log: string[] = []
  const m = await served(log)
  const q = await m.Queue<number>()
  await q.put(5)
  const bad = await connectTo(m.address, { authkey: 'secret' })
  bad.send(Buffer.from([0x00, 1, 2, 3]))
  await bad.closed
  const bad2 = await connectTo(m.address, { authkey: 'secret' })
  bad2.send(Buffer.from([0xff, 0x0f, 0x99, 0x99]))
  await bad2.closed
  assert.equal(await q.get(), 5)
  assert.ok(log.some((l) => /unknown dialect/.test(l)), log.join('\n'))
  assert.ok(log.some((l) => /DecodeError|ProtocolError/.test(l) && !/unknown dialect/.test(l)), log.join('\n'))
})

test('an oversized frame closes only that connection; the limit is configurable', async () => {
  const log: string[] = []
  const m = await new Manager({ authkey: 'k', maxFrameSize: 1024, log: (l) => log.push(l) }).serve()
  cleanup.push(() => m.shutdown())
  const q = await m.Queue<number>()
  const bad = await connectTo(m.address, { authkey: 'k' })
  bad.socket.write(frameHeader(10_000))
  await bad.closed
  await q.put(1)
  assert.equal(await q.get(), 1)
  assert.ok(log.some((l) => /10000 bytes exceeds the limit of 1024/.test(l)), log.join('\n'))
})

test('a client that disconnects in the middle of a get loses no item', async () => {
  const queue = new SharedQueue<string>()
  const m = await new BaseManager({ authkey: 'secret', log: false }).register('shared', () => queue).serve()
  cleanup.push(() => m.shutdown())
  const doomed = await connectToManager(m.address, 'secret')
  const dq = await doomed.create<SharedQueue<string>>('shared')
  const parked = dq.get().catch((e: Error) => e)
  await until(() => (queue as unknown as { getters: unknown[] }).getters.length === 1)
  await doomed.shutdown()
  assert.ok((await parked) instanceof ConnectionClosedError)
  await until(() => (queue as unknown as { getters: unknown[] }).getters.length === 0)
  const survivor = await client(m)
  const sq = await survivor.create<SharedQueue<string>>('shared')
  await sq.put('precious')
  assert.equal(await sq.get({ timeout: 1000 }), 'precious')
})

test('an AbortSignal cancels a parked get on the server, and the item is not taken', async () => {
  const m = await served()
  const q = await m.Queue<string>()
  const ac = new AbortController()
  const parked = q.get({ signal: ac.signal })
  ac.abort()
  await assert.rejects(parked, AbortError)
  await q.put('kept')
  assert.equal(await q.get({ timeout: 1000 }), 'kept')
})

test('server objects are released when their client goes away', async () => {
  const m = await served()
  const before = await m.numberOfObjects()
  const c = await connectToManager(m.address, 'secret')
  await c.Queue()
  await c.dict()
  assert.equal(await m.numberOfObjects(), before + 2)
  await c.shutdown()
  await until(async () => (await m.numberOfObjects()) === before)
})

test('releasing a proxy drops its reference', async () => {
  const m = await served()
  const before = await m.numberOfObjects()
  const l = await m.list([1, 2])
  assert.equal(await m.numberOfObjects(), before + 1)
  releaseProxy(l)
  await until(async () => (await m.numberOfObjects()) === before)
})

test('a proxy passed to a child process and to a thread keeps working there', async () => {
  const m = await served()
  const q = await m.Queue<number>()
  for (const kind of ['process', 'thread'] as const) {
    const p = new Process({ target: produceInto, args: [q, 100], kind })
    await p.start()
    await p.join({ timeout: 30_000 })
    assert.equal(p.exitCode, 0, `${kind}: ${p.error?.stack}`)
    const items = await q.getMany(1000)
    assert.equal(items.length, 100, kind)
  }
})

test('proxies travel inside values: a queue stored in a dict comes back as a working proxy', async () => {
  const m = await served()
  const q = await m.Queue<string>()
  const d = await m.dict<string, unknown>()
  await d.set('jobs', q)
  const back = (await d.get('jobs')) as Proxied<SharedQueue<string>>
  await back.put('through the dict')
  assert.equal(await q.get(), 'through the dict')
})

test('register with a user type: exposed methods, methodToTypeid returns a proxy, errors keep their class and properties', async () => {
  const m = await new BaseManager({ authkey: 'k', log: false })
    .register('Counter', (start: number) => new Counter(start), { methodToTypeid: { child: 'Counter' } })
    .serve()
  cleanup.push(() => m.shutdown())
  const counter = await m.Counter(5)
  assert.equal(await counter.increment(2), 7)
  const child = (await counter.child()) as unknown as Proxied<Counter>
  assert.equal(await child.value(), 70)
  assert.ok(proxyInfo(child))
  await assert.rejects(counter.fail(), (err: Error & { detail?: number }) => err instanceof RangeError && err.message === 'counter exploded' && err.detail === 7)
  const restricted = await new BaseManager({ authkey: 'k2', log: false }).register('C', makeCounter, { exposed: ['value'] }).serve()
  cleanup.push(() => restricted.shutdown())
  const rc = await restricted.C(1)
  assert.equal(await rc.value(), 1)
  assert.equal((rc as unknown as Record<string, unknown>).increment, undefined)
  await assert.rejects(restricted.create('Nope'), UnknownMethodError)
})

test('an argument that cannot be sent fails locally with its path', async () => {
  const m = await served()
  const q = await m.Queue<unknown>()
  await assert.rejects(q.put({ callback: () => 1 }), (err: Error & { path?: string }) => err instanceof UnsendableValueError && err.path === 'args[0].callback')
})

test('a manager passed to a child process or a thread arrives connected to the same server, as a Python manager does', async () => {
  const results = new SharedQueue()
  const m = new Manager({ authkey: 'secret', log: false })
  m.register('get_results', () => results)
  await m.serve()
  cleanup.push(() => m.shutdown())
  assert.equal(m.pid, process.pid)
  for (const kind of ['process', 'thread'] as const) {
    const p = new Process({ target: useManager, args: [m, kind], kind })
    await p.start()
    await p.join({ timeout: 30_000 })
    assert.equal(p.exitCode, 0, `${kind}: ${p.error?.stack}`)
    // The child created a dict on the server, used it, and reached a typeid registered here; its copy has no server pid.
    assert.deepEqual(await results.get({ timeout: 5000 }), [kind, 42, 'undefined'])
  }
  // A manager that is not serving or connected cannot be sent.
  await assert.rejects(new Process({ target: useManager, args: [new Manager({ authkey: 'x' }), 'never'] }).start(), UnsendableValueError)
})

test('start() runs the server in a child process; shutdown() stops it', async () => {
  const m = new BaseManager({ authkey: 'started' }).register('Counter', makeCounter)
  await m.start()
  cleanup.push(() => m.shutdown())
  // The started manager's pid is its server process's (Python's manager._process.pid).
  assert.ok(m.pid && m.pid !== process.pid, `pid ${m.pid}`)
  const c = await m.Counter(1)
  assert.equal(await c.increment(), 2)
  const other = await new BaseManager({ address: m.address, authkey: 'started' }).register('Counter', typed<Counter>()).connect()
  const c2 = await other.Counter(10)
  assert.equal(await c2.value(), 10)
  await other.shutdown()
  await m.shutdown()
  await assert.rejects(new BaseManager({ address: m.address, authkey: 'started' }).connect(), ConnectionClosedError)
})

test("a class registered as the factory (Python's register('Counter', Counter)) is constructed, served and typed, in this process and by start()", async () => {
  for (const how of ['serve', 'start'] as const) {
    const m = new BaseManager({ authkey: 'classes', log: false }).register('Counter', Counter)
    await m[how]()
    cleanup.push(() => m.shutdown())
    const c = await m.Counter(5)
    const n: number = await c.increment()
    assert.equal(n, 6, how)
    await m.shutdown()
  }
  // A built-in class too (served here: a server process cannot import a built-in by module and name).
  const m = await new BaseManager({ authkey: 'classes', log: false }).register('Map', Map<string, number>).serve()
  cleanup.push(() => m.shutdown())
  const map = await m.Map([['a', 1]])
  assert.equal(await map.get('a'), 1)
  await m.shutdown()
})

test("start() with a closure as a factory (Python's lambda) fails at once, naming the typeid and saying to export it or serve()", async () => {
  const tasks = new SharedQueue<number>()
  const m = new BaseManager({ authkey: 'abc' }).register('get_task_queue', () => tasks)
  await assert.rejects(m.start(), (err: Error) => {
    assert.ok(err instanceof UnlocatableFunctionError, String(err))
    assert.match(err.message, /factory registered as 'get_task_queue'/)
    assert.match(err.message, /Export it from its module, or call serve\(\) instead of start\(\)/)
    return true
  })
})

test('IPv6 loopback and Unix socket addresses work; port 0 is reported back', async () => {
  const v6 = await new Manager({ address: '[::1]:0', authkey: 'k', log: false }).serve()
  cleanup.push(() => v6.shutdown())
  assert.match(v6.address, /^\[::1\]:[1-9]\d*$/)
  const c6 = await client({ address: v6.address }, 'k')
  const q = await c6.Queue<number>()
  await q.put(6)
  assert.equal(await q.get(), 6)
  const path = `/tmp/troupe-test-${process.pid}.sock`
  const ux = await new Manager({ address: path, authkey: 'k', log: false }).serve()
  cleanup.push(() => ux.shutdown())
  assert.equal(ux.address, path)
  const cu = await client({ address: path }, 'k')
  assert.equal(await (await cu.Value('i', 3)).get(), 3)
})

test('closing a queue ends for-await loops after the items are drained; early break returns unused items', async () => {
  const m = await served()
  const q = await m.Queue<number>()
  await q.putMany(Array.from({ length: 1500 }, (_, i) => i))
  let n = 0
  for await (const x of q) { void x; if (++n === 10) break }
  assert.equal(await q.qsize(), 1490)
  await q.close()
  let rest = 0
  for await (const x of q) { void x; rest++ }
  assert.equal(rest, 1490)
  await assert.rejects(q.put(1), ClosedError)
})

test('a call parked on the server is answered when another client acts later', async () => {
  const m = await served()
  const q = await m.Queue<number>()
  setTimeout(() => void q.put(1), 50).unref()
  assert.equal(await q.get({ timeout: 5000 }), 1)
})

test('puts issued together travel as one batch yet keep their order relative to other calls', async () => {
  const m = await served()
  const q = await m.JoinableQueue<number>()
  const calls: Promise<unknown>[] = []
  for (let i = 0; i < 500; i++) calls.push(q.put(i))
  calls.push(q.qsize())
  for (let i = 500; i < 1000; i++) calls.push(q.put(i))
  const results = await Promise.all(calls)
  assert.equal(results[500], 500)
  assert.deepEqual(await q.getMany(2000), Array.from({ length: 1000 }, (_, i) => i))
  // 1000 merged taskDones succeed, and of 3 more only those beyond the count fail.
  await Promise.all(Array.from({ length: 999 }, () => q.taskDone()))
  const extra = await Promise.allSettled([q.taskDone(), q.taskDone(), q.taskDone()])
  assert.deepEqual(extra.map((r) => r.status), ['fulfilled', 'rejected', 'rejected'])
  assert.ok((extra[1] as PromiseRejectedResult).reason instanceof TaskDoneError)
  await q.join({ timeout: 1000 })
})

test('values keep their exact types through the manager: undefined, -0, NaN, BigInt, Map, Set, Date, Buffer, nested objects', async () => {
  const m = await served()
  const q = await m.Queue<unknown>()
  const values: unknown[] = [undefined, -0, NaN, 2n ** 70n, new Map([[1, 'a']]), new Set(['x']), new Date(0), Buffer.from('hi'),
    [1, undefined, 3], { a: { b: [null, 'é☃😀'] } }, 'plain', 42, true, null]
  for (const v of values) await q.put(v)
  for (const v of values) assert.deepStrictEqual(await q.get(), v)
  assert.ok(Object.is(-0, values[1]))
})

test('a proxy that is garbage-collected drops its server reference', async () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  const m = await served()
  const before = await m.numberOfObjects()
  await (async () => { const l = await m.list([1]); await l.append(2) })()
  assert.equal(await m.numberOfObjects(), before + 1)
  await until(async () => { gc(); await new Promise((r) => setTimeout(r, 10)); return (await m.numberOfObjects()) === before })
})
