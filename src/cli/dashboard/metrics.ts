import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { QueueStat, Snapshot } from './model.js'

/** Task-duration histogram buckets, in seconds (1 ms .. 5 min). */
export const TASK_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/**
 * The dashboard's Prometheus registry. Sources report cumulative counts
 * (a worker says "I have done 812 tasks"); Prometheus counters only go up by
 * increments, so each counter remembers the last total per origin and adds
 * the difference. A total that goes down means the origin restarted under the
 * same id: its new total is all new work.
 */
export class DashboardMetrics {
  /** The registry `GET /metrics` renders. */
  readonly registry = new Registry()
  private readonly lastTotals = new Map<string, number>()

  private readonly queueDepth = new Gauge({ name: 'troupe_queue_depth', help: 'Items waiting in a queue.', labelNames: ['queue', 'backend'] as const, registers: [this.registry] })
  private readonly queuePending = new Gauge({ name: 'troupe_queue_pending', help: 'Items taken and not yet finished: unacknowledged (Redis) or without taskDone() (JoinableQueue).', labelNames: ['queue', 'backend'] as const, registers: [this.registry] })
  private readonly queuePut = new Counter({ name: 'troupe_queue_put_total', help: 'Items put into a queue.', labelNames: ['queue', 'backend'] as const, registers: [this.registry] })
  private readonly queueGot = new Counter({ name: 'troupe_queue_got_total', help: 'Items taken from a queue.', labelNames: ['queue', 'backend'] as const, registers: [this.registry] })
  private readonly tasks = new Counter({ name: 'troupe_tasks_total', help: 'Tasks finished by workers and pools, by outcome.', labelNames: ['status'] as const, registers: [this.registry] })
  private readonly workerTasks = new Counter({ name: 'troupe_worker_tasks_total', help: 'Tasks finished, per worker or pool, by outcome.', labelNames: ['worker', 'status'] as const, registers: [this.registry] })
  private readonly duration = new Histogram({ name: 'troupe_task_duration_seconds', help: 'How long tasks took to run.', buckets: TASK_DURATION_BUCKETS, registers: [this.registry] })
  private readonly restarts = new Counter({ name: 'troupe_restarts_total', help: 'Pool workers replaced after a crash and actors restarted by their supervisor.', labelNames: ['kind'] as const, registers: [this.registry] })
  private readonly workers = new Gauge({ name: 'troupe_workers', help: 'Workers known to the dashboard, by state.', labelNames: ['state'] as const, registers: [this.registry] })
  private readonly workerUtilisation = new Gauge({ name: 'troupe_worker_utilisation', help: 'Fraction of the last interval a worker spent running tasks.', labelNames: ['worker'] as const, registers: [this.registry] })
  private readonly workerCpu = new Gauge({ name: 'troupe_worker_cpu_cores', help: 'CPU a worker process used over the last interval, in cores.', labelNames: ['worker'] as const, registers: [this.registry] })
  private readonly workerMemory = new Gauge({ name: 'troupe_worker_resident_memory_bytes', help: 'Resident memory of a worker process.', labelNames: ['worker'] as const, registers: [this.registry] })
  private readonly poolWorkers = new Gauge({ name: 'troupe_pool_workers', help: 'Workers of a pool, by state.', labelNames: ['pool', 'state'] as const, registers: [this.registry] })
  private readonly poolQueued = new Gauge({ name: 'troupe_pool_queued', help: 'Tasks submitted to a pool and not yet started.', labelNames: ['pool'] as const, registers: [this.registry] })
  private readonly actorMailbox = new Gauge({ name: 'troupe_actor_mailbox', help: 'Messages waiting in an actor mailbox.', labelNames: ['system', 'actor'] as const, registers: [this.registry] })
  private readonly actorCount = new Gauge({ name: 'troupe_actors', help: 'Actors known to the dashboard, by state.', labelNames: ['state'] as const, registers: [this.registry] })
  private readonly sourceUp = new Gauge({ name: 'troupe_dashboard_source_up', help: '1 when the dashboard could read a source on its last sample.', labelNames: ['source'] as const, registers: [this.registry] })

  constructor(options: { processMetrics?: boolean } = {}) {
    // The dashboard's own process metrics (CPU, memory, event-loop lag), prefixed so they do not clash with the app's.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'troupe_dashboard_' })
    // Counters exist at 0 from the first scrape, so `rate()` and `increase()` see the first tasks.
    this.tasks.inc({ status: 'done' }, 0)
    this.tasks.inc({ status: 'failed' }, 0)
  }

