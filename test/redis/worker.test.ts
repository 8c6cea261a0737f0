import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { deserialize } from 'node:v8'
import { RedisQueue, spawnWorker, moduleRef, type WorkerBoot } from '../../src/backends/index.ts'
import type { Endpoint } from '../../src/process/index.ts'
import { REDIS_URL, requireRedis, unique, cleanup, waitFor } from './helpers.ts'

const fixtures = new URL('./fixtures/tasks.ts', import.meta.url).href
const names: string[] = []
const workers: Endpoint[] = []
const opened: RedisQueue<any>[] = []

before(() => requireRedis())
after(async () => {
  await Promise.all(workers.map((w) => w.kill()))
  await Promise.all(opened.map((q) => q.close()))
  await cleanup(REDIS_URL, names)
})

function start(boot: WorkerBoot, n: number): Endpoint[] {
  const out = Array.from({ length: n }, (_, i) => spawnWorker(boot, `test-worker-${i}`))
  workers.push(...out)
  return out
}

test('a worker SIGKILLed mid-task: another worker completes the task, and there is exactly one result', async () => {
  const tasks = unique('kill-tasks'), results = unique('kill-results'), log = `troupe:{${tasks}}:test-log`
  names.push(tasks, results)
  const q = new RedisQueue<object>(tasks, { redis: REDIS_URL }); opened.push(q)
  const r = new RedisQueue<number>(results, { redis: REDIS_URL }); opened.push(r)
  const pair = start({ redis: REDIS_URL, tasks, results, fn: { url: fixtures, name: 'slowSquare' }, leaseMs: 600, prefetch: 1 }, 2)
  await q.put({ n: 12, log, ms: 1500 })
  const redis = new Redis(REDIS_URL)
  try {
    // The first worker to start the task says so; kill exactly that one.
    const [, pid] = (await redis.blpop(log, 30))!
    const victim = pair.find((w) => w.pid === Number(pid))!
    assert.ok(victim, `a worker with pid ${pid} started the task`)
    const exit = await victim.kill()
    assert.equal(exit.exitCode, -9)
    assert.equal(await r.get({ timeout: 15_000 }), 144)
    const runs = await redis.lrange(log, 0, -1)
    assert.equal(runs.length, 1, 'the survivor ran it once more')
    assert.notEqual(runs[0], pid)
    await assert.rejects(r.get({ timeout: 300 }), { name: 'Empty' })
    assert.equal(await redis.xlen(q.keys.stream), 0, 'the task was acknowledged')
  } finally {
    await redis.del(log)
    redis.disconnect()
  }
})

test('4 worker processes x 50,000 tasks: none lost, none duplicated', async () => {
  const tasks = unique('bulk-tasks'), results = unique('bulk-results')
  names.push(tasks, results)
  const N = 200_000
  const q = new RedisQueue<number>(tasks, { redis: REDIS_URL }); opened.push(q)
  const four = start({ redis: REDIS_URL, tasks, results, fn: { url: fixtures, name: 'identity' }, prefetch: 500, idleExit: 1500 }, 4)
  const ids = await q.putMany(Array.from({ length: N }, (_, i) => i))
  const exits = await Promise.all(four.map((w) => w.exited))
  assert.deepEqual(exits.map((e) => e.exitCode), [0, 0, 0, 0])
  const redis = new Redis(REDIS_URL)
  try {
    const r = new RedisQueue<number>(results, { redis: REDIS_URL })
    assert.equal(await redis.xlen(r.keys.stream), N, 'one result per task')
    const seenIds = new Set<string>()
    const values = new Uint8Array(N)
    let cursor = '-'
    for (;;) {
      const rows = await redis.xrangeBuffer(r.keys.stream, cursor, '+', 'COUNT', 20_000)
      if (rows.length === 0) break
      for (const [id, fields] of rows) {
        seenIds.add(fields[0]!.toString())
        values[deserialize(fields[1]!) as number] += 1
        cursor = `(${id.toString()}`
      }
    }
    await r.close()
    assert.equal(seenIds.size, N)
    assert.ok(ids.every((id) => seenIds.has(id)), 'every task id has its result')
    assert.ok(values.every((v) => v === 1), 'every value came back exactly once')
    assert.equal(await redis.xlen(q.keys.stream), 0, 'every task was acknowledged')
  } finally {
    redis.disconnect()
  }
})

test('troupe worker --redis: runRedisWorker serves a queue with a module export and exits when idle', async () => {
  const { runRedisWorker } = await import('../../src/redis.ts')
  const tasks = unique('cli-tasks'), results = unique('cli-results')
  names.push(tasks, results)
  const q = new RedisQueue<number>(tasks, { redis: REDIS_URL }); opened.push(q)
  const r = new RedisQueue<number | Error>(results, { redis: REDIS_URL, prefetch: 100 }); opened.push(r)
  await q.putMany([1, 2, 3, 4, 5])
  const stats = await runRedisWorker({ redis: REDIS_URL, tasks, results, module: 'test/redis/fixtures/tasks.ts', export: 'square', idleExit: 0.5, progress: false })
  assert.equal(stats.done, 5)
  const got: number[] = []
  for (let i = 0; i < 5; i++) got.push(await r.get({ timeout: 2000 }) as number)
  assert.deepEqual(got.sort((a, b) => a - b), [1, 4, 9, 16, 25])
})

