// The dashboard, end to end in Chromium: what failed and why, from a worker's row; actor counts. The first test
// writes the screenshots docs/dashboard.md shows (docs/images/dashboard-*.png, with TROUPE_UPDATE_SCREENSHOTS=1).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Manager } from '../../src/manager/index.ts'
import { RedisJoinableQueue } from '../../src/backends/redis/index.ts'
import { startDashboard, managerSource, redisSource, reportPool, reportActors } from '../../src/cli/dashboard/index.ts'
import { Pool } from '../../src/pool/index.ts'
import { supervise } from '../../src/actor/index.ts'
import { square } from '../fixtures/tasks.ts'
import { Tally } from '../actor/fixtures.ts'
import { Slow } from './fixtures/actors.ts'
import { REDIS_URL } from '../services.ts'
import { e2e, errors, open, redisPrefix, serving, shoot, troupe, until, WAIT } from './e2e-helpers.ts'

declare const document: any
declare const window: any
e2e()

test('what failed: a failing task\'s error and stack open from its worker\'s row (and the docs\' screenshots: idle, busy, after a failure)', async () => {
  const { manager, tasks } = await serving()
  const client = await new Manager({ address: manager.address, authkey: 'abc' }).connect()
  const pool = new Pool({ workers: 2 })
  const sup = supervise([{ actor: Slow, name: 'pinger' }, { supervise: [{ actor: Slow, name: 'ponger' }], name: 'inner' }], { name: 'root' })
  const reporters = [reportPool(pool, client, { id: 'thumbnails' }), reportActors([sup], client, { id: 'pingpong' })]
  const prefix = redisPrefix('failures')
  // A Redis queue with delayed items and dead letters, next to the manager.
  const mail = new RedisJoinableQueue<{ to: string }>('emails', { redis: REDIS_URL, prefix })
  for (let i = 0; i < 3; i++) await mail.put({ to: `user${i}@example.com` }, { delay: 600_000 })
  for (let i = 0; i < 2; i++) await mail.put({ to: `nobody${i}@example.com` })
  for (let i = 0; i < 2; i++) await (await mail.receive()).fail(`template 'welcome' not found for nobody${i}@example.com`)
  const dash = await startDashboard({
    sources: [managerSource({ address: manager.address, authkey: 'abc', queues: ['tasks', 'results'] }), redisSource({ url: REDIS_URL, prefix })],
    authkey: 'abc', allowActions: true, intervalMs: 250,
  })
  try {
    for (let i = 0; i < 3; i++) {
      await troupe(['worker', '--connect', manager.address, '--authkey', 'abc', '--tasks', 'tasks', '--results', 'results',
        '--module', 'test/cli/fixtures/tasks.ts', '--export', 'sometimesFails', '--no-progress'])
    }
    const page = await open(dash.url)
    await until(page, () => document.querySelectorAll('[data-testid="worker-row"][data-state="idle"]').length === 3)
    await until(page, () => document.querySelectorAll('[data-testid="dead-row"]').length === 2)
    await shoot(page, 'dashboard-idle.png')

    // Busy: a backlog draining, pools and actors at work.
    await tasks.putMany(Array.from({ length: 6000 }, (_, i) => i))
    void pool.map(square, Array.from({ length: 20_000 }, (_, i) => i), { chunksize: 200 })
    for (let i = 0; i < 8; i++) sup.child<number>('pinger')!.send(250)
    await until(page, () => document.querySelectorAll('[data-testid="worker-row"][data-state="busy"]').length > 0)
    await until(page, () => Number(document.querySelector('[data-testid="total-done"] .card-value')?.textContent?.replace(/[^\d.]/g, '')) > 0)
    await shoot(page, 'dashboard-busy.png')

    // Task 28 is the first to fail (1 in 29): its worker's failed count opens the list, the row opens the stack.
    await until(page, () => document.querySelector('[data-testid="worker-failed"]') !== null)
    const worker = await page.locator('[data-testid="worker-failed"]').first().evaluate((b: any) => b.closest('tr').getAttribute('data-worker'))
    await page.locator(`[data-testid="worker-row"][data-worker="${worker}"] [data-testid="worker-failed"]`).click()
    const rows = page.locator('[data-testid="failure-row"]')
    await rows.first().waitFor({ timeout: WAIT })
    assert.deepEqual([...new Set(await rows.evaluateAll((rs: any[]) => rs.map((r) => r.getAttribute('data-worker'))))], [worker], 'filtered to that worker')
    const first = rows.first()
    const line = await first.innerText()
    const n = Number(/sometimesFails\((\d+)\)/.exec(line)?.[1])
    assert.equal(n % 29, 28, line)
    assert.match(line, new RegExp(`TypeError[^]*cannot square ${n}: the input was rejected by the validator[^]*tasks`))
    await first.click()
    const stack = page.locator('[data-testid="failure-stack"]').first()
    await stack.waitFor({ timeout: WAIT })
    const text = await stack.innerText()
    assert.match(text, /^TypeError: cannot square \d+: the input was rejected by the validator\n\s+at sometimesFails \(.*test\/cli\/fixtures\/tasks\.ts:\d+:\d+\)/)
    assert.match(await page.locator('[data-testid="failure-detail"]').first().innerText(), new RegExp(`worker ${worker.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^]*queue tasks`))
    // The failures also arrive per queue: the queue's failed count filters by queue.
    await page.locator('[data-testid="queue-row"][data-queue="tasks"] [data-testid="queue-failed"]').click()
    await until(page, () => [...document.querySelectorAll('[data-testid="failure-row"]')].every((r: any) => r.getAttribute('data-queue') === 'tasks'))
    await page.locator('[data-testid="failure-row"]').first().click()
    // From the workers' table down to the opened failure.
    const top = await page.evaluate(() => document.querySelector('[data-testid="workers"]').closest('.panel').getBoundingClientRect().top + window.scrollY - 60)
    await shoot(page, 'dashboard-failure.png', top)
    assert.deepEqual(errors(page), [])
    await page.close()
  } finally {
    for (const r of reporters) await r.stop()
    await dash.close()
    await sup.stop()
    await pool.terminate()
    await client.shutdown()
    await manager.shutdown()
    await mail.close()
  }
})

test('a thread actor\'s processed count is right on the page as soon as its asks are answered', async () => {
  const { manager } = await serving()
  const client = await new Manager({ address: manager.address, authkey: 'abc' }).connect()
  const sup = supervise([{ actor: Tally, name: 'tally', on: 'thread' }], { name: 'root' })
  const reporting = reportActors([sup], client, { id: 'counting', intervalMs: 100 })
  const dash = await startDashboard({ sources: [managerSource({ address: manager.address, authkey: 'abc' })], intervalMs: 200 })
  try {
    const tally = sup.child<number | 'get', number | undefined>('tally')!
    for (let i = 1; i <= 10; i++) await tally.ask(i)
    assert.equal(await tally.ask('get'), 55)
    const page = await open(dash.url)
    const node = '[data-testid="actor-node"][data-path="/root/tally"]'
    await page.waitForSelector(node, { timeout: WAIT })
    await until(page, (n: string) => document.querySelector(`${n} [data-testid="actor-processed"]`)?.textContent === '✓ 11', node)
    assert.equal(await page.locator(`${node} [data-testid="actor-mailbox"]`).first().innerText(), '✉ 0')
    await page.close()
  } finally {
    await reporting.stop()
    await dash.close()
    await sup.stop()
    await client.shutdown()
    await manager.shutdown()
  }
})
