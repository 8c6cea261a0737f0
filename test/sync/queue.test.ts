import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Queue, SimpleQueue, JoinableQueue } from '../../src/sync/index.ts'
import { Empty, Full, ClosedError, TaskDoneError, AbortError, ConnectionClosedError, UnsendableValueError } from '../../src/errors.ts'
import * as w from './fixtures/workers.ts'
import { run } from './fixtures/run.ts'


test('items come out in the order they went in', async () => {
  const q = new Queue<number>()
  for (let i = 0; i < 5; i++) await q.put(i)
  assert.equal(await q.qsize(), 5)
  const out = []
  for (let i = 0; i < 5; i++) out.push(await q.get())
  assert.deepEqual(out, [0, 1, 2, 3, 4])
  assert.equal(await q.empty(), true)
})

test('getNowait on an empty queue rejects with Empty; get with a timeout too', async () => {
  const q = new Queue<number>()
  await assert.rejects(q.getNowait(), Empty)
  await assert.rejects(q.get({ timeout: 10 }), Empty)
})

test("get and put with block: false (Python's block=False) fail at once with Empty and Full, here and from a thread, as a manager's queue does", async () => {
  const q = new Queue<number>()
  const full = new Queue<number>(1)
  await full.put(1)
  await assert.rejects(q.get({ block: false }), Empty)
  await assert.rejects(full.put(2, { block: false }), Full)
  await q.put(5)
  assert.equal(await q.get({ block: false }), 5)
  const report = new Queue<string[]>()
  const p = await run(w.noBlock, [q, full, report])
  assert.deepEqual(await report.get({ timeout: 20_000 }), ['Empty', 'Full'])
  assert.equal(await p.join({ timeout: 20_000 }), 0)
  assert.equal(await full.qsize(), 1)
})

test('a bounded queue is full at maxsize: putNowait rejects with Full and put waits for room', async () => {
  const q = new Queue<string>(2)
  await q.put('a')
  await q.putNowait('b')
  assert.equal(await q.full(), true)
  await assert.rejects(q.putNowait('c'), Full)
  await assert.rejects(q.put('c', { timeout: 10 }), Full)
  let landed = false
  const waiting = q.put('c').then(() => { landed = true })
  await new Promise((r) => setImmediate(r))
  assert.equal(landed, false)
  assert.equal(await q.get(), 'a')
  await waiting
  assert.equal(landed, true)
  assert.deepEqual([await q.get(), await q.get()], ['b', 'c'])
})

test('an aborted get rejects with AbortError and takes nothing', async () => {
  const q = new Queue<number>()
  const ctl = new AbortController()
  const pending = q.get({ signal: ctl.signal })
  ctl.abort()
  await assert.rejects(pending, AbortError)
  await q.put(1)
  assert.equal(await q.get(), 1)
})

test('a get, put or join given an already-aborted signal rejects with AbortError at once and changes nothing', async () => {
  const q = new Queue<number>()
  await assert.rejects(q.get({ signal: AbortSignal.abort() }), AbortError)
  const full = new Queue<number>(1)
  await full.put(1)
  await assert.rejects(full.put(2, { signal: AbortSignal.abort() }), AbortError)
  assert.equal(await full.qsize(), 1)
  const jq = new JoinableQueue<number>()
  await jq.put(1)
  await assert.rejects(jq.join({ signal: AbortSignal.abort() }), AbortError)
  await q.put(7)
  assert.equal(await q.get(), 7, 'the aborted get took nothing and left no waiter behind')
})

test('close() takes effect in call order: a put made right after it rejects with ClosedError, puts before it are kept', async () => {
  const q = new Queue<number>()
  void q.put(1)
  const closing = q.close()
  await assert.rejects(q.put(2), ClosedError)
  await closing
  assert.equal(await q.get(), 1)
  await assert.rejects(q.get(), ClosedError)
})

