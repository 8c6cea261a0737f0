import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { RedisQueue, RedisJoinableQueue, Connection } from '../../src/backends/index.ts'
import { Empty, Full, AbortError, TaskDoneError, UnsendableValueError, ConnectionClosedError, TimeoutError, ClosedError } from '../../src/errors.ts'
import { marshal, unmarshal } from '../../src/codec/index.ts'
import { recordResults } from '../../src/backends/redis/worker.ts'
import { Pool } from '../../src/pool/index.ts'
import { REDIS_URL, requireRedis, unique, cleanup, waitFor } from './helpers.ts'
import { putInto } from './fixtures/core-task.ts'

const names: string[] = []
const opened: RedisQueue<any>[] = []
function queue<T>(label: string, opts: ConstructorParameters<typeof RedisQueue>[1] = {}): RedisQueue<T> {
  const name = unique(label); names.push(name)
  const q = new RedisQueue<T>(name, { redis: REDIS_URL, ...opts }); opened.push(q)
  return q
}
function joinable<T>(label: string, opts: ConstructorParameters<typeof RedisQueue>[1] = {}, name = unique(label)): RedisJoinableQueue<T> {
  names.push(name)
  const q = new RedisJoinableQueue<T>(name, { redis: REDIS_URL, ...opts }); opened.push(q)
  return q
}

before(() => requireRedis())
after(async () => {
  await Promise.all(opened.map((q) => q.close()))
  await cleanup(REDIS_URL, names)
})

test('items come out in the order they were put, with Maps, Dates and BigInts intact', async () => {
  const q = queue<unknown>('fifo')
  const items = [1, 'two', { three: new Map([[3, new Date(3)]]) }, 4n]
  for (const x of items) await q.put(x)
  assert.equal(await q.qsize(), 4)
  for (const x of items) assert.deepEqual(await q.get(), x)
  assert.equal(await q.empty(), true)
})

test('get with a timeout rejects with Empty; getNowait on an empty queue too', async () => {
  const q = queue<number>('empty')
  await assert.rejects(q.get({ timeout: 50 }), Empty)
  await assert.rejects(q.getNowait(), Empty)
  await q.put(7)
  assert.equal(await q.getNowait(), 7)
})

test("Python's positional get(true, 1) / get(1000) / put(x, 1000) and a negative or non-number timeout are refused at once, as on every other place", async () => {
  const q = joinable<number>('positional')
  const js = q as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  await assert.rejects(js.get!(true, 1), /RedisQueue\.get\(\) argument 1: expected options .*got boolean true/)
  await assert.rejects(js.get!(1000), TypeError)
  await assert.rejects(js.getMany!(10, 1000), /RedisQueue\.getMany\(\) argument 2/)
  await assert.rejects(js.put!(1, 1000), /RedisQueue\.put\(\) argument 2/)
  await assert.rejects(js.join!(1), /RedisQueue\.join\(\) argument 1/)
  await assert.rejects(q.get({ timeout: -1 }), RangeError)
  await assert.rejects(q.get({ timeout: NaN }), TypeError)
  assert.equal(await q.qsize(), 0, 'nothing was put')
})

test('a timeout of null is no limit, as the options check and a manager take it: get waits for a later put, join for a later taskDone', async () => {
  const q = joinable<number>('null-timeout')
  const none = { timeout: null } as unknown as { timeout: number }
  const got = q.get(none)
  setTimeout(() => void q.put(5), 50)
  assert.equal(await got, 5)
  const joined = q.join(none)
  setTimeout(() => void q.taskDone(), 50)
  await joined
  assert.equal(await q.qsize(), 0)
})

test('a waiting get is woken by a put from another handle', async () => {
  const q = queue<string>('wake')
  const other = new RedisQueue<string>(q.name, { redis: REDIS_URL }); opened.push(other)
  const got = q.get({ timeout: 5000 })
  await new Promise((r) => setTimeout(r, 50))
  await other.put('hello')
  assert.equal(await got, 'hello')
})

