import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Pool } from '../../src/pool/index.ts'
import { Manager } from '../../src/manager/index.ts'
import { Collector, enableReports, managerSource, reportPool } from '../../src/cli/dashboard/index.ts'
import { square } from '../fixtures/tasks.ts'
import { parsePrometheus } from './prom.ts'

const cleanup: (() => Promise<unknown>)[] = []
after(async () => { for (const f of cleanup.reverse()) await f().catch(() => {}) })

test('a pool reporting to the manager shows its workers and counts its tasks', async () => {
  const server = enableReports(new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false }))
  await server.serve()
  cleanup.push(() => server.shutdown())
  const client = await new Manager({ address: server.address, authkey: 'abc' }).connect()
  cleanup.push(() => client.shutdown())

  const pool = new Pool({ workers: 2 })
  cleanup.push(() => pool.terminate())
  const reporting = reportPool(pool, client, { id: 'squares', intervalMs: 50 })
  cleanup.push(() => reporting.stop())
  const out = await pool.map(square, Array.from({ length: 20 }, (_, i) => i))
  assert.equal(out[19], 361)
  await reporting.flush()

  const collector = new Collector([managerSource({ address: server.address, authkey: 'abc' })])
  cleanup.push(() => collector.stop())
  const snap = await collector.tick()
  const p = snap.pools.find((x) => x.id === 'squares')
  assert.ok(p, JSON.stringify(snap.pools))
  assert.equal(p.workers, 2)
  assert.equal(p.workerKind, 'thread')
  assert.equal(p.restarts, 0)
  // map sends chunks; the pool counts tasks by what it ran, at least one per chunk and at most one per item.
  assert.ok(p.done >= 1 && p.done <= 20, `done ${p.done}`)
  const m = parsePrometheus((await collector.metrics.render()).body)
  assert.equal(m.value('troupe_pool_tasks_total', { pool: 'squares', status: 'done' }), p.done)
  assert.equal(m.value('troupe_pool_workers', { pool: 'squares', state: 'idle' }) + m.value('troupe_pool_workers', { pool: 'squares', state: 'busy' }), 2)
})
