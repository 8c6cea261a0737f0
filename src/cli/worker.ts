/**
 * `troupe worker`: seed 004's taskworker as a command. Connects to a manager,
 * takes tasks from one queue, calls an exported function (sync or async) on
 * each, and puts every return value on the results queue.
 */
import type { Command } from 'commander'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { hostname } from 'node:os'
import { BaseManager, proxyInfo, AUTHKEY_ENV } from '../manager/index.js'
import { AuthenticationError, ClosedError, ConnectionClosedError, Empty, TimeoutError, UnknownMethodError } from '../errors.js'
import { WorkerActivity, startReporting, describeTask, type Reporting } from './dashboard/reporting/index.js'
import { CliError, ManagerLostError, UsageError, EXIT } from './errors.js'
import { integer, managerAddress, oneOf, seconds } from './options.js'
import { Progress } from './progress.js'
import { sleep } from '../timers.js'
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
  /** Print the stack of each failed task (default: one line per failure). */
  verbose?: boolean
  /** When the manager goes away, reconnect with backoff instead of exiting with code 3. */
  reconnect?: boolean
}

// Tasks fetched per request by a single-lane worker: enough to hide the round trip for cheap tasks,
// few enough that slow tasks still spread over all workers.
const BATCH = 16

// Reconnection backoff: the first retry after 250 ms, doubling up to 10 s, each with up to 20% jitter.
const BACKOFF_FIRST_MS = 250
const BACKOFF_MAX_MS = 10_000

/** What a worker did. */
export interface WorkerSummary { done: number; failed: number; seconds: number }

/** Import the task function (`loadTypeScript` has made a .ts module loadable). */
async function loadTask(path: string, name: string): Promise<(task: unknown) => unknown> {
  const url = path.startsWith('file:') ? path : pathToFileURL(resolvePath(path)).href
  if (!existsSync(fileURLToPath(url))) throw new UsageError(`--module ${path}: no such file`)
  let mod: Record<string, unknown>
  try {
    mod = await import(url) as Record<string, unknown>
  } catch (err) {
    throw new CliError(`--module ${path} failed to load: ${(err as Error).name}: ${(err as Error).message}`, EXIT.failure, { cause: err })
  }
  const fn = mod[name]
  if (typeof fn !== 'function') throw new UsageError(`--export ${name}: ${path} exports no function named '${name}' (exports: ${Object.keys(mod).join(', ') || 'none'})`)
  return fn as (task: unknown) => unknown
}

/** The queues of one connection to the manager. */
interface Session {
  manager: BaseManager
  tasks: any
  results: any
  reporting?: Reporting
  /** Counts connections. */
  generation: number
  /** The server's id: a restarted manager has a new one (and never had the tasks taken from the old one). */
  serverId?: string
}

const isLost = (err: unknown) => err instanceof ConnectionClosedError

/** Connect and open both queues, saying in one line what went wrong. */
async function openSession(opts: RunWorkerOptions, authkey: string, generation: number, activity: WorkerActivity): Promise<Session> {
  const where = opts.connect!
  let manager: BaseManager
  try {
    manager = await new BaseManager({ address: where, authkey, dialect: opts.dialect }).connect()
  } catch (err) {
    if (err instanceof AuthenticationError) throw new CliError(`the manager at ${where} refused the authkey (check --authkey or $${AUTHKEY_ENV})`, EXIT.failure, { cause: err })
    const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code
    const why = code === 'ECONNREFUSED' ? 'connection refused (is a manager listening there?)'
      : code === 'ENOENT' ? 'no such socket (is a manager listening there?)'
        : code ?? (err as Error).message
    throw new CliError(`cannot reach the manager at ${where}: ${why}`, EXIT.failure, { cause: err })
  }
  try {
    const tasks = await manager.create(opts.tasks)
    const results = await manager.create(opts.results)
    // Lists this worker on a dashboard watching the manager; harmless when no report board is served.
    const reporting = opts.dialect === 'python' ? undefined : startReporting(manager, () => activity.report())
    return { manager, tasks, results, reporting, generation, serverId: manager.serverId }
  } catch (err) {
    await manager.shutdown().catch(() => {})
    if (err instanceof UnknownMethodError) {
      const serves = /registered: ([^)]*)/.exec(err.message)?.[1]
      const missing = /typeid '([^']*)'/.exec(err.message)?.[1] ?? opts.tasks
      throw new CliError(`the manager at ${where} serves no queue '${missing}'${serves ? ` (it serves: ${serves})` : ''}`, EXIT.failure, { cause: err })
    }
    throw err
  }
}

