/**
 * `troupe worker`: seed 004's taskworker as a command. Connects to a manager,
 * takes tasks from one queue, calls an exported function (sync or async) on
 * each, and puts every return value on the results queue.
 */
import { Command, InvalidArgumentError } from 'commander'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { BaseManager, proxyInfo, AUTHKEY_ENV } from '../manager/index.js'
import { ClosedError, Empty, TimeoutError } from '../errors.js'
import { hostname } from 'node:os'
import { WorkerActivity, startReporting } from './dashboard/reporting/index.js'
import type { RedisWorkerOptions } from '../backends/index.js'

/** Options of `runWorker` (the `troupe worker` flags); the Redis-only knobs are documented on RedisWorkerOptions. */
export interface RunWorkerOptions extends Pick<RedisWorkerOptions, 'prefix' | 'leaseMs' | 'maxRetries' | 'retries' | 'prefetch'> {
  /** Manager address `HOST:PORT` or a Unix socket path. */
  connect?: string
  /** The authkey (default: `$TROUPE_AUTHKEY`). */
  authkey?: string
  /** Typeid of the task queue. */
  tasks: string
  /** Typeid of the results queue. */
  results: string
  /** Path of the module that exports the task function. */
  module: string
  /** Name of the export. */
  export: string
  /** Tasks in flight at once in each process (default 1). */
  concurrency?: number
  /** Worker processes to run (default 1: this one). */
  processes?: number
  /** Exit 0 once the task queue has been empty this many seconds. */
  idleExit?: number
  /** Wire dialect: 'troupe' (default) or 'python' (a CPython manager). */
  dialect?: 'troupe' | 'python'
  /** Take tasks from this Redis instead of a manager (`runRedisWorker`). */
  redis?: string
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean
}

// Tasks fetched per request by a single-lane worker: enough to hide the round trip for cheap tasks,
// few enough that slow tasks still spread over all workers.
const BATCH = 16

/** What a worker did. */
export interface WorkerSummary { done: number; failed: number; seconds: number }

/** Import the task function; .ts modules load through tsx when it is installed. */
async function loadTask(path: string, name: string): Promise<(task: unknown) => unknown> {
  const url = path.startsWith('file:') ? path : pathToFileURL(resolvePath(path)).href
  if (!existsSync(fileURLToPath(url))) throw new InvalidArgumentError(`--module ${path}: no such file`)
  if (/\.(ts|mts|cts)$/.test(url) && !process.execArgv.some((a) => a.includes('tsx'))) {
    try {
      const api = 'tsx/esm/api'
      const { register } = await import(api) as { register(): void }
      register()
    } catch { /* no tsx: the import below says what is wrong */ }
  }
  const mod = await import(url) as Record<string, unknown>
  const fn = mod[name]
  if (typeof fn !== 'function') throw new InvalidArgumentError(`--export ${name}: ${path} exports no function named '${name}' (exports: ${Object.keys(mod).join(', ') || 'none'})`)
  return fn as (task: unknown) => unknown
}

/**
 * Serve tasks until the queue is closed, a `null` task (the terminator)
 * arrives, or the queue stays empty for `idleExit` seconds. Gets several
 * tasks per round trip when the queue supports it, so one worker is not
 * limited by network latency.
 */
