/**
 * `npm start`: troupe's distributed task queue in one command. A manager
 * serves a task queue and a result queue on an ephemeral 127.0.0.1 port with
 * a random authkey; worker OS processes (`troupe worker`) connect over TCP,
 * square 10,000 numbers (seed 004's `n * n`), and the results stream back
 * with a live progress bar. Then a summary: throughput and tasks per worker.
 *
 *   npm start -- [--workers 3] [--tasks 10000]
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { BaseManager, SharedQueue, isMainModule } from 'troupe'

/** The task every worker runs (imported by `troupe worker --module examples/distributed-demo.ts --export square`). */
export function square(n: number): number {
  return n * n
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? Number(process.argv[i + 1]) : fallback
  }
  const workers = arg('workers', 3)
  const total = arg('tasks', 10_000)
  const authkey = randomBytes(16).toString('hex')

  const tasks = new SharedQueue<number | null>()
  const results = new SharedQueue<number>()
  const manager = new BaseManager({ address: '127.0.0.1:0', authkey })
    .register('tasks', () => tasks)
    .register('results', () => results)
  await manager.serve()
  console.log(`manager listening on ${manager.address} (authkey from the environment, never on a command line)`)

  const t0 = performance.now()
  // The `troupe` command, from this repository's source (an app with troupe installed runs `npx troupe worker ...`).
  const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
  const self = fileURLToPath(import.meta.url)
  const perWorker = new Map<number, number>()
  const exits: Promise<number>[] = []
  for (let w = 0; w < workers; w++) {
    const child = spawn(process.execPath, [
      ...process.execArgv, cli, 'worker', '--connect', manager.address, '--tasks', 'tasks', '--results', 'results',
      '--module', self, '--export', 'square', '--idle-exit', '30', '--no-progress',
    ], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TROUPE_AUTHKEY: authkey } })
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (s: string) => {
      const m = /worker (\d+): done (\d+) tasks/.exec(s)
      if (m) perWorker.set(Number(m[1]), Number(m[2]))
    })
    exits.push(new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1))))
  }
  console.log(`started ${workers} worker processes; putting ${total.toLocaleString('en-US')} tasks`)

  const q = await manager.create<SharedQueue<number | null>>('tasks')
  const r = await manager.create<SharedQueue<number>>('results')
  const numbers = Array.from({ length: total }, (_, i) => i)
  await q.putMany(numbers)
  // One terminator per worker: each stops after taking its own.
  await q.putMany(Array.from({ length: workers }, () => null))

  const bar = await progress(total)
  let received = 0
  let sum = 0
  let firstAt = 0
  for await (const value of r) {
    if (received === 0) firstAt = performance.now()
    sum += value
    received++
    bar.update(received)
    if (received === total) break
  }
  bar.stop()
  const seconds = (performance.now() - t0) / 1000
  const codes = await Promise.all(exits)
  await manager.shutdown()

  const expected = numbers.reduce((a, n) => a + n * n, 0)
  console.log('')
  const steady = (performance.now() - firstAt) / 1000
  console.log(`done: ${received.toLocaleString('en-US')} results in ${seconds.toFixed(2)} s, worker start-up included = ${Math.round(received / seconds).toLocaleString('en-US')} tasks/s`)
  console.log(`      from the first result to the last: ${steady.toFixed(2)} s = ${Math.round(received / Math.max(steady, 1e-6)).toLocaleString('en-US')} tasks/s`)
  console.log(`sum of squares ${sum === expected ? 'checks out' : `is WRONG (${sum} != ${expected})`}`)
  for (const [pid, n] of perWorker) console.log(`  worker pid ${pid}: ${n.toLocaleString('en-US')} tasks`)
  const ok = sum === expected && codes.every((c) => c === 0)
  process.exit(ok ? 0 : 1)
}

async function progress(total: number): Promise<{ update(n: number): void; stop(): void }> {
  if (process.stdout.isTTY) {
    const { SingleBar, Presets } = (await import('cli-progress')).default
    const bar = new SingleBar({ format: 'results |{bar}| {value}/{total} | {percentage}% | {eta}s left', hideCursor: true }, Presets.shades_classic)
    bar.start(total, 0)
    return { update: (n) => { if (n % 50 === 0 || n === total) bar.update(n) }, stop: () => bar.stop() }
  }
  // Not a terminal (CI, a pipe): a plain line every 10%.
  const step = Math.max(1, Math.floor(total / 10))
  return { update: (n) => { if (n % step === 0) console.log(`results: ${n}/${total}`) }, stop: () => {} }
}

if (isMainModule(import.meta)) await main()