/**
 * Make a TypeScript task module loadable here and in every process this
 * worker starts. tsx, when installed (an optional peer dependency), loads all
 * of TypeScript: it is loaded as `node --import tsx` would, and added to
 * `execArgv`, which child processes inherit. Else Node's own type stripping
 * does (Node >= 22.18: erasable syntax only, relative imports naming `.ts`
 * files). With neither, one line says what to install.
 */
async function loadTypeScript(path: string): Promise<void> {
  if (!/\.(ts|mts|cts)$/.test(path) || process.execArgv.some((a) => a.includes('tsx'))) return
  let tsx: string | undefined
  try { tsx = import.meta.resolve('tsx') } catch { /* not installed */ }
  if (tsx) {
    await import(tsx)
    process.execArgv.push('--import', tsx)
  } else if (!(process.features as { typescript?: string | false }).typescript) {
    throw new CliError(`--module ${path}: Node ${process.version} cannot load TypeScript by itself; install tsx (npm install --save-dev tsx) or use Node >= 22.18`)
  }
}

/**
 * Serve tasks until the queue is closed, a `null` task (the terminator)
 * arrives, or the queue stays empty for `idleExit` seconds. Gets several
 * tasks per round trip when the queue supports it, so one worker is not
 * limited by network latency. A manager that goes away ends the run with a
 * ManagerLostError (exit code 3), or with `reconnect` is waited for with
 * backoff while finished results are kept and delivered after reconnecting.
 */
