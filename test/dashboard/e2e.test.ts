import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { Manager, type SharedJoinableQueue } from '../../src/manager/index.ts'
import { parsePrometheus } from './prom.ts'
import { launchChromium } from '../services.ts'
import { startDashboard, managerSource, enableReports, reportPool, reportActors } from '../../src/cli/dashboard/index.ts'
import { Pool } from '../../src/pool/index.ts'
import { supervise } from '../../src/actor/index.ts'
import { square } from '../fixtures/tasks.ts'
import { Slow } from './fixtures/actors.ts'

// The functions given to waitForFunction run in the page; the test's tsconfig has no DOM types.
declare const document: {
  querySelector(selector: string): { getAttribute(name: string): string | null; textContent: string | null } | null
  querySelectorAll(selector: string): { length: number }
}

const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))
const TASKS = 300
const WAIT = 60_000

const children: ChildProcess[] = []
let browser: Browser | undefined

/** Start `node --import tsx <args>` and wait for a stdout line matching `ready`. */
async function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  let err = ''
  child.stderr!.on('data', (c: Buffer) => { err += c })
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} not ready within ${WAIT} ms\nstdout: ${out}\nstderr: ${err}`)), WAIT)
    child.stdout!.on('data', (c: Buffer) => {
      out += c
      const m = out.match(ready)
      if (m) { clearTimeout(timer); resolve(m) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited (${code}) before it was ready\nstdout: ${out}\nstderr: ${err}`)) })
  })
  return { child, match }
}

async function httpGet(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) })
  assert.equal(res.status, 200, `${url} answered ${res.status}`)
  return res.text()
}

before(() => {
  // The page is built by `npm run build`; build it here when a test run starts from a fresh checkout.
  if (!existsSync(`${root}dist/web/index.html`)) {
    const r = spawnSync(process.execPath, [`${root}node_modules/vite/bin/vite.js`, 'build', '--config', 'web/vite.config.ts'], { cwd: root, stdio: 'inherit', timeout: 120_000 })
    assert.equal(r.status, 0, 'building the dashboard page failed')
  }
  mkdirSync(`${root}test-results`, { recursive: true })
})

after(async () => {
  await browser?.close().catch(() => {})
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
})

test('the dashboard shows workers and a queue draining to zero, and /metrics counts the work done', async () => {
  const { match: [, address] } = await start([`${fixtures}cluster-manager.ts`, '127.0.0.1:0', 'abc'], /ready (\S+)/)
  const { match: [, url] } = await start(
    ['src/cli/main.ts', 'dashboard', '--connect', address!, '--authkey', 'abc', '--port', '0', '--interval', '200', '--queue', 'tasks', 'results'],
    /troupe dashboard: (http:\S+)/,
  )
  await Promise.all(['worker-1', 'worker-2'].map((id) => start([`${fixtures}cluster-worker.ts`, address!, 'abc', id, '10'], /ready/)))

  browser = await launchChromium({ timeout: WAIT })
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/events')) pageErrors.push(`request failed: ${r.url()}`) })
  await page.goto(url!, { timeout: WAIT })

  // Both workers are listed, idle, before any work is queued.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="worker-row"][data-state="idle"]').length === 2, undefined, { timeout: WAIT })
  await page.waitForSelector('[data-testid="queue-row"][data-queue="tasks"]', { timeout: WAIT })
  assert.equal(await page.locator('[data-testid="status"]').innerText().then((t) => t.startsWith('live')), true)

  // The producer: TASKS numbers, then one terminator per worker.
  const producer = await new Manager({ address: address!, authkey: 'abc' }).connect()
  try {
    const tasks = await producer.create<SharedJoinableQueue<number | null>>('tasks')
    await tasks.putMany([...Array.from({ length: TASKS }, (_, i) => i), null, null])

    // The queue is seen with work waiting, then drained to zero.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="queue-row"][data-queue="tasks"]')?.getAttribute('data-depth')) > 0, undefined, { timeout: WAIT, polling: 50 })
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="worker-row"][data-state="busy"]').length > 0, undefined, { timeout: WAIT, polling: 50 })
    await page.screenshot({ path: `${root}test-results/dashboard-draining.png`, fullPage: true })
    await page.waitForFunction(() => document.querySelector('[data-testid="queue-row"][data-queue="tasks"]')?.getAttribute('data-depth') === '0', undefined, { timeout: WAIT })
    await tasks.join({ timeout: WAIT })
  } finally {
    await producer.shutdown()
  }

  // Both workers finished and said so; the page counts every task.
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="worker-row"][data-state="exited"]').length === 2, undefined, { timeout: WAIT })
  await page.waitForFunction((n) => document.querySelector('[data-testid="total-done"] .card-value')?.textContent === n, TASKS.toLocaleString('en-US'), { timeout: WAIT })
  const workerIds = await page.locator('[data-testid="worker-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-worker')))
  assert.deepEqual(workerIds, ['worker-1', 'worker-2'])
  await page.screenshot({ path: `${root}test-results/dashboard.png`, fullPage: true })
  assert.deepEqual(pageErrors, [])

  // /metrics agrees with the work done.
  const m = parsePrometheus(await httpGet(new URL('metrics', url).href))
  assert.equal(m.value('troupe_tasks_total', { status: 'done' }), TASKS)
  assert.equal(m.value('troupe_tasks_total', { status: 'failed' }), 0)
  assert.equal(m.sum('troupe_worker_tasks_total', { status: 'done' }), TASKS)
  assert.equal(m.value('troupe_task_duration_seconds_count'), TASKS)
  assert.ok(m.value('troupe_task_duration_seconds_sum') >= TASKS * 0.009, 'each task slept 10 ms')
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'tasks', backend: 'manager' }), 0)
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'results', backend: 'manager' }), TASKS)
  assert.equal(m.value('troupe_dashboard_source_up', { source: `manager ${address}` }), 1)
  assert.equal(m.types.get('troupe_task_duration_seconds'), 'histogram')
})

