import { QueueAdmin, queueKeys, makeClient, describeTarget, scanKeys, pipelined, type Command } from '../../backends/index.js'
import { ActionRefused, type Source, type SourceSample } from './collector.js'
import type { ActionResult, DeadLetterStat, DelayedStat, QueueAction, QueueStat, Report } from './model.js'
import { redisReportsKey } from './reporting/index.js'

/** Which Redis to watch and how. */
export interface RedisSourceOptions {
  /** `redis://host:port/db`, or `redis-cluster://host:port[,host:port...]` for a Redis Cluster. */
  url: string
  /** Key prefix of troupe's Redis queues (default `troupe`): queues are the streams `<prefix>:{<name>}:q`. */
  prefix?: string
  /** Only these queues; default: every queue found under the prefix (rescanned every ~10 samples). */
  queues?: string[]
  /** Consumer group whose progress counts as "taken" (default `troupe`; falls back to the first group). */
  group?: string
  /** Dead letters listed per queue (newest first). Default 20. */
  deadLetters?: number
}

/** Per-queue commands in the sampling pipeline (see `sample`). */
const PER_QUEUE = 6

/**
 * Queue statistics straight from Redis: a troupe Redis queue is a stream whose
 * entries are deleted when acknowledged, read by a consumer group. Redis 7's
 * XINFO gives running totals for free: `entries-added` (put) on the stream,
 * `entries-read` (taken) and `lag` (not yet delivered) on the group. The
 * stream's first entry is its oldest unfinished item (finished ones are
 * trimmed from the front). Dead letters are listed again only when their
 * count changed. On a Cluster every master is scanned, and each sample's
 * reads go in one pipeline per node (a queue's keys share a slot).
 */