export async function runWorker(opts: RunWorkerOptions): Promise<WorkerSummary> {
  await loadTypeScript(opts.module)
  const processes = Math.max(1, opts.processes ?? 1)
  // Several processes are this command run once per process, so each one reports itself to the dashboard.
  if (processes > 1) return runProcesses(opts, processes)
  if (opts.redis) return runRedis({ ...opts, redis: opts.redis })
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  if (!authkey) throw new UsageError(`give --authkey KEY or set ${AUTHKEY_ENV}`)
  if (!opts.connect) throw new UsageError('give --connect HOST:PORT (or --redis URL)')
  const fn = await loadTask(opts.module, opts.export)
  const label = `troupe worker ${process.pid}`
  const activity = new WorkerActivity({ id: `${hostname()}:${process.pid}`, queue: opts.tasks, results: opts.results, fn: opts.export, backend: 'manager' })
  let session = await openSession(opts, authkey, 0, activity)
  activity.idle()
  const exposed = proxyInfo(session.tasks)!.exposed
  const batched = exposed.includes('getMany')
  const joinable = exposed.includes('taskDone')
  const concurrency = Math.max(1, opts.concurrency ?? 1)
  const idleMs = opts.idleExit === undefined ? undefined : opts.idleExit * 1000
  const t0 = performance.now()
  const tally = { done: 0, failed: 0 }
  // Tasks taken whose results the manager has not confirmed: what a lost connection leaves unfinished.
  let unconfirmed = 0
  let confirmed = 0
  const progress = new Progress({ bar: opts.progress ?? Boolean(process.stderr.isTTY), verbose: opts.verbose, label, barLabel: 'troupe worker' })
  // The bar's total is what is done plus what is still queued, refreshed twice a second.
  const poll = exposed.includes('qsize') && (opts.progress ?? process.stderr.isTTY)
    ? setInterval(() => {
      if (reconnecting) return
      session.tasks.qsize().then((n: unknown) => { progress.setRemaining(Number(n)); progress.update(tally.done, tally.failed) }, () => {})
    }, 500)
    : undefined
  poll?.unref()
  let stop = false
  let reconnecting: Promise<Session> | undefined

  /** The connection dropped: exit (ManagerLostError) or reconnect once for every lane. */
  function lost(err: unknown): Promise<Session> {
    if (!opts.reconnect) {
      throw new ManagerLostError(`lost the manager at ${opts.connect} after ${confirmed.toLocaleString('en-US')} tasks (${unconfirmed.toLocaleString('en-US')} taken, unfinished)`, { cause: err })
    }
    reconnecting ??= (async () => {
      progress.note(`${label}: lost the manager at ${opts.connect} after ${confirmed.toLocaleString('en-US')} tasks (${unconfirmed} taken, kept); reconnecting`)
      void session.reporting?.stop().catch(() => {})
      session.manager.shutdown().catch(() => {})
      for (let attempt = 1; ; attempt++) {
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1)) * (1 + Math.random() * 0.2)
        await sleep(delay)
        try {
          session = await openSession(opts, authkey!, session.generation + 1, activity)
          progress.note(`${label}: reconnected to ${opts.connect} (attempt ${attempt})`)
          return session
        } catch (e) {
          // Only an unreachable manager is waited for; a refused authkey or a missing queue will not fix itself.
          if (!(e instanceof CliError) || !/^cannot reach/.test(e.message)) throw e
        }
      }
    })().finally(() => { reconnecting = undefined })
    return reconnecting
  }

  // Ends the loop on the terminator, a closed queue, or idleness; a lost connection goes to lost().
  async function next(s: Session): Promise<unknown[] | undefined> {
    try {
      if (batched) return (await s.tasks.getMany(concurrency > 1 ? 1 : BATCH, idleMs === undefined ? undefined : { timeout: idleMs })) as unknown[]
      return [await s.tasks.get(idleMs === undefined ? undefined : { timeout: idleMs })]
    } catch (err) {
      if (err instanceof Empty || err instanceof TimeoutError || err instanceof ClosedError || (err as Error).name === 'Empty') return undefined
      throw err
    }
  }

  /**
   * Put the results and mark the tasks done. Tasks taken from a manager that has since restarted
   * (another server id) get their results delivered, but no taskDone: the new one never had them.
   */
  function deliver(s: Session, outputs: unknown[], dones: number, returned: unknown[], from: Session): Promise<unknown> {
    const sameServer = s === from || (s.serverId !== undefined && s.serverId === from.serverId)
    // Pipelined: sent without waiting for each answer, awaited once.
    const acks: Promise<unknown>[] = []
    // Given back to the server they came from; a restarted one gets them as new items (it never counted them).
    if (returned.length) acks.push(sameServer ? s.tasks.returnItems(returned) : s.tasks.putMany(returned))
    for (const out of outputs) acks.push(s.results.put(out))
    if (joinable && sameServer) for (let i = 0; i < dones; i++) acks.push(s.tasks.taskDone())
    return Promise.all(acks)
  }

  async function lane(): Promise<void> {
    while (!stop) {
      const s = reconnecting ? await reconnecting : session
      let got: unknown[] | undefined
      try {
        got = await next(s)
      } catch (err) {
        if (!isLost(err)) throw err
        await lost(err)
        continue
      }
      if (!got) { stop = true; return }
      unconfirmed += got.length
      const outputs: unknown[] = []
      let dones = 0
      let returned: unknown[] = []
      for (let i = 0; i < got.length; i++) {
        const task = got[i]
        if (task === null || task === undefined) {
          stop = true
          // Tasks after the terminator in this batch go back for other workers.
          returned = got.slice(i + 1)
          dones++
          break
        }
        const description = describeTask(opts.export, task, 80)
        const running = activity.begin(description)
        try {
          outputs.push(await fn(task))
          tally.done++
          running.end(true)
        } catch (err) {
          tally.failed++
          running.end(false, err)
          outputs.push({ error: `${(err as Error).name}: ${(err as Error).message}`, task })
          progress.failure(description, err)
        }
        dones++
        progress.update(tally.done, tally.failed)
      }
      // Delivered once, on whichever connection is up: results are kept across a reconnect, not dropped.
      for (;;) {
        const to = reconnecting ? await reconnecting : session
        try {
          await deliver(to, outputs, dones, returned, s)
          break
        } catch (err) {
          if (!isLost(err)) throw err
          await lost(err)
        }
      }
      unconfirmed -= got.length
      confirmed += outputs.length
    }
  }

  try {
    await Promise.all(Array.from({ length: concurrency }, () => lane()))
    // The bar ends on what is really left (other workers' share, or nothing), not on the last poll.
    if (poll) progress.setRemaining(Number(await session.tasks.qsize().catch(() => 0)))
  } finally {
    if (poll) clearInterval(poll)
    progress.stop()
  }
  const summary = { ...tally, seconds: (performance.now() - t0) / 1000 }
  console.log(`troupe worker ${process.pid}: done ${summary.done} tasks (${summary.failed} failed) in ${summary.seconds.toFixed(2)} s`)
  activity.stopping(true)
  await session.reporting?.stop()
  await session.manager.shutdown()
  return summary
}

