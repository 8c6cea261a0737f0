// Shared by the dashboard's end-to-end tests (operator-*.test.ts): Chromium, `troupe` commands, a manager, a page.
import { before, after } from 'node:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Browser, Page } from 'playwright-core'
import { Manager, SharedJoinableQueue, SharedQueue } from '../../src/manager/index.ts'
import { enableReports } from '../../src/cli/dashboard/index.ts'
import { launchChromium, REDIS_URL } from '../services.ts'

// The functions given to waitForFunction/evaluate run in the page; the test's tsconfig has no DOM types.
declare const window: any

export const root = fileURLToPath(new URL('../../', import.meta.url))
/**
 * Where the screenshots are written: the ones docs/dashboard.md shows (docs/images/) when
 * TROUPE_UPDATE_SCREENSHOTS=1, else test-results/ (so a test run leaves the tree clean).
 */
export const images = process.env.TROUPE_UPDATE_SCREENSHOTS === '1' ? `${root}docs/images/` : `${root}test-results/screenshots/`
export const WAIT = 60_000
const children: ChildProcess[] = []
const prefixes: string[] = []
let browser: Browser | undefined

/** Start Chromium before the file's tests, and stop it (and every process and Redis key they made) after. */
export function e2e(): void {
  before(async () => {
    mkdirSync(images, { recursive: true })
    mkdirSync(`${root}test-results`, { recursive: true })
    browser = await launchChromium({ timeout: WAIT })
  })
  after(async () => {
    await browser?.close().catch(() => {})
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    const r = new Redis(REDIS_URL)
    r.on('error', () => {})
    for (const p of prefixes) {
      const keys = await r.keys(`${p}:*`)
      if (keys.length) await r.del(...keys)
    }
    r.disconnect()
  })
}

/** A Redis key prefix of its own for one test (removed after the file). */
export function redisPrefix(label: string): string {
  const p = `troupe-e2e-${label}-${randomBytes(3).toString('hex')}`
  prefixes.push(p)
  return p
}

/** The browser `e2e()` started. */
export function chromium(): Browser {
  if (!browser) throw new Error('call e2e() at the top of the test file')
  return browser
}

/** A process of these tests, killed after the file if still running. */
export function track(child: ChildProcess): ChildProcess {
  children.push(child)
  return child
}

/** `node --import tsx src/cli/main.ts <args>`, its output collected; resolves once a stdout line matches `ready` (if given). */
export async function troupe(args: string[], ready?: RegExp): Promise<{ child: ChildProcess; out: () => string; err: () => string; match?: RegExpMatchArray }> {
  const child = track(spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  let err = ''
  child.stderr!.on('data', (c: Buffer) => { err += c })
  child.stdout!.on('data', (c: Buffer) => { out += c })
  if (!ready) return { child, out: () => out, err: () => err }
  const match = await new Promise<RegExpMatchArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`troupe ${args.join(' ')}: not ready within ${WAIT} ms\nstdout: ${out}\nstderr: ${err}`)), WAIT)
    child.stdout!.on('data', () => {
      const m = out.match(ready)
      if (m) { clearTimeout(timer); resolve(m) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`troupe ${args.join(' ')} exited (${code})\nstdout: ${out}\nstderr: ${err}`)) })
  })
  return { child, out: () => out, err: () => err, match }
}

/** A manager serving `tasks` (joinable) and `results`, with the report board, in this process. */
export async function serving(authkey = 'abc') {
  const tasks = new SharedJoinableQueue<number | null>()
  const results = new SharedQueue<unknown>()
  const manager = enableReports(new Manager({ address: '127.0.0.1:0', authkey, log: false }))
  manager.register('tasks', () => tasks)
  manager.register('results', () => results)
  await manager.serve()
  return { manager, tasks, results }
}

/** Open the page; `errors(page)` lists what it threw. */
export async function open(url: string, width = 1280, height = 900): Promise<Page> {
  const page = await chromium().newPage({ viewport: { width, height } })
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  pageErrors.set(page, errors)
  await page.goto(url, { timeout: WAIT })
  return page
}

const pageErrors = new WeakMap<Page, string[]>()

/** Errors the page threw so far. */
export function errors(page: Page): string[] {
  return pageErrors.get(page) ?? []
}

/** Wait (polling in the page) until `fn(arg)` is truthy. */
export const until = (page: Page, fn: (arg: any) => unknown, arg?: unknown) => page.waitForFunction(fn, arg, { timeout: WAIT, polling: 100 })

/** A viewport screenshot for the docs, scrolled to `y`. */
export async function shoot(page: Page, name: string, y = 0): Promise<void> {
  await page.evaluate((top: number) => window.scrollTo(0, top), y)
  await page.screenshot({ path: `${images}${name}` })
}
