/**
 * `troupe worker --redis URL --tasks NAME --results NAME --module PATH --export NAME`:
 * serve a Redis task queue from any machine. The `worker` command delegates
 * here when it is given `--redis`.
 */
import { serveTasks, spawnWorker, moduleRef, type WorkerStats, type WorkerBoot } from '../backends/index.js'
import { load } from '../process/index.js'
import type { RunWorkerOptions } from './worker.js'

/** Options of `runRedisWorker`: the `troupe worker` flags that apply to a Redis queue, with `redis` required. */
export type RedisWorkerOptions = Pick<RunWorkerOptions, 'tasks' | 'results' | 'module' | 'export' | 'concurrency' | 'processes' | 'idleExit' | 'progress'>
  & { /** Redis URL, e.g. `redis://127.0.0.1:6379`. */ redis: string }

/** Serve until SIGINT/SIGTERM or `idleExit`; resolves with the totals of every process. */
export async function runRedisWorker(opts: RedisWorkerOptions): Promise<WorkerStats> {
  const ref = moduleRef(opts.module, opts.export)
  const boot: WorkerBoot = {
    redis: opts.redis, tasks: opts.tasks, results: opts.results, fn: ref,
    concurrency: opts.concurrency, idleExit: opts.idleExit === undefined ? undefined : opts.idleExit * 1000,
  }
  const showProgress = opts.progress ?? Boolean(process.stderr.isTTY)
  const progress = (s: WorkerStats) => { if (showProgress) process.stderr.write(`\rtroupe worker: ${s.done} done, ${s.failed} failed`) }
  const processes = Math.max(1, opts.processes ?? 1)
  if (processes === 1) {
    const fn = await load<(...a: unknown[]) => unknown>(ref)
    const stop = new AbortController()
    const onSignal = () => stop.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      const stats = await serveTasks({ ...boot, fn, signal: stop.signal, onProgress: progress })
      if (showProgress) process.stderr.write('\n')
      return stats
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
  const totals = new Map<number, WorkerStats>()
  let stopping = false
  const workers = Array.from({ length: processes }, (_, i) => {
    const w = spawnWorker(boot, `redis-worker-${i + 1}`)
    w.onMessage((m: { t: string; stats: WorkerStats }) => {
      // A stop sent while this child was still booting was lost: repeat it once it listens.
      if (m.t === 'ready' && stopping) w.send({ t: 'stop' })
      if (m.t === 'progress' || m.t === 'done') {
        totals.set(i, m.stats)
        progress(sum(totals))
      }
      // A module that fails to load reports once and ends the child; say why here.
      if ((m as { t: string }).t === 'boot-error') console.error(`troupe worker ${i + 1}: ${(m as unknown as { error: { message: string } }).error.message}`)
    })
    return w
  })
  const stopAll = () => { stopping = true; for (const w of workers) w.send({ t: 'stop' }) }
  process.once('SIGINT', stopAll)
  process.once('SIGTERM', stopAll)
  try {
    const exits = await Promise.all(workers.map((w) => w.exited))
    if (showProgress) process.stderr.write('\n')
    const bad = exits.filter((e) => e.exitCode !== 0)
    if (bad.length) process.exitCode = 1
    return sum(totals)
  } finally {
    process.off('SIGINT', stopAll)
    process.off('SIGTERM', stopAll)
  }
}

function sum(m: Map<number, WorkerStats>): WorkerStats {
  const s = { done: 0, failed: 0, retried: 0 }
  for (const v of m.values()) { s.done += v.done; s.failed += v.failed; s.retried += v.retried }
  return s
}
