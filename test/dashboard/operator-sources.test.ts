// Sources that stop answering, end to end in Chromium: a gap and a stale row, not a drain; an auth refusal called
// one; a narrow window that keeps every column.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Manager, type SharedJoinableQueue } from '../../src/manager/index.ts'
import { startDashboard, type Source } from '../../src/cli/dashboard/index.ts'
import { e2e, open, root, track, troupe, until, WAIT } from './e2e-helpers.ts'

declare const document: any
e2e()

test('of two managers, the one that stops is a gap on the chart and a stale row, not a drain; said once in the terminal', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/cluster-manager.ts', import.meta.url))
  const start = () => new Promise<{ child: ChildProcess; address: string }>((resolve, reject) => {
    const child = track(spawn(process.execPath, ['--import', 'tsx', fixture, '127.0.0.1:0', 'abc'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] }))
    let out = ''
    child.stdout!.on('data', (c: Buffer) => { out += c; const m = /ready (\S+)/.exec(out); if (m) resolve({ child, address: m[1]! }) })
    child.on('exit', (code) => reject(new Error(`manager exited ${code}`)))
  })
  const a = await start()
  const b = await start()
  const feed = await new Manager({ address: a.address, authkey: 'abc' }).connect()
  await (await feed.create<SharedJoinableQueue<number>>('tasks')).putMany(Array.from({ length: 50 }, (_, i) => i))
  await feed.shutdown()
  const dash = await troupe(['dashboard', '--connect', a.address, '--connect', b.address, '--authkey', 'abc', '--queue', 'tasks', '--port', '0', '--interval', '200'], /troupe dashboard: (http:\S+)/)
  const page = await open(dash.match![1]!)
  await until(page, () => document.querySelectorAll('[data-testid="queue-row"][data-queue="tasks"]').length === 2)
  await until(page, () => document.querySelector('[data-testid="total-depth"] .card-value')?.textContent === '50')
  assert.equal(await page.locator('[data-testid="status"]').getAttribute('data-status'), 'live')
  await new Promise((r) => setTimeout(r, 600))
  a.child.kill('SIGKILL')
  await until(page, () => document.querySelector('[data-testid="status"]')?.getAttribute('data-status') === 'degraded')
  await until(page, () => Number(document.querySelector('[data-testid="throughput-chart"]')?.getAttribute('data-gaps')) >= 3)
  // The backlog is unknown, not zero; the stopped manager's queue keeps its last depth, greyed; the other one stays live.
  assert.equal(await page.locator('[data-testid="total-depth"] .card-value').innerText(), '–')
  const rows = await page.locator('[data-testid="queue-row"][data-queue="tasks"]').evaluateAll((rs: any[]) => rs.map((r) => [r.getAttribute('data-depth'), r.classList.contains('gone')]))
  assert.deepEqual(rows.sort(), [['0', false], ['50', true]])
  assert.match(await page.locator('[data-testid="banner"]').first().innerText(), new RegExp(`manager ${a.address.replace(/\./g, '\\.')} is not reachable`))
  // The chart's backlog ends where the manager stopped (its newest points have no depth), instead of falling to 0.
  assert.equal(await page.locator('[data-testid="throughput-chart"]').getAttribute('data-last-depth'), 'none')
  const chart = (await page.locator('[data-testid="throughput-chart"]').boundingBox())!
  await page.mouse.move(chart.x + chart.width - 70, chart.y + chart.height / 2)
  await page.locator('[data-testid="chart-tooltip"]').waitFor({ timeout: WAIT })
  assert.match(await page.locator('[data-testid="chart-tooltip"]').innerText(), /queued\s*(no data|[\d,.k]+)/)
  await new Promise((r) => setTimeout(r, 1500))
  const said = dash.err().split('\n').filter((l) => l.includes(`manager ${a.address} is not answering`))
  assert.equal(said.length, 1, dash.err())
  await page.close()
})