  /** Record one sample: gauges take the snapshot's values, counters add what is new since the last one. */
  update(snap: Snapshot, durationsMs: number[]): void {
    this.queueDepth.reset()
    this.queuePending.reset()
    for (const q of snap.queues) this.updateQueue(q)

    for (const w of snap.workers) {
      if (w.pool) continue // a pool's workers are counted through the pool's own totals
      this.countTasks(`worker:${w.id}`, w.id, w.done, w.failed)
    }
    for (const p of snap.pools) {
      this.countTasks(`pool:${p.id}`, p.id, p.done, p.failed)
      this.addTotal(`restarts:pool:${p.id}`, p.restarts, (n) => this.restarts.inc({ kind: 'pool-worker' }, n))
    }
    for (const ms of durationsMs) this.duration.observe(ms / 1000)

    this.workers.reset()
    this.workerUtilisation.reset()
    this.workerCpu.reset()
    this.workerMemory.reset()
    const byState = new Map<string, number>()
    for (const w of snap.workers) {
      byState.set(w.state, (byState.get(w.state) ?? 0) + 1)
      if (w.state === 'exited' || w.state === 'lost') continue
      this.workerUtilisation.set({ worker: w.id }, w.utilisation)
      if (w.cpu !== undefined) this.workerCpu.set({ worker: w.id }, w.cpu)
      if (w.rssBytes !== undefined) this.workerMemory.set({ worker: w.id }, w.rssBytes)
    }
    for (const [state, n] of byState) this.workers.set({ state }, n)

    this.poolWorkers.reset()
    this.poolQueued.reset()
    for (const p of snap.pools) {
      if (p.lost || p.closed) continue
      this.poolWorkers.set({ pool: p.id, state: 'busy' }, p.busy)
      this.poolWorkers.set({ pool: p.id, state: 'idle' }, Math.max(0, p.workers - p.busy))
      this.poolQueued.set({ pool: p.id }, p.queued)
    }

    this.actorMailbox.reset()
    this.actorCount.reset()
    const actorStates = new Map<string, number>()
    for (const sys of snap.actors) {
      const walk = (n: Snapshot['actors'][number]['roots'][number]): void => {
        if (!sys.lost) {
          this.actorMailbox.set({ system: sys.id, actor: n.path }, n.mailbox)
          actorStates.set(n.state, (actorStates.get(n.state) ?? 0) + 1)
        }
        this.addTotal(`restarts:actor:${sys.id}:${n.path}`, n.restarts, (k) => this.restarts.inc({ kind: 'actor' }, k))
        n.children.forEach(walk)
      }
      sys.roots.forEach(walk)
    }
    for (const [state, n] of actorStates) this.actorCount.set({ state }, n)

    this.sourceUp.reset()
    for (const s of snap.sources) this.sourceUp.set({ source: s.name }, s.ok ? 1 : 0)
  }

  /** The Prometheus text exposition and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  private updateQueue(q: QueueStat): void {
    const labels = { queue: q.name, backend: q.backend }
    this.queueDepth.set(labels, q.depth)
    if (q.pending !== undefined) this.queuePending.set(labels, q.pending)
    const key = `${q.backend}:${q.name}`
    if (q.put !== undefined) this.addTotal(`put:${key}`, q.put, (n) => this.queuePut.inc(labels, n))
    if (q.got !== undefined) this.addTotal(`got:${key}`, q.got, (n) => this.queueGot.inc(labels, n))
    // Make the series exist (at 0) as soon as the queue is seen, so rate() works from the first scrape.
    if (q.put !== undefined) this.queuePut.inc(labels, 0)
    if (q.got !== undefined) this.queueGot.inc(labels, 0)
  }

  private countTasks(key: string, id: string, done: number, failed: number): void {
    this.addTotal(`done:${key}`, done, (n) => {
      this.tasks.inc({ status: 'done' }, n)
      this.workerTasks.inc({ worker: id, status: 'done' }, n)
    })
    this.addTotal(`failed:${key}`, failed, (n) => {
      this.tasks.inc({ status: 'failed' }, n)
      this.workerTasks.inc({ worker: id, status: 'failed' }, n)
    })
  }

  /** Turn a reported running total into an increment (see the class comment). */
  private addTotal(key: string, total: number, inc: (n: number) => void): void {
    const last = this.lastTotals.get(key) ?? 0
    const delta = total >= last ? total - last : total
    this.lastTotals.set(key, total)
    if (delta > 0) inc(delta)
  }
}