test('for await ends after close once the queue is drained; later gets and puts reject with ClosedError', async () => {
  const q = new SimpleQueue<number>()
  await q.put(1)
  await q.put(2)
  await q.close()
  const seen = []
  for await (const x of q) seen.push(x)
  assert.deepEqual(seen, [1, 2])
  await assert.rejects(q.get(), ClosedError)
  await assert.rejects(q.put(3), ClosedError)
})

test('JoinableQueue.join() resolves only after the last taskDone(); one too many throws TaskDoneError', async () => {
  const q = new JoinableQueue<string>()
  await q.put('a')
  await q.put('b')
  let joined = false
  const j = q.join().then(() => { joined = true })
  await q.get(); await q.taskDone()
  await new Promise((r) => setImmediate(r))
  assert.equal(joined, false)
  await q.get(); await q.taskDone()
  await j
  assert.equal(joined, true)
  await assert.rejects(q.taskDone(), TaskDoneError)
})

for (const kind of ['thread', 'process'] as const) {
  test(`100,000 items from 2 producers to 2 consumers (${kind === 'thread' ? 'threads' : 'processes'}): each received exactly once`, async () => {
    const q = new Queue<number>()
    const results = new Queue<number[]>()
    const N = 100_000
    const producers = [await run(w.produce, [q, 0, N / 2], kind), await run(w.produce, [q, N / 2, N / 2], kind)]
    const consumers = [await run(w.consumeAll, [q, results], kind), await run(w.consumeAll, [q, results], kind)]
    for (const p of producers) assert.equal(await p.join({ timeout: 60_000 }), 0)
    await q.close()
    const a = await results.get({ timeout: 60_000 })
    const b = await results.get({ timeout: 60_000 })
    for (const c of consumers) assert.equal(await c.join({ timeout: 60_000 }), 0)
    assert.equal(a.length + b.length, N)
    const seen = new Uint8Array(N)
    for (const x of [...a, ...b]) seen[x]!++
    assert.ok(seen.every((n) => n === 1), 'every item exactly once')
    // Each producer's items stay in order within what one consumer saw.
    for (const part of [a, b]) {
      const low = part.filter((x) => x < N / 2)
      assert.ok(low.every((x, i) => i === 0 || x > low[i - 1]!), 'per-producer order kept')
    }
  })

  test(`JoinableQueue.join() in the parent waits for taskDone() from a ${kind}`, async () => {
    const q = new JoinableQueue<string>()
    for (const s of ['a', 'b', 'c']) await q.put(s)
    const p = await run(w.getAndMarkDone, [q, 3], kind)
    await q.join()
    assert.equal(await q.qsize(), 0)
    assert.equal(await p.join({ timeout: 20_000 }), 0)
  })

  test(`one taskDone() too many from a ${kind} rejects with TaskDoneError there`, async () => {
    const q = new JoinableQueue<string>()
    const report = new Queue<string>()
    await q.put('only')
    const p = await run(w.oneTaskDoneTooMany, [q, report], kind)
    assert.match(await report.get({ timeout: 20_000 }), /^TaskDoneError: /)
    assert.equal(await p.join({ timeout: 20_000 }), 0)
  })

  test(`a bounded queue applies backpressure to a producer ${kind}`, async () => {
    const q = new Queue<number>(5)
    const p = await run(w.fillBounded, [q, 200], kind)
    let max = 0
    const got: number[] = []
    for await (const x of q) {
      got.push(x)
      max = Math.max(max, await q.qsize())
    }
    assert.equal(got.length, 200)
    assert.deepEqual(got, [...got].sort((x, y) => x - y))
    assert.ok(max <= 5, `qsize stayed within maxsize (saw ${max})`)
    assert.equal(await p.join({ timeout: 20_000 }), 0)
  })
}

test('a queue created in a thread works from the main thread, and a get pending when that thread dies rejects', async () => {
  const out = new Queue<Queue<string>>()
  const p = await run(w.homeOfAQueue, [out])
  const theirs = await out.get({ timeout: 20_000 })
  assert.equal(await theirs.get({ timeout: 20_000 }), 'from the thread')
  const pending = theirs.get()
  await p.kill()
  await assert.rejects(pending, ConnectionClosedError)
})

