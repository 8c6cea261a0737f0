// A Redis Cluster of the test's own on loopback: redis-server nodes with --cluster-enabled, joined
// by `redis-cli --cluster create`, in a temp dir; started once per test file (or benchmark run), stopped after.
// Ports: 7100-7199 (their cluster bus ports are +10000); 6379 and 6390-6409 belong to other tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'

const FIRST_PORT = 7100
const LAST_PORT = 7199

export interface ClusterOptions {
  masters?: number
  /** Replicas per master (default 0). */
  replicas?: number
  /** How long a master may not answer before its replica takes over, ms (default 2,000). */
  nodeTimeoutMs?: number
}

export interface ClusterNode {
  port: number
  proc: ChildProcess
  dir: string
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** A block of `n` consecutive ports in 7100-7199 whose bus ports are free too (random start: files running at once pick different blocks). */
async function freeBlock(n: number): Promise<number> {
  const blocks = Math.floor((LAST_PORT - FIRST_PORT + 1) / n)
  const start = Math.floor(Math.random() * blocks)
  for (let k = 0; k < blocks; k++) {
    const base = FIRST_PORT + ((start + k) % blocks) * n
    let ok = true
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p) && await portFree(p + 10_000)
    if (ok) return base
  }
  throw new Error(`no ${n} free ports (and bus ports) for a test Redis Cluster in ${FIRST_PORT}-${LAST_PORT}`)
}

async function answers(port: number): Promise<Redis | undefined> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  r.on('error', () => {})
  try { await r.connect(); await r.ping(); return r } catch { r.disconnect(); return undefined }
}

/** Key-value lines of INFO / CLUSTER INFO. */
function fields(text: string): Record<string, string> {
  return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]))
}

// Nodes still running when this process ends (a test file killed on a timeout) go with it.
const running = new Set<ChildProcess>()
function killRunning(): void {
  for (const p of running) p.kill('SIGKILL')
}
process.once('exit', killRunning)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { killRunning(); process.kill(process.pid, signal) })
}

export class RedisCluster {
  readonly nodes: ClusterNode[] = []
  private root = ''
  private readonly opts: Required<ClusterOptions>

  constructor(options: ClusterOptions = {}) {
    this.opts = { masters: 3, replicas: 0, nodeTimeoutMs: 2000, ...options }
  }

  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...` (the masters as started). */
  get url(): string {
    return `redis-cluster://${this.nodes.slice(0, this.opts.masters).map((n) => `127.0.0.1:${n.port}`).join(',')}`
  }

  get ports(): number[] {
    return this.nodes.map((n) => n.port)
  }

  async start(): Promise<this> {
    const count = this.opts.masters * (1 + this.opts.replicas)
    const base = await freeBlock(count)
    this.root = mkdtempSync(join(tmpdir(), 'troupe-cluster-'))
    for (let i = 0; i < count; i++) this.nodes.push(this.startNode(base + i))
    for (const n of this.nodes) await this.waitAnswer(n)
    const create = spawnSync('redis-cli', ['--cluster', 'create', ...this.nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas', String(this.opts.replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 })
    if (create.error) throw new Error(`these tests start a Redis Cluster with redis-cli (apt-get install redis-tools): ${create.error.message}`)
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.status}):\n${create.stdout}\n${create.stderr}`)
    await this.waitHealthy()
    return this
  }

  private startNode(port: number): ClusterNode {
    const dir = join(this.root, String(port))
    mkdirSync(dir)
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(this.opts.nodeTimeoutMs),
      '--appendonly', 'no', '--save', '', '--dir', dir], { stdio: 'ignore' })
    proc.on('error', () => {})
    running.add(proc)
    proc.once('exit', () => running.delete(proc))
    return { port, proc, dir }
  }

  private async waitAnswer(n: ClusterNode): Promise<void> {
    const deadline = Date.now() + 15_000
    for (;;) {
      if (n.proc.exitCode !== null) throw new Error(`cluster node redis-server on port ${n.port} exited with ${n.proc.exitCode}`)
      const r = await answers(n.port)
      if (r) { r.disconnect(); return }
      if (Date.now() > deadline) throw new Error(`cluster node on port ${n.port} did not answer within 15 s`)
      await new Promise((res) => setTimeout(res, 50))
    }
  }

  /** Wait until every live node says the cluster is ok and every replica is in sync with its master. */
  async waitHealthy(ms = 60_000): Promise<void> {
    const deadline = Date.now() + ms
    for (;;) {
      let ok = true
      for (const n of this.nodes) {
        if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue
        const r = await answers(n.port)
        if (!r) { ok = false; break }
        try {
          const info = fields(await r.call('CLUSTER', 'INFO') as string)
          const repl = fields(await r.info('replication'))
          if (info.cluster_state !== 'ok' || (repl.role === 'slave' && repl.master_link_status !== 'up')) ok = false
          // Every node knows every other live node as connected.
          if (Number(info.cluster_known_nodes) < this.nodes.length) ok = false
        } finally { r.disconnect() }
        if (!ok) break
      }
      if (ok) return
      if (Date.now() > deadline) throw new Error(`the test Redis Cluster did not become healthy within ${ms} ms`)
      await new Promise((res) => setTimeout(res, 100))
    }
  }

  /** The port of the master serving `key`'s slot now. */
  async masterOf(key: string): Promise<number> {
    for (const n of this.nodes) {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue
      const r = await answers(n.port)
      if (!r) continue
      try {
        const slot = Number(await r.call('CLUSTER', 'KEYSLOT', key))
        const shards = await r.call('CLUSTER', 'SLOTS') as [number, number, [string, number, string]][]
        for (const [from, to, [, port]] of shards) if (slot >= from && slot <= to) return Number(port)
      } finally { r.disconnect() }
    }
    throw new Error(`no live node knows who serves ${key}`)
  }

  /** Ports of the masters now. */
  async masters(): Promise<number[]> {
    for (const n of this.nodes) {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue
      const r = await answers(n.port)
      if (!r) continue
      try {
        const shards = await r.call('CLUSTER', 'SLOTS') as [number, number, [string, number, string]][]
        return [...new Set(shards.map(([, , [, port]]) => Number(port)))].sort()
      } finally { r.disconnect() }
    }
    throw new Error('no live cluster node')
  }

  /** kill -9 the node on `port`; resolves once it is gone. */
  async kill(port: number): Promise<void> {
    const n = this.nodes.find((x) => x.port === port)
    if (!n || n.proc.exitCode !== null || n.proc.signalCode !== null) return
    const exited = new Promise((r) => n.proc.once('exit', r))
    n.proc.kill('SIGKILL')
    await exited
  }

  /** Stop every node and delete the temp dir. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map(async (n) => {
      if (n.proc.exitCode !== null || n.proc.signalCode !== null) return
      const exited = new Promise((r) => n.proc.once('exit', r))
      n.proc.kill('SIGKILL')
      await exited
    }))
    if (this.root) rmSync(this.root, { recursive: true, force: true })
  }
}