test('a refused authkey is called one on the page, said once by the dashboard, and logged once by the manager', async () => {
  const manager = await troupe(['manager', '--address', '127.0.0.1:0', '--authkey', 'right', '--queue', 'tasks'], /listening on (\S+)/)
  const address = manager.match![1]!
  const dash = await troupe(['dashboard', '--connect', address, '--authkey', 'wrong', '--port', '0', '--interval', '200'], /troupe dashboard: (http:\S+)/)
  const page = await open(dash.match![1]!)
  const banner = page.locator('[data-testid="banner"][data-trouble="auth"]')
  await banner.waitFor({ timeout: WAIT })
  assert.match(await banner.innerText(), new RegExp(`manager ${address.replace(/\./g, '\\.')} refused the dashboard's authkey`))
  assert.match(await page.locator('[data-testid="source"]').innerText(), /authkey refused/)
  // Five or more refusals later: one line from each side.
  await new Promise((r) => setTimeout(r, 2000))
  assert.equal(dash.err().split('\n').filter((l) => /is not answering: AuthenticationError/.test(l)).length, 1, dash.err())
  assert.equal(manager.err().split('\n').filter((l) => /refused connection/.test(l)).length, 1, manager.err())
  assert.match(manager.err(), /further refusals from this host: one line a minute/)
  await page.close()
})

test('at 760 px every column stays on screen', async () => {
  const queues = [
    { name: 'emails', backend: 'redis' as const, depth: 1234, put: 9000, got: 7766, pending: 12, delayed: 40, dead: 7, consumers: 3, oldestAgeMs: 64_000 },
    { name: 'thumbnails-and-previews', backend: 'redis' as const, depth: 5, put: 10, got: 5, pending: 0, delayed: 0, dead: 0, consumers: 1, oldestAgeMs: 900 },
  ]
  const sources: Source[] = [{ name: 'redis redis://10.0.0.7:6379', async sample() { return { queues } }, async act() { return { ok: true, message: '' } } }]
  const dash = await startDashboard({ sources, authkey: 'abc', allowActions: true, intervalMs: 200 })
  try {
    const page = await open(dash.url, 760, 900)
    await page.waitForSelector('[data-testid="queue-row"][data-queue="emails"]', { timeout: WAIT })
    const overflow = await page.evaluate(() => [...document.querySelectorAll('table')].map((t: any) => [t.getAttribute('data-testid'), t.scrollWidth - t.parentElement.clientWidth]).filter(([, d]: any) => d > 0))
    assert.deepEqual(overflow, [], 'a table wider than its panel')
    for (const header of ['dead', 'delayed', 'actions']) {
      const th = page.locator('[data-testid="queues"] th', { hasText: new RegExp(`^${header}$`) })
      const box = await th.boundingBox()
      assert.ok(box && box.x + box.width <= 760, `${header} column at ${JSON.stringify(box)}`)
    }
    await page.screenshot({ path: `${root}test-results/dashboard-760.png`, fullPage: true })
    await page.close()
  } finally {
    await dash.close()
  }
})

test('a pool or an actor system that stops reporting is shown as lost: load and states unknown, not a full bar and green dots', async () => {
  const pool = { kind: 'pool' as const, id: 'thumbnails', host: 'h', pid: 7, workerKind: 'thread', workers: 4, busy: 4, queued: 9, done: 100, failed: 0, restarts: 0, seq: 1 }
  const actors = {
    kind: 'actors' as const, id: 'pingpong', host: 'h', pid: 7, seq: 1,
    roots: [{ path: '/root', name: 'root', state: 'running' as const, mailbox: 0, restarts: 0, children: [] }],
  }
  // Fresh reports (a new seq each sample) until the test freezes them: then they stop changing.
  let frozen = false
  const sources: Source[] = [{
    name: 'fixed',
    async sample() {
      if (!frozen) { pool.seq++; actors.seq++ }
      return { queues: [], reports: [structuredClone(pool), structuredClone(actors)] }
    },
  }]
  const dash = await startDashboard({ sources, intervalMs: 100, lostAfterMs: 600 })
  try {
    const page = await open(dash.url)
    await page.waitForSelector('[data-testid="pool-row"][data-state="live"] .meter', { timeout: WAIT })
    await page.waitForSelector('[data-testid="actor-node"][data-state="running"]', { timeout: WAIT })
    frozen = true
    // The same report (same seq) again and again: 600 ms later they are lost.
    await page.waitForSelector('[data-testid="pool-row"][data-state="lost"]', { timeout: WAIT })
    assert.equal(await page.locator('[data-testid="pool-row"] .meter').count(), 0, 'no busy bar for a lost pool')
    assert.match(await page.locator('[data-testid="pool-row"]').innerText(), /lost: load unknown/)
    await page.waitForSelector('[data-testid="actor-system"][data-lost="true"] [data-testid="actor-node"][data-state="unknown"]', { timeout: WAIT })
    assert.equal(await page.locator('[data-testid="actor-node"][data-state="running"]').count(), 0)
    await page.close()
  } finally {
    await dash.close()
  }
})
