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
  /** ZSET task id -> when its result was recorded here (what makes results idempotent); trimmed past the retention window. */
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

/** The keys of one actor: its mailbox (a queue's keys under the tag `{actor:<name>}`), lease and fencing counter. */
export interface ActorKeys {
  /** The mailbox stream (group `actor`, one consumer per lease) and the rest of a queue's keys. */
  mailbox: QueueKeys
  /** The lease: `<node> <token>` of the node hosting the actor, with a PX expiry. */
  lease: string
  /** Counter: each new lease takes the next fencing token. */
  fence: string
  /** The actor's definition (module, export, args, options): present while the actor exists. */
  def: string
  /** Why the actor ended (for a day after it did): what a late `join` or `watch` learns. */
  exit: string
}

/** The keys of actor `name` under `prefix`: `troupe:{actor:<name>}:q`, `...:lease`, `...:fence`, `...:def`, `...:exit`. */
export function actorKeys(name: string, prefix = 'troupe'): ActorKeys {
  checkName(name, 'actor')
  if (name.includes('\n')) throw new TypeError(`Redis actor name ${JSON.stringify(name)} must not contain a newline`)
  const mailbox = queueKeys(`actor:${name}`, prefix)
  const base = `${prefix}:{actor:${name}}`
  return { mailbox, lease: `${base}:lease`, fence: `${base}:fence`, def: `${base}:def`, exit: `${base}:exit` }
}

/**
 * The keys an actor system shares across its nodes. Each set has a version
 * key in its slot that every change renews, so readers keep the set cached
 * and re-read it only when the version moved (see SharedSet).
 */
export interface SystemKeys {
  /** SET of actor names (what hosting nodes place). */
  registry: string
  /** Version of `registry`. */
  registryVersion: string
  /** SET of `pattern\nactor` subscriptions. */
  subjects: string
  /** Version of `subjects`. */
  subjectsVersion: string
  /** Stream of ended actors (`name`, `reason`), capped: how watchers and joiners elsewhere learn of an end. */
  exits: string
}

/**
 * The shared keys of the actor system under `prefix`. The prefix is part of
 * their hash tags (`{troupe:actors}`, `{troupe:subjects}`): on a Cluster the
 * actor systems of different prefixes keep them on different slots.
 */
export function systemKeys(prefix = 'troupe'): SystemKeys {
  checkName(prefix, 'actor system prefix')
  const actors = `${prefix}:{${prefix}:actors}`
  const subjects = `${prefix}:{${prefix}:subjects}`
  return {
    registry: `${actors}:names`, registryVersion: `${actors}:names:v`,
    subjects: `${subjects}:subs`, subjectsVersion: `${subjects}:subs:v`,
    exits: `${actors}:exits`,
  }
}

/** The keys of node `node`'s inbox: replies to the asks it made (a queue's keys under `{inbox:<node>}`). */
export function inboxKeys(node: string, prefix = 'troupe'): QueueKeys {
  return queueKeys(`inbox:${node}`, prefix)
}