async function runProcesses(opts: RunWorkerOptions, n: number): Promise<WorkerSummary> {
  const t0 = performance.now()
  const self = process.argv[1]!
  const args = ['worker', '--processes', '1', '--no-progress']
  for (const [flag, v] of Object.entries({
    '--connect': opts.connect, '--authkey': opts.authkey, '--tasks': opts.tasks, '--results': opts.results, '--module': opts.module,
    '--export': opts.export, '--concurrency': opts.concurrency, '--idle-exit': opts.idleExit, '--dialect': opts.dialect, '--redis': opts.redis,
    '--prefix': opts.prefix, '--lease-ms': opts.leaseMs, '--max-retries': opts.maxRetries, '--retries': opts.retries, '--prefetch': opts.prefetch,
  })) if (v !== undefined) args.push(flag, String(v))
  if (opts.verbose) args.push('--verbose')
  if (opts.reconnect) args.push('--reconnect')
  const children = Array.from({ length: n }, () => spawn(process.execPath, [...process.execArgv, self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }))
  const stopAll = () => { for (const c of children) c.kill('SIGTERM') }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  let done = 0
  let failed = 0
  const codes = await Promise.all(children.map((c) => new Promise<number>((resolve) => {
    c.stdout!.setEncoding('utf8')
    c.stdout!.on('data', (s: string) => {
      process.stdout.write(s)
      const m = /done (\d+) tasks \((\d+) failed\)/.exec(s)
      if (m) { done += Number(m[1]); failed += Number(m[2]) }
    })
    c.on('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0)))
  })))
  const seconds = (performance.now() - t0) / 1000
  console.log(`troupe worker: ${n} processes done ${done} tasks (${failed} failed) in ${seconds.toFixed(2)} s`)
  // The children said why on stderr; the parent ends with the most telling code (a lost manager over a plain failure).
  const bad = codes.filter((c) => c !== 0)
  if (bad.length) throw new CliError(`${bad.length} of ${n} worker processes failed (exit codes ${bad.join(', ')})`, Math.max(...bad))
  return { done, failed, seconds }
}

async function runRedis(opts: RunWorkerOptions & { redis: string }): Promise<WorkerSummary> {
  // Loaded here, so a manager worker never loads the Redis client.
  const { runRedisWorker } = await import('../backends/index.js')
  const t0 = performance.now()
  const progress = new Progress({ bar: opts.progress ?? Boolean(process.stderr.isTTY), verbose: opts.verbose, label: `troupe worker ${process.pid}`, barLabel: 'troupe worker' })
  // Listed on a dashboard watching this Redis (`troupe dashboard --redis URL`), like a manager's workers.
  const activity = new WorkerActivity({ id: `${hostname()}:${process.pid}`, queue: opts.tasks, results: opts.results, fn: opts.export, backend: 'redis' })
  const reporting = startReporting({ redis: opts.redis, prefix: opts.prefix }, () => activity.report())
  try {
    const stats = await runRedisWorker({
      redis: opts.redis, tasks: opts.tasks, results: opts.results, module: opts.module, export: opts.export,
      concurrency: opts.concurrency, idleExit: opts.idleExit,
      prefix: opts.prefix, leaseMs: opts.leaseMs, maxRetries: opts.maxRetries, retries: opts.retries, prefetch: opts.prefetch,
      onServing: () => activity.idle(),
      onProgress: (s) => progress.update(s.done, s.failed),
      onTask: (t) => {
        const description = describeTask(opts.export, t.input, 80)
        const h = activity.begin(description, { attempt: t.attempt })
        return (ok, error) => {
          h.end(ok, error)
          if (!ok) progress.failure(description, error)
        }
      },
    })
    progress.update(stats.done, stats.failed)
    const summary = { done: stats.done, failed: stats.failed, seconds: (performance.now() - t0) / 1000 }
    progress.stop()
    console.log(`troupe worker ${process.pid}: done ${summary.done} tasks (${summary.failed} failed) in ${summary.seconds.toFixed(2)} s`)
    return summary
  } finally {
    progress.stop()
    activity.stopping(true)
    await reporting.stop()
  }
}

/** Register `troupe worker`. */
export function register(cli: Command): void {
  cli.command('worker')
    .description('take tasks from a manager (or Redis) queue, call an exported function on each, put results on another queue')
    .option('--connect <host:port>', 'manager address: HOST:PORT, [IPV6]:PORT or a Unix socket path (required unless --redis)', managerAddress('--connect'))
    .option('--authkey <key>', `shared secret (required with --connect; default: $${AUTHKEY_ENV})`)
    .requiredOption('--tasks <name>', 'typeid of the task queue')
    .requiredOption('--results <name>', 'typeid of the results queue')
    .requiredOption('--module <path>', 'module exporting the task function')
    .requiredOption('--export <name>', 'name of the exported function')
    .option('--concurrency <n>', 'tasks in flight at once per process', integer('--concurrency', 1), 1)
    .option('--processes <n>', 'worker processes', integer('--processes', 1), 1)
    .option('--idle-exit <seconds>', 'exit 0 once the task queue has been empty this long', seconds('--idle-exit'))
    .option('--dialect <dialect>', "wire dialect: 'troupe' or 'python' (a CPython manager)", oneOf('--dialect', ['troupe', 'python'] as const), 'troupe')
    .option('--redis <url>', 'take tasks from Redis instead of a manager (redis://host:port/db, or redis-cluster://host:port,... for a Redis Cluster)')
    .option('--prefix <prefix>', 'with --redis: key prefix (default troupe)')
    .option('--lease-ms <ms>', 'with --redis: lease of a running task; a killed worker\'s tasks run elsewhere after about 1.5 x this (default 30000)', integer('--lease-ms', 1))
    .option('--max-retries <n>', 'with --redis: redeliveries after a worker died holding a task, then dead-lettered (default 3)', integer('--max-retries', 0))
    .option('--retries <n>', 'with --redis: runs again after the function throws (default 0)', integer('--retries', 0))
    .option('--prefetch <n>', 'with --redis: tasks fetched per round trip (default max(64, 2 x concurrency))', integer('--prefetch', 1))
    .option('--reconnect', `when the manager goes away, reconnect with backoff (without it: exit code ${EXIT.lostManager})`)
    .option('--verbose', "print each failed task's stack (default: one line per failure)")
    .option('--no-progress', 'no progress bar even on a terminal')
    .action(async (o: RunWorkerOptions) => {
      if (!o.redis && !o.connect) throw new UsageError('give --connect HOST:PORT (or --redis URL)')
      if (o.redis && o.connect) throw new UsageError('give either --connect or --redis, not both')
      if (!o.redis) {
        const stray = (['prefix', 'leaseMs', 'maxRetries', 'retries', 'prefetch'] as const).filter((k) => o[k] !== undefined)
        if (stray.length) throw new UsageError(`${stray.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} ${stray.length === 1 ? 'applies' : 'apply'} only with --redis`)
      }
      // Commander sets `progress: true` unless --no-progress is given; only the explicit opt-out is meaningful.
      await runWorker({ ...o, progress: o.progress === false ? false : undefined })
      process.exit(process.exitCode ?? 0)
    })
}