export async function runWorker(opts: RunWorkerOptions): Promise<WorkerSummary> {
  if (opts.redis) return runRedis({ ...opts, redis: opts.redis })
  const processes = Math.max(1, opts.processes ?? 1)
  if (processes > 1) return runProcesses(opts, processes)
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  if (!authkey) throw new InvalidArgumentError(`give --authkey KEY or set ${AUTHKEY_ENV}`)
  if (!opts.connect) throw new InvalidArgumentError('give --connect HOST:PORT (or a Unix socket path)')
  const fn = await loadTask(opts.module, opts.export)
  const manager = await new BaseManager({ address: opts.connect, authkey, dialect: opts.dialect }).connect()
  const tasks = await manager.create(opts.tasks)
  const results = await manager.create(opts.results)
  // Lists this worker on a dashboard watching the manager; harmless when no report board is served.
  const activity = new WorkerActivity({ id: `${hostname()}:${process.pid}`, queue: opts.tasks })
  const reporting = opts.dialect === 'python' ? undefined : startReporting(manager, () => activity.report())
  const exposed = proxyInfo(tasks)!.exposed
  const batched = exposed.includes('getMany')
  const joinable = exposed.includes('taskDone')
  const concurrency = Math.max(1, opts.concurrency ?? 1)
  const idleMs = opts.idleExit === undefined ? undefined : opts.idleExit * 1000
  const t0 = performance.now()
  const tally = { done: 0, failed: 0 }
  // The bar's total is what is done plus what is still queued, refreshed twice a second.
  const remaining = { n: 0 }
  const bar = await progressBar(opts.progress ?? Boolean(process.stderr.isTTY), tally, remaining)
  const poll = exposed.includes('qsize') && (opts.progress ?? process.stderr.isTTY)
    ? setInterval(() => { tasks.qsize().then((n: unknown) => { remaining.n = Number(n) }, () => {}) }, 500)
    : undefined
  poll?.unref()
  let stop = false

  // Ends the loop on the terminator, a closed queue, or idleness; other errors are the caller's to see.
  async function next(): Promise<unknown[] | undefined> {
    try {
      if (batched) return (await tasks.getMany(concurrency > 1 ? 1 : BATCH, idleMs === undefined ? undefined : { timeout: idleMs })) as unknown[]
      return [await tasks.get(idleMs === undefined ? undefined : { timeout: idleMs })]
    } catch (err) {
      if (err instanceof Empty || err instanceof TimeoutError || err instanceof ClosedError || (err as Error).name === 'Empty') return undefined
      throw err
    }
  }

  async function lane(): Promise<void> {
    while (!stop) {
      const got = await next()
      if (!got) { stop = true; return }
      // Results and taskDones of a batch are pipelined (sent without waiting for each answer) and awaited once.
      const acks: Promise<unknown>[] = []
      for (let i = 0; i < got.length; i++) {
        const task = got[i]
        if (task === null || task === undefined) {
          stop = true
          // Tasks after the terminator in this batch go back for other workers.
          if (i + 1 < got.length) acks.push(tasks.returnItems(got.slice(i + 1)))
          if (joinable) acks.push(tasks.taskDone())
          break
        }
        let out: unknown
        const running = activity.begin(`${opts.export}(${JSON.stringify(task)?.slice(0, 80)})`)
        try {
          out = await fn(task)
          tally.done++
          running.end(true)
        } catch (err) {
          tally.failed++
          running.end(false)
          out = { error: `${(err as Error).name}: ${(err as Error).message}`, task }
          process.stderr.write(`troupe worker: task ${JSON.stringify(task)} failed: ${(err as Error).stack ?? err}\n`)
        }
        acks.push(results.put(out))
        if (joinable) acks.push(tasks.taskDone())
        bar.tick()
      }
      await Promise.all(acks)
    }
  }

  await Promise.all(Array.from({ length: concurrency }, () => lane()))
  if (poll) clearInterval(poll)
  bar.stop()
  const summary = { ...tally, seconds: (performance.now() - t0) / 1000 }
  console.log(`troupe worker ${process.pid}: done ${summary.done} tasks (${summary.failed} failed) in ${summary.seconds.toFixed(2)} s`)
  activity.stopping(true)
  await reporting?.stop()
  await manager.shutdown()
  return summary
}

async function progressBar(tty: boolean, tally: { done: number; failed: number }, remaining: { n: number }): Promise<{ tick(): void; stop(): void }> {
  if (tty) {
    const { SingleBar, Presets } = (await import('cli-progress')).default
    const bar = new SingleBar({ format: 'troupe worker |{bar}| {value} tasks | {rate}/s', hideCursor: true, stream: process.stderr }, Presets.shades_classic)
    const t0 = performance.now()
    bar.start(0, 0, { rate: 0 })
    let last = 0
    return {
      tick: () => {
        const now = performance.now()
        if (now - last < 100) return
        last = now
        const n = tally.done + tally.failed
        bar.setTotal(Math.max(n + remaining.n, 1))
        bar.update(n, { rate: Math.round(n / ((now - t0) / 1000)) })
      },
      stop: () => { const n = tally.done + tally.failed; bar.setTotal(Math.max(n, 1)); bar.update(n); bar.stop() },
    }
  }
  // Not a terminal: a plain line every second at most.
  let last = performance.now()
  return {
    tick: () => {
      const now = performance.now()
      if (now - last < 1000) return
      last = now
      console.log(`troupe worker ${process.pid}: ${tally.done} tasks done`)
    },
    stop: () => {},
  }
}