test('troupe manager --dashboard shows the demo task queue fill and drain as troupe worker processes square it', async () => {
  const N = 3000
  const { match: [, address, dashUrl] } = await start(
    ['src/cli/main.ts', 'manager', '--address', '127.0.0.1:0', '--authkey', 'abc', '--joinable-queue', 'tasks', '--queue', 'results', '--dashboard', '0'],
    /listening on (\S+)[^]*dashboard on (http:\S+)/,
  )
  browser ??= await launchChromium({ timeout: WAIT })
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
  await page.goto(dashUrl!, { timeout: WAIT })
  await page.waitForSelector('[data-testid="queue-row"][data-queue="tasks"]', { timeout: WAIT })

  // Tasks first, workers after: the page must show the backlog before it drains.
  const producer = await new Manager({ address: address!, authkey: 'abc' }).connect()
  try {
    const tasks = await producer.create<SharedJoinableQueue<number | null>>('tasks')
    await tasks.putMany([...Array.from({ length: N }, (_, i) => i), null, null])
    await page.waitForFunction((n) => document.querySelector('[data-testid="queue-row"][data-queue="tasks"]')?.getAttribute('data-depth') === String(n), N + 2, { timeout: WAIT })
    for (let w = 0; w < 2; w++) {
      children.push(spawn(process.execPath, [
        '--conditions=troupe-source', '--import', 'tsx', 'src/cli/main.ts', 'worker', '--connect', address!, '--authkey', 'abc', '--tasks', 'tasks', '--results', 'results',
        '--module', 'examples/distributed-demo.ts', '--export', 'square', '--no-progress',
      ], { cwd: root, stdio: 'ignore' }))
    }
    await page.waitForFunction(() => document.querySelector('[data-testid="queue-row"][data-queue="tasks"]')?.getAttribute('data-depth') === '0', undefined, { timeout: WAIT })
    await tasks.join({ timeout: WAIT })
  } finally {
    await producer.shutdown()
  }
  await page.waitForFunction((n) => document.querySelector('[data-testid="queue-row"][data-queue="results"]')?.getAttribute('data-depth') === String(n), N, { timeout: WAIT })
  await page.screenshot({ path: `${root}test-results/dashboard-manager.png`, fullPage: true })

  const m = parsePrometheus(await httpGet(new URL('metrics', dashUrl).href))
  assert.equal(m.value('troupe_queue_items_put_total', { queue: 'tasks' }), N + 2)
  // A worker that takes both terminators in one batch puts one back, and it is taken again.
  assert.ok(m.value('troupe_queue_items_taken_total', { queue: 'tasks' }) >= N + 2)
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'tasks' }), 0)
  assert.equal(m.value('troupe_queue_pending_items', { queue: 'tasks' }), 0)
  assert.equal(m.value('troupe_queue_items_put_total', { queue: 'results' }), N)
  assert.equal(m.value('troupe_queue_waiting_items', { queue: 'results' }), N)
})

