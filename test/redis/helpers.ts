// Shared by the Redis tests: the tests' Redis (test/services.ts) must answer (these tests
// never skip), and some tests start their own redis-server to restart it.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

export { REDIS_URL, requireRedis } from '../services.ts'

/** A name no other test run uses. */
export function unique(label: string): string {
  return `test-${label}-${randomBytes(4).toString('hex')}`
}

/** Delete every key under `troupe:{name}` for these names. */
export async function cleanup(url: string, names: string[], prefix = 'troupe'): Promise<void> {
  const r = new Redis(url)
  r.on('error', () => {})
  try {
    for (const n of names) {
      const keys = await r.keys(`${prefix}:{${n}}*`)
      if (keys.length) await r.del(...keys)
    }
  } finally {
    r.disconnect()
  }
}

// Servers the tests start themselves listen on 6390-6398 (6379 is the shared one; other work on this machine uses 6399 and 7100+).
const OWN_PORTS = [6390, 6391, 6392, 6393, 6394, 6395, 6396, 6397, 6398]

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

async function freePort(): Promise<number> {
  // Start at a random one: test files running at once pick different ports.
  const start = Math.floor(Math.random() * OWN_PORTS.length)
  for (let k = 0; k < OWN_PORTS.length; k++) {
    const port = OWN_PORTS[(start + k) % OWN_PORTS.length]!
    if (await portFree(port)) return port
  }
  throw new Error(`no free port for a test redis-server among ${OWN_PORTS.join(', ')}`)
}

/** A redis-server of the test's own (AOF on, in a temp dir) that can be restarted. */
export class OwnRedis {
  port = 0
  dir = ''
  private proc?: ChildProcess

  get url(): string { return `redis://127.0.0.1:${this.port}` }

  async start(): Promise<this> {
    if (!this.port) { this.port = await freePort(); this.dir = mkdtempSync(join(tmpdir(), 'troupe-redis-')) }
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'everysec',
      '--save', '', '--dir', this.dir], { stdio: 'ignore' })
    const proc = this.proc
    let failed: Error | undefined
    proc.on('error', (err) => { failed = err })
    const deadline = Date.now() + 10_000
    for (;;) {
      if (failed) throw new Error(`this test starts its own redis-server (install it: apt-get install redis-server): ${failed.message}`)
      if (proc.exitCode !== null) throw new Error(`redis-server on port ${this.port} exited with ${proc.exitCode}`)
      const r = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
      r.on('error', () => {})
      try { await r.connect(); if ((await r.ping()) === 'PONG') { r.disconnect(); return this } } catch { /* not up yet */ }
      r.disconnect()
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 10 s`)
      await new Promise((res) => setTimeout(res, 50))
    }
  }

  /** Stop it the way an operator would (SIGTERM: it flushes the AOF and exits). */
  async stop(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGTERM')
    const t = setTimeout(() => p.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start()
  }

  async destroy(): Promise<void> {
    await this.stop()
    if (this.dir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Poll `check` until it is truthy or `ms` pass (then throw with `what`). */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await check()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}
