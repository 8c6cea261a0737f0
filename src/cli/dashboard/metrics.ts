import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { ActorNode, QueueStat, Snapshot } from './model.js'
import type { Durations } from './collector.js'

/** Task-duration histogram buckets, in seconds (1 ms .. 5 min). */
export const TASK_DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

/** What `troupe_build_info` says. */
export interface BuildInfo {
  version: string
}

/**
 * The dashboard's Prometheus registry, by Prometheus's conventions: running
 * totals are counters (so `rate()` works over any window, and nothing is a
 * per-sample derived gauge), base units in names (`_seconds`, `_bytes`,
 * `_items`, `_messages`), the same label names for the same thing everywhere
 * (`queue`, `backend`, `source`; `worker`; `pool`; `system`, `actor`;
 * `function`), and no family rendered without samples.
 *
 * Sources report cumulative counts (a worker says "I have done 812 tasks");
 * Prometheus counters only go up by increments, so each counter remembers the
 * last total per origin and adds the difference. A total that goes down means
 * the origin restarted under the same id: its new total is all new work.
 */
export class DashboardMetrics {
  /** The registry `GET /metrics` renders. */
  readonly registry = new Registry()
  private readonly lastTotals = new Map<string, number>()

  private readonly queueLabels = ['queue', 'backend', 'source'] as const
  private readonly waiting = this.gauge('troupe_queue_waiting_items', 'Items waiting in a queue (put, not yet taken).', this.queueLabels)
  private readonly pending = this.gauge('troupe_queue_pending_items', 'Items taken and not yet finished: unacknowledged (Redis) or without taskDone() (JoinableQueue).', this.queueLabels)
  private readonly delayed = this.gauge('troupe_queue_delayed_items', 'Items put with a delay and not yet due (Redis).', this.queueLabels)
  private readonly dead = this.gauge('troupe_queue_dead_letters', 'Items that ran out of retries, in the dead-letter stream (Redis).', this.queueLabels)
  private readonly oldest = this.gauge('troupe_queue_oldest_item_age_seconds', 'Age of the oldest item not yet finished (waiting or taken); 0 when the queue is empty.', this.queueLabels)
  private readonly consumers = this.gauge('troupe_queue_consumers', 'Readers of a queue: consumers in the Redis group; for manager queues, live workers reporting that they take from it.', this.queueLabels)
  private readonly put = this.counter('troupe_queue_items_put_total', 'Items put into a queue.', this.queueLabels)
  private readonly taken = this.counter('troupe_queue_items_taken_total', 'Items taken from a queue.', this.queueLabels)

  private readonly tasks = this.counter('troupe_tasks_total', 'Tasks finished by queue workers (troupe worker, manager or Redis), by queue, function and outcome.', ['queue', 'function', 'status'] as const)
  private readonly workerTasks = this.counter('troupe_worker_tasks_total', 'Tasks finished per queue worker, by outcome.', ['worker', 'queue', 'function', 'status'] as const)
  private readonly duration = new Histogram({
    name: 'troupe_task_duration_seconds', help: 'How long tasks of queue workers took to run.', labelNames: ['queue', 'function'] as const,
    buckets: TASK_DURATION_BUCKETS, registers: [this.registry],
  })
  private readonly busy = this.counter('troupe_worker_busy_seconds_total', 'Time a worker spent running tasks (rate() of it is the share of time busy).', ['worker', 'queue', 'function'] as const)
  private readonly cpu = this.counter('troupe_worker_cpu_seconds_total', "CPU time (user + system) of a worker's process.", ['worker'] as const)
  private readonly memory = this.gauge('troupe_worker_resident_memory_bytes', "Resident memory of a worker's process.", ['worker'] as const)
  private readonly workers = this.gauge('troupe_workers', 'Queue workers known to the dashboard, by state.', ['state'] as const)

  private readonly poolTasks = this.counter('troupe_pool_tasks_total', 'Tasks finished by a pool, by outcome.', ['pool', 'status'] as const)
  private readonly poolWorkers = this.gauge('troupe_pool_workers', 'Workers of a pool, by state (busy, idle).', ['pool', 'state'] as const)
  private readonly poolQueued = this.gauge('troupe_pool_queued_tasks', 'Tasks submitted to a pool and not yet started.', ['pool'] as const)
  private readonly poolRestarts = this.counter('troupe_pool_worker_restarts_total', 'Pool workers replaced after a crash.', ['pool'] as const)

  private readonly mailbox = this.gauge('troupe_actor_mailbox_messages', "Messages waiting in an actor's mailbox.", ['system', 'actor'] as const)
  private readonly processed = this.counter('troupe_actor_processed_messages_total', 'Messages an actor handled.', ['system', 'actor'] as const)
  private readonly actorRestarts = this.counter('troupe_actor_restarts_total', 'Times an actor was restarted by its supervisor.', ['system', 'actor'] as const)
  private readonly actors = this.gauge('troupe_actors', 'Actors known to the dashboard, by state.', ['state'] as const)

  private readonly sourceUp = this.gauge('troupe_dashboard_source_up', '1 when the dashboard could read a source on its last sample.', ['source'] as const)

  constructor(options: { processMetrics?: boolean; build?: BuildInfo } = {}) {
    // The dashboard's own process metrics (CPU, memory, event-loop lag), prefixed so they do not clash with the app's.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'troupe_dashboard_' })
    this.gauge('troupe_build_info', 'The troupe version serving these metrics (always 1).', ['version', 'nodejs'] as const)
      .set({ version: options.build?.version || 'unknown', nodejs: process.versions.node }, 1)
  }

