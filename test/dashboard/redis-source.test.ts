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
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'emails', backend: 'redis' }), 2)
  assert.equal(m.value('troupe_queue_items_taken_total', { queue: 'emails', backend: 'redis' }), 2)
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

test('dead letters are listed with their reason and error; retry puts them back for fresh runs, drop deletes them', async () => {
  const q = new RedisJoinableQueue<{ n: number }>('jobs', { redis: url, prefix })
  cleanup.push(() => q.close())
  for (let n = 0; n < 3; n++) await q.put({ n })
  for (let n = 0; n < 3; n++) await (await q.receive()).fail(`bad input ${n}`)
  const collector = new Collector([redisSource({ url, prefix })], { actions: true })
  cleanup.push(() => collector.stop())
  let snap = await collector.tick()
  const jobs = () => snap.queues.find((x) => x.name === 'jobs')!
  assert.equal(jobs().dead, 3)
  assert.deepEqual(snap.deadLetters.filter((d) => d.queue === 'jobs').map((d) => [d.reason, d.task]).sort(),
    [['bad input 0', '{"n":0}'], ['bad input 1', '{"n":1}'], ['bad input 2', '{"n":2}']])
  const source = snap.sources[0]!.name
  const first = snap.deadLetters.find((d) => d.reason === 'bad input 1')!
  const r = await collector.act({ kind: 'retry-dead', source, queue: 'jobs', ids: [first.id] })
  assert.deepEqual([r.ok, r.count], [true, 1])
  const again = await q.receive({ timeout: 5000 })
  assert.deepEqual([again.value, again.attempt], [{ n: 1 }, 1])
  assert.match(again.id, /~r\d+$/, 'a retried dead letter runs under a new task id (its old id may have a recorded failure)')
  await again.done()
  assert.equal((await collector.act({ kind: 'drop-dead', source, queue: 'jobs' })).count, 2)
  snap = await collector.tick()
  assert.equal(jobs().dead, 0)
  assert.equal(snap.deadLetters.filter((d) => d.queue === 'jobs').length, 0)
  await q.join({ timeout: 5000 })
})

test('purge removes waiting items only; delayed items are promoted or dropped; a queue can be sealed; oldest age is reported', async () => {
  const q = new RedisJoinableQueue<number>('mail', { redis: url, prefix })
  cleanup.push(() => q.close())
  for (let i = 0; i < 5; i++) await q.put(i)
  await q.put(100, { delay: 60_000 })
  await q.put(101, { delay: 60_000 })
  const held = await q.get()
  await new Promise((r) => setTimeout(r, 20))
  const collector = new Collector([redisSource({ url, prefix })], { actions: true })
  cleanup.push(() => collector.stop())
  let snap = await collector.tick()
  const mail = () => snap.queues.find((x) => x.name === 'mail')!
  assert.ok(mail().oldestAgeMs! >= 10, JSON.stringify(mail()))
  assert.deepEqual(snap.delayed.filter((d) => d.queue === 'mail').length, 2)
  const source = snap.sources[0]!.name
  assert.equal((await collector.act({ kind: 'purge', source, queue: 'mail' })).count, 4)
  snap = await collector.tick()
  assert.deepEqual([mail().depth, mail().pending, mail().delayed], [0, 1, 2])
  const delayedId = snap.delayed.find((d) => d.queue === 'mail')!.taskId
  assert.equal((await collector.act({ kind: 'promote-delayed', source, queue: 'mail', ids: [delayedId] })).count, 1)
  assert.equal((await collector.act({ kind: 'drop-delayed', source, queue: 'mail' })).count, 1)
  assert.ok([100, 101].includes(await q.get({ timeout: 5000 })), 'the promoted item is due now')
  await collector.act({ kind: 'seal', source, queue: 'mail' })
  snap = await collector.tick()
  assert.equal(mail().sealed, true)
  assert.equal(await q.sealed(), true)
  assert.equal(held, 0)
  await q.taskDone()
  await q.taskDone()
  await q.join({ timeout: 5000 })
})

test('actions are refused unless the collector allows them', async () => {
  const collector = new Collector([redisSource({ url, prefix })])
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  await assert.rejects(collector.act({ kind: 'purge', source: snap.sources[0]!.name, queue: 'mail' }), /actions are off: start the dashboard with --allow-actions/)
})