async function runProcesses(opts: RunWorkerOptions, n: number): Promise<WorkerSummary> {
  const t0 = performance.now()
  const self = process.argv[1]!
  const args = ['worker', '--processes', '1']
  for (const [flag, v] of Object.entries({
    '--connect': opts.connect, '--authkey': opts.authkey, '--tasks': opts.tasks, '--results': opts.results, '--module': opts.module,
    '--export': opts.export, '--concurrency': opts.concurrency, '--idle-exit': opts.idleExit, '--dialect': opts.dialect,
  })) if (v !== undefined) args.push(flag, String(v))
  const children = Array.from({ length: n }, () => spawn(process.execPath, [...process.execArgv, self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const stopAll = () => { for (const c of children) c.kill('SIGTERM') }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  let done = 0
  const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => {
    c.stdout!.setEncoding('utf8')
    c.stdout!.on('data', (s: string) => {
      process.stdout.write(s)
      const m = /done (\d+) tasks/.exec(s)
      if (m) done += Number(m[1])
    })
    c.on('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0)))
  })))
  const seconds = (performance.now() - t0) / 1000
  console.log(`troupe worker: ${n} processes done ${done} tasks in ${seconds.toFixed(2)} s`)
  if (codes.some((c) => c !== 0)) process.exitCode = 1
  return { done, failed: 0, seconds }
}

async function runRedis(opts: RunWorkerOptions & { redis: string }): Promise<WorkerSummary> {
  // Loaded here, so a manager worker never loads the Redis client.
  const { runRedisWorker } = await import('../backends/index.js')
  const t0 = performance.now()
  const stats = await runRedisWorker({
    redis: opts.redis, tasks: opts.tasks, results: opts.results, module: opts.module, export: opts.export,
    concurrency: opts.concurrency, processes: opts.processes, idleExit: opts.idleExit, progress: opts.progress,
    prefix: opts.prefix, leaseMs: opts.leaseMs, maxRetries: opts.maxRetries, retries: opts.retries, prefetch: opts.prefetch,
  })
  return { done: stats.done, failed: stats.failed, seconds: (performance.now() - t0) / 1000 }
}

function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be an integer >= 0`)
    return n
  }
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`)
    return n
  }
}

/** Register `troupe worker`. */
export function register(cli: Command): void {
  cli.command('worker')
    .description('take tasks from a manager queue, call an exported function on each, put results on another queue')
    .option('--connect <host:port>', 'manager address (HOST:PORT, [IPV6]:PORT or a Unix socket path)')
    .option('--authkey <key>', `shared secret (default: $${AUTHKEY_ENV})`)
    .requiredOption('--tasks <name>', 'typeid of the task queue')
    .requiredOption('--results <name>', 'typeid of the results queue')
    .requiredOption('--module <path>', 'module exporting the task function')
    .requiredOption('--export <name>', 'name of the exported function')
    .option('--concurrency <n>', 'tasks in flight at once per process', positiveInt('--concurrency'), 1)
    .option('--processes <n>', 'worker processes', positiveInt('--processes'), 1)
    .option('--idle-exit <seconds>', 'exit 0 once the task queue has been empty this long', (v: string) => {
      const n = Number(v)
      if (!(n >= 0)) throw new InvalidArgumentError('--idle-exit must be a number of seconds')
      return n
    })
    .option('--dialect <dialect>', "wire dialect: 'troupe' or 'python' (a CPython manager)", (v: string) => {
      if (v !== 'troupe' && v !== 'python') throw new InvalidArgumentError("--dialect must be 'troupe' or 'python'")
      return v
    }, 'troupe')
    .option('--redis <url>', 'take tasks from Redis instead of a manager')
    .option('--prefix <prefix>', 'with --redis: key prefix (default troupe)')
    .option('--lease-ms <ms>', 'with --redis: lease of a running task; a killed worker\'s tasks run elsewhere after about 1.5 x this (default 30000)', positiveInt('--lease-ms'))
    .option('--max-retries <n>', 'with --redis: redeliveries after a worker died holding a task, then dead-lettered (default 3)', nonNegativeInt('--max-retries'))
    .option('--retries <n>', 'with --redis: runs again after the function throws (default 0)', nonNegativeInt('--retries'))
    .option('--prefetch <n>', 'with --redis: tasks fetched per round trip (default max(64, 2 x concurrency))', positiveInt('--prefetch'))
    .option('--no-progress', 'no progress bar even on a terminal')
    .action(async (o: RunWorkerOptions) => {
      if (!o.redis && !o.connect) throw new InvalidArgumentError('give --connect HOST:PORT (or --redis URL)')
      if (!o.redis) {
        const stray = (['prefix', 'leaseMs', 'maxRetries', 'retries', 'prefetch'] as const).filter((k) => o[k] !== undefined)
        if (stray.length) throw new InvalidArgumentError(`${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} only apply with --redis`)
      }
      // Commander sets `progress: true` unless --no-progress is given; only the explicit opt-out is meaningful.
      await runWorker({ ...o, progress: o.progress === false ? false : undefined })
      process.exit(process.exitCode ?? 0)
    })
}