test('an unsendable item is refused at put() once the queue is shared, naming the path', async () => {
  const q = new Queue<unknown>()
  const results = new Queue<number[]>()
  const p = await run(w.consumeAll, [q as Queue<number>, results])
  await assert.rejects(q.put({ cb: () => 1 }), (err: Error) => err instanceof UnsendableValueError && /item\.cb/.test(err.message))
  await q.close()
  assert.deepEqual(await results.get({ timeout: 20_000 }), [])
  await p.join({ timeout: 20_000 })
})

test('items a thread put in a burst are counted one by one and come out in order from get() in the home', async () => {
  const q = new Queue<number>()
  const p = await run(w.produce, [q, 0, 5000])
  assert.equal(await p.join({ timeout: 20_000 }), 0)
  assert.equal(await q.qsize(), 5000)
  for (let i = 0; i < 5000; i++) assert.equal(await q.getNowait(), i)
  assert.equal(await q.empty(), true)
})

for (const kind of ['thread', 'process'] as const) {
  test(`a queue carried inside items works where the items arrive (${kind} to ${kind})`, async () => {
    const q = new Queue<{ n: number; reply: Queue<number> }>()
    const reply = new Queue<number>()
    const producer = await run(w.produceWithReplyQueues, [q, reply, 300], kind)
    const answerer = await run(w.answerOnCarriedQueue, [q, 300], kind)
    const got: number[] = []
    for (let i = 0; i < 300; i++) got.push(await reply.get({ timeout: 20_000 }))
    assert.deepEqual(got.sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i * 2))
    assert.equal(await producer.join({ timeout: 20_000 }), 0)
    assert.equal(await answerer.join({ timeout: 20_000 }), 0)
  })
}

for (const kind of ['thread', 'process'] as const) {
  test(`thousands of items carrying 64 KiB strings go ${kind} to ${kind} whole and in order`, async () => {
    const q = new Queue<{ i: number; s: string }>()
    const report = new Queue<{ count: number; bad: number }>()
    const n = kind === 'thread' ? 3000 : 600
    const producer = await run(w.produceBigStrings, [q, n], kind)
    const checker = await run(w.checkBigStrings, [q, report], kind)
    assert.deepEqual(await report.get({ timeout: 60_000 }), { count: n, bad: 0 })
    assert.equal(await producer.join({ timeout: 20_000 }), 0)
    assert.equal(await checker.join({ timeout: 20_000 }), 0)
  })
}

/** Own keys in order, recursively, so key order is checked as well as values. */
function shape(v: unknown): unknown {
  if (typeof v !== 'object' || v === null || v instanceof Date || ArrayBuffer.isView(v)) return v
  if (Array.isArray(v)) return v.map(shape)
  return Object.keys(v).map((k) => [k, shape((v as Record<string, unknown>)[k])])
}

for (const kind of ['thread', 'process'] as const) {
  test(`items with large strings in any shape come back from a ${kind} exactly as they were put, key order kept`, async () => {
    const q = new Queue<unknown>()
    const back = new Queue<unknown>()
    const want = w.oddBigItems()
    const rounds = 3
    const producer = await run(w.putOddBigItems, [q, rounds], kind)
    const relay = await run(w.relayItems, [q, back, want.length * rounds], kind)
    for (let r = 0; r < rounds; r++) {
      for (const x of want) {
        const got = await back.get({ timeout: 30_000 })
        assert.deepEqual(got, x)
        assert.deepEqual(shape(got), shape(x))
        if (typeof got === 'object' && got !== null && !Array.isArray(got)) assert.equal(Object.getPrototypeOf(got), Object.getPrototypeOf(x))
      }
    }
    assert.equal(await producer.join({ timeout: 20_000 }), 0)
    assert.equal(await relay.join({ timeout: 20_000 }), 0)
  })
}