test('an aborted get rejects with AbortError and the item stays for the next get', async () => {
  const q = queue<number>('abort')
  const ac = new AbortController()
  const got = q.get({ signal: ac.signal })
  setTimeout(() => ac.abort(), 30)
  await assert.rejects(got, AbortError)
  await q.put(1)
  assert.equal(await q.get({ timeout: 2000 }), 1)
})

test('a bounded queue: putNowait rejects with Full, put waits for room', async () => {
  const q = queue<number>('bounded', { maxsize: 2 })
  await q.put(1); await q.put(2)
  assert.equal(await q.full(), true)
  await assert.rejects(q.putNowait(3), Full)
  await assert.rejects(q.put(3, { timeout: 50 }), Full)
  const waiting = q.put(3)
  assert.equal(await q.get(), 1)
  await waiting
  assert.equal(await q.get(), 2)
  assert.equal(await q.get(), 3)
})

test('a delayed item is not delivered before its time', async () => {
  const q = queue<string>('delayed', { delayPollMs: 20 })
  await q.put('later', { delay: 300 })
  await q.put('now')
  assert.equal(await q.get(), 'now')
  await assert.rejects(q.get({ timeout: 100 }), Empty)
  assert.equal(await q.get({ timeout: 3000 }), 'later')
})

test('a value that cannot be sent is refused with the path of the bad part', async () => {
  const q = queue<unknown>('unsendable')
  await assert.rejects(q.put({ ok: 1, cb: () => 1 }), (err: Error) => err instanceof UnsendableValueError && /item\.cb/.test(err.message))
})

test('the JSON codec stores readable JSON', async () => {
  const q = queue<{ a: number }>('json', { codec: 'json' })
  await q.put({ a: 1 })
  const r = new Redis(REDIS_URL)
  const rows = await r.xrange(q.keys.stream, '-', '+')
  r.disconnect()
  assert.equal(rows[0]![1][1], '{"a":1}')
  assert.deepEqual(await q.get(), { a: 1 })
})

test('join waits until every item was taken and done; one taskDone too many is an error', async () => {
  const q = joinable<number>('join')
  await q.putMany([1, 2, 3])
  let joined = false
  const j = q.join({ timeout: 10_000 }).then(() => { joined = true })
  for (let i = 0; i < 3; i++) { await q.get(); assert.equal(joined, false); await q.taskDone() }
  await j
  assert.equal(joined, true)
  await assert.rejects(q.taskDone(), TaskDoneError)
  await q.put(4)
  await assert.rejects(q.join({ timeout: 50 }), TimeoutError)
})

test('an item held by a consumer that died goes to another consumer once its lease expires', async () => {
  const q = joinable<string>('lease', { leaseMs: 300 })
  await q.ready()
  await q.put('job')
  // A consumer that takes the item and dies: it never heartbeats nor acknowledges.
  const dead = new Redis(REDIS_URL)
  const taken = await dead.xreadgroup('GROUP', 'troupe', 'dead-consumer', 'COUNT', 1, 'STREAMS', q.keys.stream, '>') as unknown[]
  dead.disconnect()
  assert.ok(taken)
  const t = await q.receive({ timeout: 5000 })
  assert.equal(t.value, 'job')
  assert.equal(t.attempt, 2)
  await t.done()
  await q.join({ timeout: 2000 })
})

test('a held item stays leased while its consumer heartbeats, past the lease time', async () => {
  const q = joinable<string>('heartbeat', { leaseMs: 200 })
  const other = joinable<string>('heartbeat', { leaseMs: 200 }, q.name)
  await q.put('long job')
  assert.equal(await q.get(), 'long job')
  // Three leases pass; the other consumer must not get the item meanwhile.
  await assert.rejects(other.get({ timeout: 700 }), Empty)
  await q.taskDone()
  await q.join({ timeout: 2000 })
})

