import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { RedisJoinableQueue } from '../../src/backends/redis/index.ts'
import { Collector, redisSource, redisReportsKey, startReporting, WorkerActivity } from '../../src/cli/dashboard/index.ts'
import { parsePrometheus } from './prom.ts'
import { REDIS_URL } from '../services.ts'

const url = REDIS_URL
// A prefix of its own, so the test neither sees nor touches anyone else's queues.
const prefix = `troupe-dash-${process.pid}`
const cleanup: (() => Promise<unknown>)[] = []
after(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {})
  const r = new Redis(url)
  const keys = await r.keys(`${prefix}:*`)
  if (keys.length) await r.del(...keys)
  r.disconnect()
})

test('Redis queues under the prefix are found, with depth, pending, delayed and put/taken totals', async () => {
  const q = new RedisJoinableQueue<number>('emails', { redis: url, prefix })
  cleanup.push(() => q.close())
  for (let i = 0; i < 4; i++) await q.put(i)
  await q.put(99, { delay: 60_000 })
  await q.get()
  await q.get()
  await q.taskDone()

  const collector = new Collector([redisSource({ url, prefix })])
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  assert.deepEqual(snap.sources.map((s) => s.ok), [true], JSON.stringify(snap.sources))
  assert.equal(snap.queues.length, 1)
  const s = snap.queues[0]!
  assert.equal(s.name, 'emails')
  assert.equal(s.backend, 'redis')
  assert.equal(s.depth, await q.qsize())
  assert.equal(s.depth, 2)
  assert.equal(s.pending, 1)
  assert.equal(s.delayed, 1)
  assert.equal(s.put, 4)
  assert.equal(s.got, 2)
  const m = parsePrometheus((await collector.metrics.render()).body)
  assert.equal(m.value('troupe_queue_depth', { queue: 'emails', backend: 'redis' }), 2)
  assert.equal(m.value('troupe_queue_got_total', { queue: 'emails', backend: 'redis' }), 2)
})

test('workers can report through a Redis hash instead of a manager', async () => {
  const activity = new WorkerActivity({ id: 'redis-worker' })
  activity.begin('send(42)')
  activity.end(true)
  const reporting = startReporting({ redis: url, prefix }, () => activity.report(), { intervalMs: 50 })
  await reporting.flush()
  const collector = new Collector([redisSource({ url, prefix })])
  cleanup.push(() => collector.stop())
  let snap = await collector.tick()
  assert.deepEqual(snap.workers.map((w) => [w.id, w.done]), [['redis-worker', 1]])
  await reporting.stop({ withdraw: true })
  const r = new Redis(url)
  assert.equal(await r.hlen(redisReportsKey(prefix)), 0)
  r.disconnect()
  snap = await collector.tick()
  assert.equal(snap.workers.length, 0)
})

test('a Redis that is not there shows as a source that is down, without hanging', async () => {
  const collector = new Collector([redisSource({ url: 'redis://127.0.0.1:1' })], { sampleTimeoutMs: 4000 })
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  assert.equal(snap.sources[0]!.ok, false)
})