  /** Record one sample: gauges take the snapshot's values, counters add what is new since the last one. */
  update(snap: Snapshot, durations: Durations[]): void {
    for (const g of [this.waiting, this.pending, this.delayed, this.dead, this.oldest, this.consumers]) g.reset()
    for (const q of snap.queues) if (!q.stale) this.updateQueue(q)

    for (const w of snap.workers) {
      if (w.pool) continue // a pool's workers are counted through the pool's own totals
      const labels = { worker: w.id, queue: w.queue ?? '', function: w.fn ?? '' }
      for (const [status, total] of [['done', w.done], ['failed', w.failed]] as const) {
        this.addTotal(`${status}:worker:${w.id}`, total, (n) => {
          this.tasks.inc({ queue: labels.queue, function: labels.function, status }, n)
          this.workerTasks.inc({ ...labels, status }, n)
        })
      }
      this.addTotal(`busy:${w.id}`, w.busyMs, (n) => this.busy.inc(labels, n / 1000))
      if (w.cpuMs !== undefined) this.addTotal(`cpu:${w.id}`, w.cpuMs, (n) => this.cpu.inc({ worker: w.id }, n / 1000))
    }
    for (const d of durations) {
      const h = this.duration.labels({ queue: d.queue, function: d.fn })
      for (const ms of d.ms) h.observe(ms / 1000)
    }

    this.workers.reset()
    this.memory.reset()
    const byState = new Map<string, number>()
    for (const w of snap.workers) {
      if (w.pool) continue
      byState.set(w.state, (byState.get(w.state) ?? 0) + 1)
      if (w.state !== 'exited' && w.state !== 'lost' && w.rssBytes !== undefined) this.memory.set({ worker: w.id }, w.rssBytes)
    }
    for (const [state, n] of byState) this.workers.set({ state }, n)

    this.poolWorkers.reset()
    this.poolQueued.reset()
    for (const p of snap.pools) {
      this.addTotal(`done:pool:${p.id}`, p.done, (n) => this.poolTasks.inc({ pool: p.id, status: 'done' }, n))
      this.addTotal(`failed:pool:${p.id}`, p.failed, (n) => this.poolTasks.inc({ pool: p.id, status: 'failed' }, n))
      this.addTotal(`restarts:pool:${p.id}`, p.restarts, (n) => this.poolRestarts.inc({ pool: p.id }, n))
      if (p.lost || p.closed) continue
      this.poolWorkers.set({ pool: p.id, state: 'busy' }, p.busy)
      this.poolWorkers.set({ pool: p.id, state: 'idle' }, Math.max(0, p.workers - p.busy))
      this.poolQueued.set({ pool: p.id }, p.queued)
    }

    this.mailbox.reset()
    this.actors.reset()
    const actorStates = new Map<string, number>()
    for (const sys of snap.actors) {
      const walk = (n: ActorNode): void => {
        const labels = { system: sys.id, actor: n.path }
        if (!sys.lost) {
          this.mailbox.set(labels, n.mailbox)
          actorStates.set(n.state, (actorStates.get(n.state) ?? 0) + 1)
        }
        this.addTotal(`restarts:actor:${sys.id}:${n.path}`, n.restarts, (k) => this.actorRestarts.inc(labels, k))
        if (n.processed !== undefined) this.addTotal(`processed:${sys.id}:${n.path}`, n.processed, (k) => this.processed.inc(labels, k))
        n.children.forEach(walk)
      }
      sys.roots.forEach(walk)
    }
    for (const [state, n] of actorStates) this.actors.set({ state }, n)

    this.sourceUp.reset()
    for (const s of snap.sources) this.sourceUp.set({ source: s.name }, s.ok ? 1 : 0)
  }

  /** The Prometheus text exposition and its content type: every family that has samples, none that has none. */
  async render(): Promise<{ contentType: string; body: string }> {
    const parts: string[] = []
    for (const m of this.registry.getMetricsAsArray()) {
      const text = await this.registry.getSingleMetricAsString(m.name)
      // HELP and TYPE alone: a family nobody has reported into yet.
      if (text.split('\n').length > 2) parts.push(text)
    }
    return { contentType: this.registry.contentType, body: `${parts.join('\n\n')}\n` }
  }

  private gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] })
  }

  private counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  private updateQueue(q: QueueStat): void {
    const labels = { queue: q.name, backend: q.backend, source: q.source ?? '' }
    this.waiting.set(labels, q.depth)
    if (q.pending !== undefined) this.pending.set(labels, q.pending)
    if (q.delayed !== undefined) this.delayed.set(labels, q.delayed)
    if (q.dead !== undefined) this.dead.set(labels, q.dead)
    if (q.oldestAgeMs !== undefined) this.oldest.set(labels, q.oldestAgeMs / 1000)
    if (q.consumers !== undefined) this.consumers.set(labels, q.consumers)
    const key = `${labels.source}|${q.backend}:${q.name}`
    if (q.put !== undefined) this.addTotal(`put:${key}`, q.put, (n) => this.put.inc(labels, n))
    if (q.got !== undefined) this.addTotal(`got:${key}`, q.got, (n) => this.taken.inc(labels, n))
    // Make the series exist (at 0) as soon as the queue is seen, so rate() works from the first scrape.
    if (q.put !== undefined) this.put.inc(labels, 0)
    if (q.got !== undefined) this.taken.inc(labels, 0)
  }

  /** Turn a reported running total into an increment (see the class comment). */
  private addTotal(key: string, total: number, inc: (n: number) => void): void {
    const last = this.lastTotals.get(key)
    const delta = last === undefined || total >= last ? total - (last ?? 0) : total
    this.lastTotals.set(key, total)
    // Inc by 0 too: the series exists from the first sample, so increase() sees the first tasks.
    inc(Math.max(0, delta))
  }
}
