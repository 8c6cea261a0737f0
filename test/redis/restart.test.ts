import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { RedisQueue, serveTasks } from '../../src/backends/index.ts'
import { OwnRedis, waitFor } from './helpers.ts'
import { sleepy } from './fixtures/tasks.ts'

const server = new OwnRedis()
after(() => server.destroy())

test('Redis restarted mid-run (AOF on): clients reconnect and no acknowledged task is lost', async () => {
  await server.start()
  const url = server.url
  const tasks = new RedisQueue<number>('restart-tasks', { redis: url })
  const results = new RedisQueue<number>('restart-results', { redis: url })
  const stop = new AbortController()
  // Two workers in this process, on their own connections, each a few tasks at a time.
  const served = [1, 2].map(() => serveTasks({
    redis: url, tasks: 'restart-tasks', results: 'restart-results', fn: (n: number) => sleepy(n, 5),
    concurrency: 4, prefetch: 8, leaseMs: 2000, signal: stop.signal,
  }))
  const acknowledged: string[] = []
  const N = 1500
  let restarted = false
  const producing = (async () => {
    // Paced, so puts are still coming while Redis restarts.
    for (let i = 0; i < N; i++) { acknowledged.push(await tasks.put(i)); if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5)) }
  })()
  const probe = new Redis(url, { lazyConnect: true })
  probe.on('error', () => {})
  try {
    await waitFor('some results before the restart', async () => (await results.qsize().catch(() => 0)) > 200, 30_000)
    const before = await results.qsize()
    const putBefore = acknowledged.length
    await server.restart()
    restarted = true
    assert.ok(before < N, `the restart happened mid-run (${before} of ${N} results so far, ${putBefore} puts acknowledged)`)
    await producing
    await waitFor('a result for every acknowledged task', async () => {
      try { return (await probe.xlen(results.keys.stream)) >= acknowledged.length } catch { return false }
    }, 60_000)
    stop.abort()
    const stats = await Promise.all(served)
    assert.ok(stats.every((s) => s.failed === 0))
    const rows = await probe.xrange(results.keys.stream, '-', '+')
    const ids = rows.map(([, f]) => f[0]!)
    assert.equal(new Set(ids).size, ids.length, 'no task has two results')
    const seen = new Set(ids)
    assert.ok(acknowledged.every((id) => seen.has(id)), 'every acknowledged task has its result')
    assert.equal(acknowledged.length, N)
    assert.ok(restarted)
  } finally {
    stop.abort()
    probe.disconnect()
    await tasks.close()
    await results.close()
  }
})
