/**
 * The Redis key layout. Every key of one queue (or one actor mailbox) carries
 * the same hash tag `{name}`, so in Redis Cluster they live in one slot and a
 * Lua script may touch all of them.
 */

/** The keys of one queue. */
export interface QueueKeys {
  /** The queue's name as the user gave it. */
  name: string
  /** Stream of ready and in-flight tasks; acknowledged entries are trimmed. */
  stream: string
  /** Count of unfinished tasks (put or delayed, not yet acknowledged or dead-lettered). */
  count: string
  /** Highest entry id acknowledged so far (where trimming may go when nothing is pending). */
  acked: string
  /** ZSET task id -> due time (ms) of delayed tasks. */
  delayed: string
  /** HASH task id -> msgpacked entry fields of delayed tasks. */
  delayedData: string
  /** Stream of tasks that ran out of retries (dead letters). */
  dead: string
  /** HASH task id -> 1: the results already recorded here (what makes results idempotent). */
  done: string
  /** HASH of queue-wide flags (`sealed`). */
  meta: string
}

/** Reject names that would break the hash tag or the layout. */
export function checkName(name: string, what = 'queue'): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`a Redis ${what} needs a non-empty name`)
  if (/[{}]/.test(name)) throw new TypeError(`Redis ${what} name '${name}' must not contain '{' or '}' (they delimit the Cluster hash tag)`)
  return name
}

/** The keys of queue `name` under `prefix` (default `troupe`): `troupe:{name}:q`, `troupe:{name}:dead`, ... */
export function queueKeys(name: string, prefix = 'troupe'): QueueKeys {
  checkName(name)
  const base = `${prefix}:{${name}}`
  return {
    name,
    stream: `${base}:q`,
    count: `${base}:n`,
    acked: `${base}:acked`,
    delayed: `${base}:delayed`,
    delayedData: `${base}:delayed:data`,
    dead: `${base}:dead`,
    done: `${base}:done`,
    meta: `${base}:meta`,
  }
}

/** Every key of a queue, for cleanup. */
export function allKeys(k: QueueKeys): string[] {
  return [k.stream, k.count, k.acked, k.delayed, k.delayedData, k.dead, k.done, k.meta]
}
