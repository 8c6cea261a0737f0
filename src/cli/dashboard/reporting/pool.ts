import { hostname } from 'node:os'
import type { PoolStats } from '../../../pool/index.js'
import type { PoolReport } from '../model.js'
import { startReporting, type Reporting, type ReportingOptions, type ReportTarget } from './report.js'

/** Anything with a Pool's `stats()`. */
export interface HasPoolStats {
  stats(): PoolStats
}

let pools = 0

/** A function that turns `pool.stats()` into the PoolReport the dashboard shows. */
export function poolReporter(pool: HasPoolStats, id = `pool-${++pools}@${hostname()}:${process.pid}`): () => PoolReport {
  let seq = 0
  let last: PoolReport = { kind: 'pool', id, host: hostname(), pid: process.pid, workers: 0, busy: 0, queued: 0, done: 0, failed: 0, restarts: 0, seq }
  return () => {
    try {
      const s = pool.stats()
      last = {
        kind: 'pool', id, host: hostname(), pid: process.pid, workerKind: s.kind,
        workers: s.workers, busy: s.perWorker.filter((w) => w.running > 0).length, queued: s.queued,
        done: s.completed, failed: s.failed, restarts: s.crashes, seq: ++seq,
      }
    } catch {
      // A pool that refuses stats is gone: keep its totals (counters must not go back) and mark it closed.
      last = { ...last, workers: 0, busy: 0, queued: 0, seq: ++seq, closed: true }
    }
    return last
  }
}

/** Publish a pool's numbers to the dashboard about once a second until `stop()`. */
export function reportPool(pool: HasPoolStats, target: ReportTarget, options: ReportingOptions & { id?: string } = {}): Reporting {
  return startReporting(target, poolReporter(pool, options.id), options)
}
