import { Redis } from 'ioredis'
import type { Source, SourceSample } from './collector.js'
import type { QueueStat, Report } from './model.js'
import { redisReportsKey } from './reporting/index.js'
import { queueKeys } from '../../backends/index.js'

/** Which Redis to watch and how. */
export interface RedisSourceOptions {
  /** `redis://host:port/db`. */
  url: string
  /** Key prefix of troupe's Redis queues (default `troupe`): queues are the streams `<prefix>:{<name>}:q`. */
  prefix?: string
  /** Only these queues; default: every queue found under the prefix (rescanned every ~10 samples). */
  queues?: string[]
  /** Consumer group whose progress counts as "taken" (default `troupe`; falls back to the first group). */
  group?: string
}

/**
 * Queue statistics straight from Redis: a troupe Redis queue is a stream whose
 * entries are deleted when acknowledged, read by a consumer group. Redis 7's
 * XINFO gives running totals for free: `entries-added` (put) on the stream,
 * `entries-read` (taken) and `lag` (not yet delivered) on the group.
 */
export function redisSource(options: RedisSourceOptions): Source {
  const prefix = options.prefix ?? 'troupe'
  const groupName = options.group ?? 'troupe'
  const client = new Redis(options.url, {
    lazyConnect: true,
    enableAutoPipelining: false,
    connectTimeout: 3000,
    // A dashboard must not queue commands forever behind a Redis that is down: fail this sample, try again next one.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  })
  client.on('error', () => { /* reported through the sample that fails */ })
  let known: string[] = options.queues ?? []
  let samples = 0

  async function discover(): Promise<string[]> {
    const names = new Set<string>()
    let cursor = '0'
    const re = new RegExp(`^${escape(prefix)}:\\{(.+)\\}:q$`)
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:{*}:q`, 'COUNT', 500, 'TYPE', 'stream')
      cursor = next
      for (const k of keys) {
        const m = re.exec(k)
        // A name with a brace is no troupe queue (its keys could not share one hash tag).
        if (m && !/[{}]/.test(m[1]!)) names.add(m[1]!)
      }
    } while (cursor !== '0')
    return [...names].sort()
  }

  return {
    name: `redis ${options.url.replace(/\/\/[^@/]*@/, '//***@')}`,
    async sample(): Promise<SourceSample> {
      if (client.status === 'wait') await client.connect()
      if (!options.queues && samples++ % 10 === 0) known = await discover()
      const pipe = client.pipeline()
      for (const name of known) {
        const k = queueKeys(name, prefix)
        pipe.call('XINFO', 'STREAM', k.stream)
        pipe.call('XINFO', 'GROUPS', k.stream)
        pipe.zcard(k.delayed)
        pipe.xlen(k.dead)
      }
      pipe.hgetall(redisReportsKey(prefix))
      const replies = (await pipe.exec()) ?? []
      const queues: QueueStat[] = []
      for (let i = 0; i < known.length; i++) {
        const [streamErr, stream] = replies[i * 4]!
        if (streamErr) continue // the queue was deleted since discovery
        const info = pairs(stream)
        const groups = ((replies[i * 4 + 1]![1] ?? []) as unknown[]).map(pairs)
        const group = groups.find((g) => g.name === groupName) ?? groups[0]
        const length = Number(info.length ?? 0)
        const pending = group ? Number(group.pending ?? 0) : 0
        const put = info['entries-added'] !== undefined ? Number(info['entries-added']) : undefined
        // Redis answers lag/entries-read null when it cannot know them (deleted entries past the group's position).
        const lag = group?.lag === null || group?.lag === undefined ? undefined : Number(group.lag)
        const read = group?.['entries-read'] === null || group?.['entries-read'] === undefined ? undefined : Number(group['entries-read'])
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
          delayed: Number(replies[i * 4 + 2]![1] ?? 0),
          dead: Number(replies[i * 4 + 3]![1] ?? 0),
        })
      }
      const reports: Report[] = []
      const [hashErr, hash] = replies[known.length * 4] ?? [null, {}]
      if (!hashErr) {
        for (const raw of Object.values((hash ?? {}) as Record<string, string>)) {
          try { reports.push(JSON.parse(raw) as Report) } catch { /* a malformed report is skipped */ }
        }
      }
      return { queues, reports }
    },
    async close() {
      client.disconnect()
    },
  }
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