for (const kind of ['thread', 'process'] as const) {
  test(`a ${kind} putting large items far ahead of any consumer is held back by a few MiB, and with nobody draining still puts them all, in order`, async () => {
    const q = new Queue<{ i: number; s: string }>()
    const report = new Queue<number>()
    // 300 items of 64 KiB: about 19 MiB, several times what the home answers at once (a soft limit, so this ends).
    const producer = await run(w.produceBigStringsCountingWaits, [q, 300, report], kind)
    assert.ok(await report.get({ timeout: 60_000 }) > 0, 'some put waited for the home')
    assert.equal(await producer.join({ timeout: 20_000 }), 0)
    assert.equal(await q.qsize(), 300)
    for (let i = 0; i < 300; i++) {
      const x = await q.getNowait()
      assert.equal(x.i, i)
      assert.equal(x.s, String.fromCharCode(97 + (i % 26)).repeat(65536))
    }
  })
}

test('items carrying 64 KiB strings go process to thread and thread to process whole and in order', async () => {
  for (const [from, to] of [['process', 'thread'], ['thread', 'process']] as const) {
    const q = new Queue<{ i: number; s: string }>()
    const report = new Queue<{ count: number; bad: number }>()
    const producer = await run(w.produceBigStrings, [q, 600], from)
    const checker = await run(w.checkBigStrings, [q, report], to)
    assert.deepEqual(await report.get({ timeout: 60_000 }), { count: 600, bad: 0 }, `${from} to ${to}`)
    assert.equal(await producer.join({ timeout: 20_000 }), 0)
    assert.equal(await checker.join({ timeout: 20_000 }), 0)
  }
})

test('a consumer in another place that breaks out of for-await gives back what it prefetched', async () => {
  const q = new Queue<number>()
  for (let i = 0; i < 1000; i++) await q.put(i)
  const report = new Queue<number[]>()
  const p = await run(w.takeSomeThenStop, [q, 10, report])
  assert.deepEqual(await report.get({ timeout: 20_000 }), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(await p.join({ timeout: 20_000 }), 0)
  assert.equal(await q.qsize(), 990)
  assert.equal(await q.get(), 10)
})

test('a remote handle gets the named errors: Empty for getNowait and a timed-out get, AbortError for an aborted get', async () => {
  const q = new Queue<number>()
  const report = new Queue<string[]>()
  const p = await run(w.remoteFailures, [q, report])
  assert.deepEqual(await report.get({ timeout: 20_000 }), ['Empty', 'Empty', 'AbortError'])
  assert.equal(await p.join({ timeout: 20_000 }), 0)
  // The aborted get took nothing: the next item is still here for us.
  await q.put(7)
  assert.equal(await q.get({ timeout: 1_000 }), 7)
})

for (const kind of ['thread', 'process'] as const) {
  test(`a put with a timeout from a ${kind} into a full bounded queue rejects with Full and puts nothing`, async () => {
    const q = new Queue<number>(1)
    await q.put(1)
    const report = new Queue<string>()
    const p = await run(w.putIntoFullQueue, [q, report], kind)
    assert.equal(await report.get({ timeout: 20_000 }), 'Full')
    assert.equal(await p.join({ timeout: 20_000 }), 0)
    assert.equal(await q.get(), 1)
    assert.equal(await q.empty(), true)
    // The slot it waited for is not held by anyone now.
    await q.putNowait(2)
  })
}

test('slots reserved by a place that ended are released (bounded queue credits)', async () => {
  const { QueueCore } = await import('../../src/sync/queue-core.ts')
  const core = new QueueCore<number>(4)
  assert.equal(await core.reserve(3, '1/7', {}), 3)
  assert.equal(core.full(), false)
  assert.equal(await core.reserve(3, '1/7/2', {}), 1)
  assert.equal(core.full(), true)
  core.putReserved([10], '1/7')
  assert.equal(core.qsize(), 1)
  core.releasePlace((from) => from === '1/7' || from.startsWith('1/7/'))
  assert.equal(core.full(), false)
  core.putNowait(11); core.putNowait(12); core.putNowait(13)
  assert.equal(core.full(), true)
})