export function redisSource(options: RedisSourceOptions): Source {
  const prefix = options.prefix ?? 'troupe'
  const groupName = options.group ?? 'troupe'
  const listed = options.deadLetters ?? 20
  // RESP2 (makeClient's): the reply shapes parsed below (flat XINFO pairs, flat WITHSCORES) on every Redis troupe supports.
  const client = makeClient(options.url, {
    connectTimeout: 3000,
    // A dashboard must not queue commands forever behind a Redis that is down: fail this sample, try again next one.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  })
  client.on('error', () => { /* reported through the sample that fails */ })
  let known: string[] = options.queues ?? []
  let samples = 0
  const deadCache = new Map<string, { count: number; letters: DeadLetterStat[] }>()
  const admin = (queue: string) => new QueueAdmin(client, queue, prefix, groupName)

  async function discover(): Promise<string[]> {
    const names = new Set<string>()
    const re = new RegExp(`^${escape(prefix)}:\\{(.+)\\}:q$`)
    for (const k of await scanKeys(client, `${prefix}:{*}:q`, 'stream')) {
      const m = re.exec(k)
      // A name with a brace is no troupe queue (its keys could not share one hash tag).
      if (m && !/[{}]/.test(m[1]!)) names.add(m[1]!)
    }
    return [...names].sort()
  }

  async function sample(): Promise<SourceSample> {
    if (client.status === 'wait') await client.connect()
    if (!options.queues && samples++ % 10 === 0) known = await discover()
    const commands: Command[] = []
    for (const name of known) {
      const k = queueKeys(name, prefix)
      commands.push(['XINFO', 'STREAM', k.stream], ['XINFO', 'GROUPS', k.stream], ['ZCARD', k.delayed], ['XLEN', k.dead],
        ['XRANGE', k.stream, '-', '+', 'COUNT', 1], ['HGET', k.meta, 'sealed'])
    }
    commands.push(['HGETALL', redisReportsKey(prefix)], ['TIME'])
    // On a Cluster: one pipeline per node (TIME goes to any one of them).
    const replies = await pipelined(client, commands)
    const time = replies[known.length * PER_QUEUE + 1]?.[1] as [string, string] | undefined
    // Ages by Redis's clock, which also stamped the entry ids.
    const now = time ? Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000) : Date.now()
    const queues: QueueStat[] = []
    for (let i = 0; i < known.length; i++) {
      const at = i * PER_QUEUE
      const [streamErr, stream] = replies[at]!
      if (streamErr) continue // the queue was deleted since discovery
      const info = pairs(stream)
      const groups = ((replies[at + 1]![1] ?? []) as unknown[]).map(pairs)
      const group = groups.find((g) => g.name === groupName) ?? groups[0]
      const length = Number(info.length ?? 0)
      const pending = group ? Number(group.pending ?? 0) : 0
      const put = info['entries-added'] !== undefined ? Number(info['entries-added']) : undefined
      // Redis answers lag/entries-read null when it cannot know them (deleted entries past the group's position).
      const lag = group?.lag === null || group?.lag === undefined ? undefined : Number(group.lag)
      const read = group?.['entries-read'] === null || group?.['entries-read'] === undefined ? undefined : Number(group['entries-read'])
      const first = (replies[at + 4]![1] ?? []) as [string, string[]][]
      queues.push({
        name: known[i]!,
        backend: 'redis',
        // Waiting = not yet delivered to the group; an entry leaves the stream when acknowledged.
        depth: group ? lag ?? Math.max(0, length - pending) : length,
        put,
        got: group ? read ?? (put !== undefined && lag !== undefined ? put - lag : undefined) : 0,
        unfinished: length,
        pending,
        consumers: group ? Number(group.consumers ?? 0) : 0,
        delayed: Number(replies[at + 2]![1] ?? 0),
        dead: Number(replies[at + 3]![1] ?? 0),
        oldestAgeMs: first[0] ? Math.max(0, now - Number(first[0][0].split('-')[0])) : 0,
        sealed: replies[at + 5]![1] === '1',
      })
    }
    const reports: Report[] = []
    const [hashErr, hash] = replies[known.length * PER_QUEUE] ?? [null, []]
    if (!hashErr) {
      for (const raw of Object.values(pairs(hash))) {
        try { reports.push(JSON.parse(String(raw)) as Report) } catch { /* a malformed report is skipped */ }
      }
    }
    return { queues, reports, deadLetters: await deadLetters(queues), delayed: await delayed(queues) }
  }

  /** The newest dead letters of each queue that has some, fetched again only when the count moved. */
  async function deadLetters(queues: QueueStat[]): Promise<DeadLetterStat[]> {
    const out: DeadLetterStat[] = []
    for (const q of queues) {
      const count = q.dead ?? 0
      if (count === 0) { deadCache.delete(q.name); continue }
      let cached = deadCache.get(q.name)
      if (!cached || cached.count !== count) {
        const letters = (await admin(q.name).deadLetters(listed)).map((d) => ({
          id: d.id, queue: q.name, taskId: d.taskId, at: d.at, reason: d.reason, attempts: d.attempts, task: preview(d.value),
          ...(d.error ? { error: d.error } : {}),
        }))
        deadCache.set(q.name, cached = { count, letters })
      }
      out.push(...cached.letters)
    }
    return out
  }

  async function delayed(queues: QueueStat[]): Promise<DelayedStat[]> {
    const out: DelayedStat[] = []
    for (const q of queues) {
      if (!q.delayed) continue
      for (const d of await admin(q.name).delayed(listed)) out.push({ queue: q.name, taskId: d.taskId, due: d.due })
    }
    return out
  }

  async function act(action: QueueAction): Promise<ActionResult> {
    if (client.status === 'wait') await client.connect()
    if (!known.includes(action.queue)) throw new ActionRefused(404, `no Redis queue '${action.queue}' under prefix '${prefix}'`)
    const a = admin(action.queue)
    const q = `'${action.queue}'`
    const items = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`
    deadCache.delete(action.queue)
    switch (action.kind) {
      case 'retry-dead': {
        const n = await a.retryDead(action.ids)
        return { ok: true, count: n, message: `put ${items(n, 'dead letter')} back on ${q} for a fresh set of runs` }
      }
      case 'drop-dead': {
        const n = await a.dropDead(action.ids)
        return { ok: true, count: n, message: `deleted ${items(n, 'dead letter')} of ${q}` }
      }
      case 'purge': {
        const n = await a.purge()
        return { ok: true, count: n, message: `purged ${items(n, 'waiting item')} from ${q}` }
      }
      case 'promote-delayed': {
        const n = await a.promoteDelayed(action.ids)
        return { ok: true, count: n, message: `made ${items(n, 'delayed item')} of ${q} due now` }
      }
      case 'drop-delayed': {
        const n = await a.dropDelayed(action.ids)
        return { ok: true, count: n, message: `deleted ${items(n, 'delayed item')} of ${q}` }
      }
      case 'seal':
        await a.seal()
        return { ok: true, message: `sealed ${q}: consumers stop once it is drained` }
    }
  }

  return {
    name: `redis ${describeTarget(options.url)}`,
    sample,
    act,
    async close() {
      client.disconnect()
    },
  }
}

/** A short text of a value for the page. */
function preview(v: unknown): string {
  let text: string
  try { text = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v) } catch { text = String(v) }
  return text.length > 200 ? `${text.slice(0, 199)}…` : text
}

/** XINFO answers flat [key, value, key, value, ...] arrays. */
function pairs(reply: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!Array.isArray(reply)) return out
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = reply[i + 1]
  return out
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
