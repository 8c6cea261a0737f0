// A master of a Redis Cluster (3 masters + 3 replicas, started by this file) is killed -9 while
// producers put tasks and `troupe worker --redis redis-cluster://...` processes run them.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { RedisQueue, makeClient, type RedisClient } from '../../src/backends/index.ts'
import { RedisPool } from '../../src/pool/redis.ts'
import { RedisCluster } from './cluster.ts'
import { waitFor } from './helpers.ts'
import { node as spawnNode, killAll, type Spawned } from '../cli/spawn.ts'
import { square } from './fixtures/tasks.ts'

const cluster = new RedisCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 2000 })
const prefix = `tf-${randomBytes(3).toString('hex')}`
let probe: RedisClient
// Worker processes go with this file, also when it is stopped on a timeout (the cluster's nodes do by themselves).
process.once('SIGTERM', killAll)

before(async () => {
  await cluster.start()
  probe = makeClient(cluster.url)
  probe.on('error', () => {})
  await probe.connect()
}, { timeout: 180_000 })

after(async () => {
  killAll()
  probe?.disconnect()
  await cluster.stop()
})

/** A name for `label` whose queue lives on a master other than `avoid`'s. */
async function nameAvoiding(label: string, avoid?: number): Promise<string> {
  for (let i = 0; ; i++) {
    const name = `${label}-${i}`
    if ((await cluster.masterOf(`${prefix}:{${name}}:q`)) !== avoid) return name
  }
}

test('kill -9 of the master serving a busy queue: its replica takes over, producers and workers carry on, every task has exactly one result', async (t) => {
  const tasksName = await nameAvoiding('tasks')
  const tasks = new RedisQueue<number>(tasksName, { redis: cluster.url, prefix })
  await tasks.ready()
  const victim = await cluster.masterOf(tasks.keys.stream)
  // Results on another master: the one killed holds only the busy task queue (see docs/redis.md on writes a dying master may lose).
  const resultsName = await nameAvoiding('results', victim)
  const results = new RedisQueue<number>(resultsName, { redis: cluster.url, prefix })
  await results.ready()
  // The pool's own results queue is random; its tasks go to the same busy queue, served by the same workers.
  const pool = new RedisPool({ redis: cluster.url, prefix, name: tasksName, workers: 0 })

  const workers: Spawned[] = [1, 2].map(() => spawnNode(['src/cli/main.ts', 'worker', '--redis', cluster.url, '--prefix', prefix,
    '--tasks', tasksName, '--results', resultsName, '--module', 'test/redis/fixtures/tasks.ts', '--export', 'identity',
    '--lease-ms', '2000', '--prefetch', '16']))
  try {
    // Results as they are recorded, polled: when the workers stall, the count stops moving.
    const progress: [number, number][] = []
    let watching = true
    const watcher = (async () => {
      while (watching) {
        const n = await probe.xlen(results.keys.stream).catch(() => undefined)
        if (n !== undefined && n !== progress.at(-1)?.[1]) progress.push([Date.now(), n])
        await new Promise((r) => setTimeout(r, 20))
      }
    })()

    const N = 3000
    const ids: string[] = []
    let longestPut = 0
    const producing = (async () => {
      for (let i = 0; i < N; i++) {
        const t0 = Date.now()
        ids.push(await tasks.put(i))
        longestPut = Math.max(longestPut, Date.now() - t0)
        // Paced, so puts keep coming through the failover.
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5))
      }
    })()
    await waitFor('a quarter of the results before the kill', () => (progress.at(-1)?.[1] ?? 0) >= N / 4, 120_000)
    const squares = pool.map(square, Array.from({ length: 400 }, (_, i) => i), { chunksize: 4 })
    const killedAt = Date.now()
    await cluster.kill(victim)
    const promoted = await waitFor('a replica promoted', async () => {
      const port = await cluster.masterOf(tasks.keys.stream).catch(() => victim)
      return port !== victim ? port : undefined
    }, 60_000)
    const promotedAfter = Date.now() - killedAt
    await producing
    await waitFor('a result for every task', async () => (await probe.xlen(results.keys.stream)) >= N, 60_000).catch(async (err) => {
      const rows = await probe.xrange(results.keys.stream, '-', '+')
      const seen = new Set(rows.map(([, f]) => f[0]!))
      const missing = ids.filter((id) => !seen.has(id))
      const queued = await probe.xrange(tasks.keys.stream, '-', '+')
      const dead = await tasks.deadLetters(1000)
      throw new Error(`${(err as Error).message}: ${missing.length} missing (${missing.slice(0, 5).join(', ')}); ` +
        `${queued.filter(([, f]) => missing.includes(f[0]!)).length} of them still in the task stream, ${dead.filter((d) => missing.includes(d.taskId)).length} dead-lettered`)
    })
    assert.deepEqual(await squares, Array.from({ length: 400 }, (_, i) => i * i), 'the pool\'s map came through the failover')
    watching = false
    await watcher

    const rows = await probe.xrange(results.keys.stream, '-', '+')
    const recorded = rows.map(([, f]) => f[0]!)
    assert.equal(recorded.length, N, 'no task has two results')
    assert.equal(new Set(recorded).size, N)
    const seen = new Set(recorded)
    assert.deepEqual(ids.filter((id) => !seen.has(id)), [], 'every task has its result')
    for (const w of workers) assert.equal(w.child.exitCode, null, `a worker exited during the failover:\n${w.out()}`)
    assert.notEqual(promoted, victim)

    let workerStall = 0
    for (let i = 1; i < progress.length; i++) if (progress[i]![0] >= killedAt) workerStall = Math.max(workerStall, progress[i]![0] - Math.max(progress[i - 1]![0], killedAt))
    t.diagnostic(`failover: replica ${promoted} promoted ${(promotedAfter / 1000).toFixed(1)} s after kill -9 of ${victim} (cluster-node-timeout 2 s); ` +
      `longest put ${(longestPut / 1000).toFixed(1)} s; workers recorded nothing for ${(workerStall / 1000).toFixed(1)} s`)
  } finally {
    for (const w of workers) w.child.kill('SIGTERM')
    await Promise.all(workers.map((w) => w.exit(30_000).catch(() => null)))
    await pool.terminate()
    await tasks.close()
    await results.close()
  }
})
