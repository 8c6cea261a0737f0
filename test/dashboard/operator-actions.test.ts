// The dashboard's actions, end to end in Chromium: a dead letter retried from the page and processed by a Redis
// worker (listed like a manager's); purge refused without --allow-actions and without the token.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RedisJoinableQueue, RedisQueue } from '../../src/backends/redis/index.ts'
import { REDIS_URL } from '../services.ts'
import { chromium, e2e, open, redisPrefix, serving, troupe, until, WAIT } from './e2e-helpers.ts'

declare const document: any
e2e()

test('a dead letter retried from the page is processed by a troupe worker --redis, which is listed with its current task', async () => {
  const prefix = redisPrefix('retry')
  const q = new RedisJoinableQueue<number>('squares', { redis: REDIS_URL, prefix })
  const sent = new RedisQueue<number>('squared', { redis: REDIS_URL, prefix })
  try {
    await q.put(5)
    await (await q.receive()).fail('the first try hit a broken disk')
    for (let i = 1; i <= 4; i++) await q.put(100 + i)
    const { match } = await troupe(['dashboard', '--redis', REDIS_URL, '--redis-prefix', prefix, '--authkey', 'abc', '--allow-actions', '--port', '0', '--interval', '200'], /troupe dashboard: (http:\S+)/)
    const page = await open(match![1]!)
    const dead = page.locator('[data-testid="dead-row"]')
    await dead.first().waitFor({ timeout: WAIT })
    assert.match(await dead.first().innerText(), /5[^]*the first try hit a broken disk/)
    await troupe(['worker', '--redis', REDIS_URL, '--prefix', prefix, '--tasks', 'squares', '--results', 'squared',
      '--module', 'test/cli/fixtures/tasks.ts', '--export', 'crawl', '--no-progress'])
    // The Redis worker is listed like a manager's, with the task it runs now.
    const row = page.locator('[data-testid="worker-row"][data-state="busy"]')
    await row.first().waitFor({ timeout: WAIT })
    assert.match(await row.first().innerText(), /squares[^]*redis[^]*busy[^]*crawl\(10\d\)/)
    // Retry it from the page: it leaves the dead letters and the worker squares it.
    await page.locator('[data-testid="retry-dead"]').first().click()
    await until(page, () => document.querySelector('[data-testid="notice"]')?.getAttribute('data-ok') === 'true')
    assert.match(await page.locator('[data-testid="notice"]').innerText(), /put 1 dead letter back on 'squares'/)
    await until(page, () => document.querySelectorAll('[data-testid="dead-row"]').length === 0)
    const got: number[] = []
    while (got.length < 5) got.push(await sent.get({ timeout: WAIT }))
    assert.deepEqual(got.sort((a, b) => a - b), [25, 101 * 101, 102 * 102, 103 * 103, 104 * 104])
    await until(page, () => document.querySelector('[data-testid="worker-row"]')?.getAttribute('data-done') === '5').catch(async (err) => {
      throw new Error(`${err.message}: ${await page.locator('[data-testid="workers"]').innerText()}`)
    })
    await page.close()
  } finally {
    await q.close()
    await sent.close()
  }
})

test('purge is refused without --allow-actions and without the token; with both it purges', async () => {
  const { manager, tasks } = await serving()
  try {
    await tasks.putMany(Array.from({ length: 10 }, (_, i) => i))
    const readOnly = await troupe(['dashboard', '--connect', manager.address, '--authkey', 'abc', '--queue', 'tasks', '--port', '0', '--interval', '200'], /troupe dashboard: (http:\S+)/)
    let page = await open(readOnly.match![1]!)
    await page.waitForSelector('[data-testid="queue-row"][data-queue="tasks"][data-depth="10"]', { timeout: WAIT })
    assert.equal(await page.locator('[data-testid="purge"]').count(), 0, 'no action buttons on a read-only dashboard')
    const source = `manager ${manager.address}`
    const refused = await page.evaluate(async (src: string) => {
      const r = await fetch('api/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'purge', source: src, queue: 'tasks' }) })
      return [r.status, ((await r.json()) as { error: string }).error]
    }, source)
    assert.deepEqual(refused, [403, 'actions are off: start the dashboard with --allow-actions to enable them'])
    await page.close()

    const acting = await troupe(['dashboard', '--connect', manager.address, '--authkey', 'abc', '--queue', 'tasks', '--allow-actions', '--port', '0', '--interval', '200'], /troupe dashboard: (http:\S+)/)
    const url = acting.match![1]!
    assert.match(url, /\?token=[0-9a-f]{32}$/)
    // Without the token, not even the page.
    const bare = await chromium().newPage()
    assert.equal((await bare.goto(url.replace(/\?.*$/, ''), { timeout: WAIT }))?.status(), 401)
    const noToken = await bare.evaluate(async (src: string) => {
      const r = await fetch('api/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'purge', source: src, queue: 'tasks' }) })
      return r.status
    }, source)
    assert.equal(noToken, 401)
    await bare.close()
    page = await open(url)
    await page.waitForSelector('[data-testid="queue-row"][data-queue="tasks"][data-depth="10"]', { timeout: WAIT })
    // The page's own cookie does not act either: an action must carry the token in a header.
    const cookieOnly = await page.evaluate(async (src: string) => {
      const r = await fetch('api/actions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'purge', source: src, queue: 'tasks' }) })
      return r.status
    }, source)
    assert.equal(cookieOnly, 401)
    assert.equal(tasks.qsize(), 10, 'nothing was purged by the refused requests')
    await page.locator('[data-testid="queue-row"][data-queue="tasks"] [data-testid="purge"]').click()
    await page.locator('[data-testid="queue-row"][data-queue="tasks"] [data-testid="purge-confirm"]').click()
    await page.waitForSelector('[data-testid="queue-row"][data-queue="tasks"][data-depth="0"]', { timeout: WAIT })
    assert.match(await page.locator('[data-testid="notice"]').innerText(), /purged 10 waiting items from 'tasks'/)
    assert.equal(tasks.qsize(), 0)
    await tasks.join({ timeout: 5000 })
    await page.close()
  } finally {
    await manager.shutdown()
  }
})
