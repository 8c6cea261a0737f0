import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { threadId } from 'node:worker_threads'

/** Task ids: a random per-process prefix and a counter, so ids are unique without asking Redis. */
export function idMaker(): () => string {
  const prefix = randomBytes(6).toString('base64url')
  let seq = 0
  return () => `${prefix}.${(seq++).toString(36)}`
}

/** A consumer name that says where it runs: `host:pid:thread:random`. */
export function consumerName(): string {
  return `${hostname()}:${process.pid}:${threadId}:${randomBytes(3).toString('hex')}`
}

/** The Redis used when none is given: `TROUPE_REDIS`, else `REDIS_URL`, else the local default. */
export function defaultRedis(): string {
  return process.env.TROUPE_REDIS ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
}
