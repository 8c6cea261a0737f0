/**
 * What an operator can see and do to a queue from outside it (the
 * dashboard's actions): list dead letters and delayed items, put dead letters
 * back, purge waiting items, promote or drop delayed ones, seal. Works with
 * any ioredis client, so a dashboard needs no queue handle (and no consumer).
 */
import type { RedisClient } from './connect.js'
import { decodeV8 } from '../../codec/index.js'
import { queueKeys, type QueueKeys } from './keys.js'
import { parseEntry } from './consumer.js'
import * as scripts from './scripts.js'

/** A dead letter as stored, decoded only as far as a page needs. */
export interface DeadLetterInfo {
  /** Entry id in the dead-letter stream (what `retryDead`/`dropDead` take). */
  id: string
  /** The task id it ran under. */
  taskId: string
  /** Dead-lettered at (ms since the epoch, from the entry id). */
  at: number
  /** Why: `lease expired 4 times (consumer died or hung)`, a `fail(reason)`, `undecodable: …`. */
  reason: string
  /** Runs made. */
  attempts: number
  /** The item, decoded for display (never revived: troupe references stay plain data). */
  value: unknown
  /** The last error, when the item failed by throwing. */
  error?: { name: string; message: string; stack?: string }
}

/** A delayed item: its task id and when it is due. */
export interface DelayedInfo {
  /** The task id (what `promoteDelayed`/`dropDelayed` take). */
  taskId: string
  /** Due at (ms since the epoch, Redis's clock). */
  due: number
}

/** Items per script call when acting on a whole queue. */
const CHUNK = 500

/** Operator access to one queue's keys. */
export class QueueAdmin {
  /** The queue's Redis keys. */
  readonly keys: QueueKeys

  constructor(private readonly client: RedisClient, name: string, prefix = 'troupe', private readonly group = 'troupe') {
    this.keys = queueKeys(name, prefix)
  }

  /** The newest `count` dead letters, newest first. */
  async deadLetters(count = 50): Promise<DeadLetterInfo[]> {
    const rows = await this.client.callBuffer('XREVRANGE', this.keys.dead, '+', '-', 'COUNT', count) as [Buffer, Buffer[]][]
    return rows.map(([id, fields]) => {
      const e = parseEntry(id, fields)
      let error: DeadLetterInfo['error']
      for (let k = 2; k + 1 < fields.length; k += 2) {
        if (fields[k]!.toString() !== 'error') continue
        const w = preview(fields[k + 1]!) as { name?: unknown; message?: unknown; stack?: unknown } | undefined
        if (w && typeof w === 'object') error = { name: String(w.name ?? 'Error'), message: String(w.message ?? ''), ...(typeof w.stack === 'string' ? { stack: w.stack } : {}) }
      }
      return { id: e.id, taskId: e.taskId, at: Number(e.id.split('-')[0]), reason: e.reason ?? 'unknown', attempts: e.prior, value: preview(e.payload), ...(error ? { error } : {}) }
    })
  }

  /** The `count` delayed items due soonest. */
  async delayed(count = 50): Promise<DelayedInfo[]> {
    const reply = await this.client.call('ZRANGE', this.keys.delayed, 0, count - 1, 'WITHSCORES') as (string | [string, string])[]
    // RESP2 answers [member, score, ...]; RESP3 [[member, score], ...].
    const flat = reply.flat()
    const out: DelayedInfo[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ taskId: String(flat[i]), due: Number(flat[i + 1]) })
    return out
  }

  /** Put dead letters back on the queue with fresh attempts (the given entry ids, or all); resolves with how many. */
  async retryDead(ids?: string[]): Promise<number> {
    const k = this.keys
    return this.each(ids, (part, limit) => scripts.retryDead.run(this.client, [k.stream, k.dead, k.count], [limit, ...part]))
  }

  /** Delete dead letters (the given entry ids, or all). */
  async dropDead(ids?: string[]): Promise<number> {
    return this.each(ids, (part, limit) => scripts.dropDead.run(this.client, [this.keys.dead], [limit, ...part]))
  }

  /** Delete every waiting item (delivered ones stay with their consumers); resolves with how many. */
  async purge(): Promise<number> {
    return this.each(undefined, (_part, limit) => scripts.purge.run(this.client, [this.keys.stream, this.keys.count], [this.group, limit]))
  }

  /** Make delayed items (the given task ids, or all) due now. */
  async promoteDelayed(taskIds?: string[]): Promise<number> {
    return this.delayedAction('promote', taskIds)
  }

  /** Delete delayed items (the given task ids, or all). */
  async dropDelayed(taskIds?: string[]): Promise<number> {
    return this.delayedAction('drop', taskIds)
  }

  /** Seal the queue: no more items are expected; `for await` loops end once it is drained. */
  async seal(): Promise<void> {
    await this.client.call('HSET', this.keys.meta, 'sealed', '1')
  }

  private delayedAction(mode: 'promote' | 'drop', taskIds?: string[]): Promise<number> {
    const k = this.keys
    return this.each(taskIds, (part, limit) => scripts.delayedAction.run(this.client, [k.stream, k.delayed, k.delayedData, k.count], [mode, limit, ...part]))
  }

  /** Run `step` over `ids` in chunks, or over everything (`ids` undefined) until a step finds nothing. */
  private async each(ids: string[] | undefined, step: (part: string[], limit: number) => Promise<unknown>): Promise<number> {
    let n = 0
    if (ids) {
      for (let i = 0; i < ids.length; i += CHUNK) n += Number(await step(ids.slice(i, i + CHUNK), CHUNK))
      return n
    }
    for (;;) {
      const got = Number(await step([], CHUNK))
      n += got
      if (got < CHUNK) return n
    }
  }
}

/** An operator handle on queue `name`: `new QueueAdmin(client, name, prefix, group)`. */
export function queueAdmin(client: RedisClient, name: string, prefix?: string, group?: string): QueueAdmin {
  return new QueueAdmin(client, name, prefix, group)
}

/**
 * Decode a payload for display only: v8 (plain data; troupe references are
 * not revived), or JSON, or a note of its size.
 */
export function preview(bytes: Buffer): unknown {
  if (bytes.length === 0) return undefined
  try {
    // 0x01 marks a payload holding troupe references (see codec.ts); shown as the plain data it carries.
    if (bytes[0] === 0x01) return decodeV8(bytes.subarray(1))
    if (bytes[0] === 0xff) return decodeV8(bytes)
  } catch { /* not v8 after all */ }
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    return `<${bytes.length} bytes>`
  }
}