test('an item retried more than maxRetries times goes to the dead-letter stream', async () => {
  const q = joinable<string>('dead', { maxRetries: 1 })
  await q.put('poison')
  const first = await q.receive({ timeout: 2000 })
  assert.equal(first.attempt, 1)
  await first.retry()
  const second = await q.receive({ timeout: 2000 })
  assert.equal(second.attempt, 2)
  await second.retry()
  await assert.rejects(q.get({ timeout: 100 }), Empty)
  const dead = await q.deadLetters()
  assert.equal(dead.length, 1)
  assert.equal(dead[0]!.value, 'poison')
  assert.equal(dead[0]!.attempts, 2, 'it ran twice')
  assert.match(dead[0]!.reason, /after 2 runs .*maxRetries 1/)
  await q.join({ timeout: 2000 })
})

test('a result recorded twice for the same task id is kept once; a late one for an ended pool is dropped', async () => {
  const results = queue<number>('results')
  const conn = new Connection(REDIS_URL)
  await conn.open()
  const payload = Buffer.from([0xff, 0x0f, 0x49, 0x54]) // v8 for 42
  await recordResults(conn, 'troupe', results.name, ['task-1', payload])
  await recordResults(conn, 'troupe', results.name, ['task-1', payload, 'task-2', payload, 'task-2', payload])
  // A pool's results stream that is gone (the pool ended) is not brought back by a late result.
  const gone = unique('gone'); names.push(gone)
  await recordResults(conn, 'troupe', gone, ['task-3', payload], false, true)
  const r = new Redis(REDIS_URL)
  assert.equal(await r.exists(`troupe:{${gone}}:q`, `troupe:{${gone}}:done`), 0)
  r.disconnect()
  await conn.close()
  assert.equal(await results.qsize(), 2)
})

test('recorded task ids are kept for doneRetentionMs: a rerun inside the window records nothing, and then they go', async () => {
  const results = queue<number>('retention')
  const conn = new Connection(REDIS_URL)
  const r = new Redis(REDIS_URL)
  try {
    await conn.open()
    const payload = Buffer.from([0xff, 0x0f, 0x49, 0x54]) // v8 for 42
    await recordResults(conn, 'troupe', results.name, ['t1', payload], false, false, 600)
    await recordResults(conn, 'troupe', results.name, ['t1', payload], false, false, 600)
    assert.equal(await r.xlen(results.keys.stream), 1, 'a rerun inside the window records no second result')
    const ttl = await r.pttl(results.keys.done)
    assert.ok(ttl > 0 && ttl <= 600, `the record expires with the window (pttl ${ttl})`)
    // Ids older than the window are trimmed as new ones come.
    await waitFor('t1 to leave the window', async () => {
      await recordResults(conn, 'troupe', results.name, [`t-${Date.now()}`, payload], false, false, 600)
      return (await r.zscore(results.keys.done, 't1')) === null
    })
    assert.ok(await r.zcard(results.keys.done) >= 1)
    // With nothing recorded for a whole window, nothing is left.
    await waitFor('the record to expire', async () => (await r.exists(results.keys.done)) === 0)
    // The default window is a day.
    await recordResults(conn, 'troupe', results.name, ['t2', payload])
    assert.ok((await r.pttl(results.keys.done)) > 23 * 3600_000)
  } finally {
    r.disconnect()
    await conn.close()
  }
})

test('dead letters are capped near deadLetterMaxLen, the oldest dropped first', async () => {
  const q = joinable<number>('dead-cap', { deadLetterMaxLen: 100, prefetch: 100 })
  await q.putMany(Array.from({ length: 1000 }, (_, i) => i))
  for (let k = 0; k < 1000; k++) await (await q.receive({ timeout: 5000 })).fail('refused')
  const r = new Redis(REDIS_URL)
  const kept = await r.xlen(q.keys.dead)
  r.disconnect()
  // Approximate trimming drops whole stream nodes (100 entries each by default): 100 kept, a node more at most.
  assert.ok(kept >= 100 && kept <= 200, `${kept} dead letters kept`)
  const oldest = await q.deadLetters(1)
  assert.ok(oldest[0]!.value! >= 800, `the oldest kept is item ${oldest[0]!.value}`)
  assert.equal(oldest[0]!.reason, 'refused')
})