test('a task that throws has its error as its result, with class, message, properties and remote stack', async () => {
  const { runRedisWorker } = await import('../../src/redis.ts')
  const tasks = unique('err-tasks'), results = unique('err-results')
  names.push(tasks, results)
  const q = new RedisQueue<number>(tasks, { redis: REDIS_URL }); opened.push(q)
  const r = new RedisQueue<Error>(results, { redis: REDIS_URL }); opened.push(r)
  await q.put(3)
  const stats = await runRedisWorker({ redis: REDIS_URL, tasks, results, module: 'test/redis/fixtures/tasks.ts', export: 'fails', processes: 2, idleExit: 0.5, progress: false })
  assert.equal(stats.failed, 1)
  const err = await r.get({ timeout: 2000 }) as RangeError & { input: number; origin: string; remoteStack: string }
  assert.ok(err instanceof RangeError)
  assert.equal(err.message, 'bad input 3')
  assert.equal(err.input, 3)
  assert.match(err.origin, /redis worker/)
  assert.match(err.remoteStack, /fails/)
})

test('workers that keep dying on a task dead-letter it and its caller gets a WorkerCrashedError result', async () => {
  const tasks = unique('poison-tasks'), results = unique('poison-results'), log = `troupe:{${tasks}}:test-log`
  names.push(tasks, results)
  const q = new RedisQueue<object>(tasks, { redis: REDIS_URL, maxRetries: 1 }); opened.push(q)
  const r = new RedisQueue<Error>(results, { redis: REDIS_URL }); opened.push(r)
  const boot: WorkerBoot = { redis: REDIS_URL, tasks, results, fn: { url: fixtures, name: 'slowSquare' }, leaseMs: 300, maxRetries: 1, prefetch: 1 }
  await q.put({ n: 1, log, ms: 60_000 })
  const redis = new Redis(REDIS_URL)
  try {
    // Each run starts, then its worker is killed: 2 runs allowed (maxRetries 1), then the task is dead.
    for (let run = 1; run <= 2; run++) {
      const [w] = start(boot, 1)
      await redis.blpop(log, 30)
      await w!.kill()
    }
    start(boot, 1)
    const err = await r.get({ timeout: 15_000 })
    assert.equal(err.name, 'WorkerCrashedError')
    assert.match(err.message, /dead-lettered/)
    const dead = await q.deadLetters()
    assert.equal(dead.length, 1)
    assert.match(dead[0]!.reason, /died or hung during each of its 2 runs \(lease of 300 ms expired; maxRetries 1\)/)
    assert.equal(dead[0]!.attempts, 2)
  } finally {
    await redis.del(log)
    redis.disconnect()
  }
})

test('moduleRef turns a command-line path into a file URL', () => {
  assert.match(moduleRef('test/redis/fixtures/tasks.ts', 'square').url, /^file:\/\/.*test\/redis\/fixtures\/tasks\.ts$/)
})

test('the troupe worker command with --redis serves a Redis queue from another process', async () => {
  const { spawnSync } = await import('node:child_process')
  const tasks = unique('cmd-tasks'), results = unique('cmd-results')
  names.push(tasks, results)
  const q = new RedisQueue<number>(tasks, { redis: REDIS_URL }); opened.push(q)
  const r = new RedisQueue<number>(results, { redis: REDIS_URL }); opened.push(r)
  await q.putMany([2, 3])
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--redis', REDIS_URL, '--tasks', tasks, '--results', results,
    '--module', 'test/redis/fixtures/tasks.ts', '--export', 'square', '--idle-exit', '1'], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(run.status, 0, run.stderr)
  const got = [await r.get({ timeout: 2000 }), await r.get({ timeout: 2000 })]
  assert.deepEqual(got.sort((a, b) => a - b), [4, 9])
})

test('troupe worker --redis takes the API knobs as flags: --prefix, --lease-ms, --max-retries, --retries, --prefetch', async () => {
  const { spawnSync } = await import('node:child_process')
  const prefix = unique('cli-prefix')
  const tasks = unique('flag-tasks'), results = unique('flag-results'), key = `${prefix}:{${tasks}}:runs`
  const q = new RedisQueue<string>(tasks, { redis: REDIS_URL, prefix }); opened.push(q)
  const r = new RedisQueue<string>(results, { redis: REDIS_URL, prefix }); opened.push(r)
  try {
    await q.put(key)
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--redis', REDIS_URL, '--tasks', tasks, '--results', results,
      '--module', 'test/redis/fixtures/tasks.ts', '--export', 'failsOnce', '--idle-exit', '1', '--no-progress',
      '--prefix', prefix, '--lease-ms', '5000', '--max-retries', '2', '--retries', '1', '--prefetch', '8'], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(run.status, 0, run.stderr)
    // --retries 1: the first run threw, the second one's result is the task's.
    assert.equal(await r.get({ timeout: 2000 }), 'second run')
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--connect', '127.0.0.1:1', '--authkey', 'k', '--tasks', 't', '--results', 'r',
      '--module', 'test/redis/fixtures/tasks.ts', '--export', 'square', '--lease-ms', '100'], { encoding: 'utf8', timeout: 60_000 })
    assert.notEqual(bad.status, 0)
    assert.match(bad.stderr, /--lease-ms applies only with --redis/)
  } finally {
    await cleanup(REDIS_URL, [tasks, results], prefix)
  }
})