test('a dashboard that requires a token works in the browser from the printed link and refuses the bare address', async () => {
  const dash = await startDashboard({
    sources: [{ name: 'fixed', async sample() { return { queues: [{ name: 'jobs', backend: 'manager' as const, depth: 7 }] } } }],
    authkey: 'abc', requireToken: true, intervalMs: 200,
  })
  try {
    assert.match(dash.url, /\?token=[0-9a-f]{32}$/)
    browser ??= await launchChromium({ timeout: WAIT })
    const context = await browser.newContext()
    const page = await context.newPage()
    const failed: string[] = []
    page.on('response', (r) => { if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`) })
    await page.goto(dash.url, { timeout: WAIT })
    await page.waitForSelector('[data-testid="queue-row"][data-queue="jobs"][data-depth="7"]', { timeout: WAIT })
    assert.deepEqual(failed, [])
    const bare = await (await browser.newContext()).newPage()
    const res = await bare.goto(dash.url.replace(/\?.*$/, ''), { timeout: WAIT })
    assert.equal(res?.status(), 401)
    await context.close()
  } finally {
    await dash.close()
  }
})

test('a manager that does not answer is named in a banner on the page', async () => {
  const dash = await startDashboard({ sources: [managerSource({ address: '127.0.0.1:1', authkey: 'abc' })], intervalMs: 200 })
  try {
    browser ??= await launchChromium({ timeout: WAIT })
    const page = await browser.newPage()
    await page.goto(dash.url, { timeout: WAIT })
    const banner = page.locator('[data-testid="banner"]')
    await banner.waitFor({ timeout: WAIT })
    assert.match(await banner.innerText(), /manager 127\.0\.0\.1:1 is not reachable/)
    await page.close()
  } finally {
    await dash.close()
  }
})

test('pools and actor supervision trees reporting to the manager appear on the page', async () => {
  const manager = enableReports(new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false }))
  await manager.serve()
  const client = await new Manager({ address: manager.address, authkey: 'abc' }).connect()
  const pool = new Pool({ workers: 2 })
  const sup = supervise([{ actor: Slow, name: 'pinger' }, { supervise: [{ actor: Slow, name: 'ponger' }], name: 'inner' }], { name: 'root' })
  const reporters = [reportPool(pool, client, { id: 'squares', intervalMs: 100 }), reportActors([sup], client, { id: 'pingpong', intervalMs: 100 })]
  const dash = await startDashboard({ sources: [managerSource({ address: manager.address, authkey: 'abc' })], intervalMs: 200 })
  try {
    await pool.map(square, Array.from({ length: 50 }, (_, i) => i))
    const pinger = sup.child<number>('pinger')!
    for (let i = 0; i < 5; i++) pinger.send(300)
    browser ??= await launchChromium({ timeout: WAIT })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(dash.url, { timeout: WAIT })
    await page.waitForSelector('[data-testid="pool-row"]', { timeout: WAIT })
    await page.waitForSelector('[data-testid="actor-node"][data-path="/root/pinger"]', { timeout: WAIT })
    await page.waitForSelector('[data-testid="actor-node"][data-path="/root/inner"]', { timeout: WAIT })
    assert.match(await page.locator('[data-testid="pool-row"]').innerText(), /squares[^]*thread/)
    await page.screenshot({ path: `${root}test-results/dashboard-pools-actors.png`, fullPage: true })
    await page.close()
  } finally {
    for (const r of reporters) await r.stop()
    await dash.close()
    await sup.stop()
    await pool.terminate()
    await client.shutdown()
    await manager.shutdown()
  }
})