test('for await ends once the queue is sealed and drained', async () => {
  const q = queue<number>('seal')
  await q.putMany([1, 2, 3])
  await q.seal()
  const seen: number[] = []
  for await (const x of q) seen.push(x)
  assert.deepEqual(seen, [1, 2, 3])
})

test('a closed queue rejects waiting gets with ClosedError', async () => {
  const q = queue<number>('closed')
  const got = q.get().then(() => null, (err: Error) => err)
  await new Promise((r) => setTimeout(r, 30))
  await q.close()
  assert.ok((await got) instanceof ClosedError)
  await assert.rejects(q.put(1), ClosedError)
})

test('a queue handle survives marshalling to another place and still works there', async () => {
  const q = queue<string>('portable')
  const m = marshal({ q }, 'args[0]')
  assert.equal(m.portables, true)
  const { q: revived } = unmarshal(structuredClone(m.value), true) as { q: RedisQueue<string> }
  opened.push(revived)
  assert.ok(revived instanceof RedisQueue)
  await revived.put('from afar')
  assert.equal(await q.get({ timeout: 2000 }), 'from afar')
})

test('a queue handle given to a pool task works in a worker thread whose task module never imports troupe/redis', async () => {
  const q = queue<string>('to-thread')
  const pool = new Pool({ workers: 1 })
  try {
    assert.equal(await pool.apply(putInto, [q, 'from a thread']), 'put')
  } finally {
    pool.close()
    await pool.join()
  }
  assert.equal(await q.get({ timeout: 5000 }), 'from a thread')
})

test('an unreachable Redis fails at once with ConnectionClosedError naming the address', async () => {
  const q = new RedisQueue('x', { redis: { host: '127.0.0.1', port: 1, retryStrategy: () => null } })
  await assert.rejects(q.put(1), (err: Error) => err instanceof ConnectionClosedError && /127\.0\.0\.1:1/.test(err.message))
  await q.close()
})

test('qsize counts items waiting (not held or delayed); done items leave the stream', async () => {
  const q = joinable<number>('sizes', { delayPollMs: 20 })
  await q.putMany([1, 2, 3, 4])
  await q.put(5, { delay: 60_000 })
  assert.equal(await q.qsize(), 4)
  await q.get(); await q.get()
  assert.equal(await q.qsize(), 2, 'two are held by this consumer')
  await q.taskDone(); await q.taskDone()
  await q.get(); await q.get()
  await q.taskDone(); await q.taskDone()
  assert.equal(await q.qsize(), 0)
  const r = new Redis(REDIS_URL)
  assert.equal(await r.xlen(q.keys.stream), 0, 'acknowledged entries were trimmed')
  assert.equal(await r.get(q.keys.count), '1', 'the delayed item is still unfinished')
  r.disconnect()
  await assert.rejects(q.join({ timeout: 50 }), TimeoutError)
})

test('getMany waits for the first item, then takes what is there, up to max', async () => {
  const q = joinable<number>('many')
  const waiting = q.getMany(10, { timeout: 5000 })
  await new Promise((r) => setTimeout(r, 30))
  await q.putMany([1, 2, 3])
  const first = await waiting
  const rest = first.length < 3 ? await q.getMany(10, { timeout: 5000 }) : []
  assert.deepEqual([...first, ...rest], [1, 2, 3])
  for (let i = 0; i < 3; i++) await q.taskDone()
  await q.join({ timeout: 2000 })
  await assert.rejects(q.getMany(5, { timeout: 30 }), Empty)
  await assert.rejects(q.getMany(0), RangeError)
})

test('a consumer that closes holding nothing leaves the group; one that holds items stays until they are taken over', async () => {
  const q = joinable<number>('consumers', { consumer: 'c-tidy' })
  const other = joinable<number>('consumers', { consumer: 'c-holder' }, q.name)
  await q.putMany([1, 2])
  await q.get(); await q.taskDone()
  await other.get()
  await q.close()
  await other.close()
  const r = new Redis(REDIS_URL)
  const consumers = (await r.xinfo('CONSUMERS', q.keys.stream, 'troupe') as unknown[][]).map((c) => c[1])
  r.disconnect()
  assert.deepEqual(consumers, ['c-holder'])
})
