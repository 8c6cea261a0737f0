import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { RedisPool } from '../../src/pool/redis.ts'
import { PoolClosedError, AbortError, TimeoutError, UnsendableValueError } from '../../src/errors.ts'
import { REDIS_URL, requireRedis, unique, cleanup } from './helpers.ts'
import { square, add, fails, sleepy, slowSquare } from './fixtures/tasks.ts'

const names: string[] = []
let pool: RedisPool

before(async () => {
  await requireRedis()
  const name = unique('pool'); names.push(name)
  pool = new RedisPool({ redis: REDIS_URL, name, workers: 2, concurrency: 4 })
})
after(async () => {
  await pool.terminate()
  await cleanup(REDIS_URL, names)
})

test('applyAsync runs an exported function on a Redis worker; the result is typed and awaitable', async () => {
  const r = pool.applyAsync(square, [7])
  const n: number = await r
  assert.equal(n, 49)
  assert.equal(r.ready(), true)
  assert.equal(r.successful(), true)
  assert.equal(await pool.apply(add, [2, 3]), 5)
  // @ts-expect-error square takes a number
  void pool.applyAsync(square, ['seven']).catch(() => {})
})

test('a task timeout must be a positive number of ms, as on a thread pool: 0, -1 and null are refused at the call', () => {
  for (const timeout of [0, -1, null]) {
    assert.throws(() => pool.applyAsync(square, [2], { timeout: timeout as number }), RangeError, String(timeout))
  }
})

test('map, starmap, imap and imapUnordered keep Python semantics', async () => {
  const xs = Array.from({ length: 100 }, (_, i) => i)
  assert.deepEqual(await pool.map(square, xs, { chunksize: 7 }), xs.map((x) => x * x))
  assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7])
  const ordered: number[] = []
  for await (const y of pool.imap(square, xs.slice(0, 20), { chunksize: 3 })) ordered.push(y)
  assert.deepEqual(ordered, xs.slice(0, 20).map((x) => x * x))
  const unordered: number[] = []
  for await (const y of pool.imapUnordered(square, xs.slice(0, 20))) unordered.push(y)
  assert.deepEqual(unordered.sort((a, b) => a - b), xs.slice(0, 20).map((x) => x * x))
})

test('an error thrown in a worker keeps its class, message, properties and remote stack', async () => {
  await assert.rejects(pool.apply(fails, [5]), (err: RangeError & { input: number; remoteStack: string }) => {
    assert.ok(err instanceof RangeError)
    assert.equal(err.message, 'bad input 5')
    assert.equal(err.input, 5)
    assert.match(err.remoteStack, /fails/)
    return true
  })
})

test('a task can be aborted or time out; an unsendable argument is refused by path', async () => {
  const ac = new AbortController()
  const r = pool.applyAsync(sleepy, [1, 2000], { signal: ac.signal })
  ac.abort()
  await assert.rejects(r.get(), AbortError)
  await assert.rejects(pool.apply(sleepy, [1, 3000], { timeout: 50 }), TimeoutError)
  // As with Pool (and Python), the task fails, not the call.
  await assert.rejects(pool.applyAsync(add, [1, (() => 2) as unknown as number]).get(), (err: Error) => err instanceof UnsendableValueError && /args\[1\]/.test(err.message))
})

test('close then join waits for submitted work; afterwards new tasks fail with PoolClosedError', async () => {
  const name = unique('pool-close'); names.push(name)
  const p = new RedisPool({ redis: REDIS_URL, name, workers: 1 })
  const results = [1, 2, 3].map((n) => p.applyAsync(sleepy, [n, 20]))
  p.close()
  await p.join()
  assert.deepEqual(await Promise.all(results), [1, 2, 3])
  assert.throws(() => p.applyAsync(square, [1]), PoolClosedError)
  assert.equal(p.stats().workers, 0)
  const r = new Redis(REDIS_URL)
  const left = await r.keys(`troupe:{${name}.results.*`)
  r.disconnect()
  assert.deepEqual(left, [], 'the pool deleted its results keys')
})

test('a pool worker SIGKILLed mid-task: the task completes on another worker, the pool replaces the dead one', async () => {
  const name = unique('pool-kill'); names.push(name)
  const p = new RedisPool({ redis: REDIS_URL, name, workers: 2, leaseMs: 600 })
  const log = `troupe:{${name}}:test-log`
  const r = new Redis(REDIS_URL)
  try {
    const result = p.applyAsync(slowSquare, [{ n: 9, log, ms: 1500 }])
    const [, pid] = (await r.blpop(log, 30))!
    process.kill(Number(pid), 'SIGKILL')
    assert.equal(await result.get({ timeout: 30_000 }), 81)
    assert.equal(p.stats().crashes, 1)
    const runs = await r.lrange(log, 0, -1)
    assert.equal(runs.length, 1, 'one more run, on the other worker')
    assert.notEqual(runs[0], pid)
  } finally {
    await r.del(log)
    r.disconnect()
    await p.terminate()
  }
})

test('workers that die before serving are not respawned forever: pending tasks fail with WorkerCrashedError', async () => {
  const name = unique('pool-broken'); names.push(name)
  const p = new RedisPool({ redis: REDIS_URL, name, workers: 0 })
  // Simulate worker processes that cannot reach Redis (the pool itself can).
  const internals = p as unknown as { boot: { redis: string }; spawn(i: number): void }
  internals.boot.redis = 'redis://127.0.0.1:1'
  internals.spawn(0)
  try {
    await assert.rejects(p.apply(square, [3]), (err: Error) => {
      assert.equal(err.name, 'WorkerCrashedError')
      assert.match(err.message, /Redis pool .*: 3 workers in a row died before finishing any task.*cannot reach Redis/)
      return true
    })
    assert.equal(p.stats().workers, 0)
  } finally {
    await p.terminate()
  }
})
