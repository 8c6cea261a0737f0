import { ManagerClient } from '../../manager/index.js'
import { parseAddress, type AddressLike } from '../../net/index.js'
import { ConnectionClosedError, UnknownMethodError } from '../../errors.js'
import { ActionRefused, type Source, type SourceSample } from './collector.js'
import type { ActionResult, QueueAction, QueueStat, Report } from './model.js'
import { REPORTS_TYPEID } from './reporting/index.js'

/** Which manager to watch. */
export interface ManagerSourceOptions {
  address: AddressLike
  authkey: string | Uint8Array
  /**
   * Typeids of queues to show even before any client has asked for them
   * (Python-style `register('tasks', callable=...)` queues). The dashboard
   * creates each once, as a client would; anonymous queues created with
   * `manager.Queue()` are found by themselves.
   */
  queues?: string[]
}

/** What a queue's optional `stats()` method answers (see the request in docs/dashboard.md). */
interface QueueStats {
  qsize: number
  maxsize?: number
  put?: number
  got?: number
  unfinished?: number
  closed?: boolean
  oldestAgeMs?: number
}

interface Known {
  typeid: string
  kind: 'queue' | 'reports' | 'other'
  exposed: readonly string[]
}

// Typeids whose objects are anonymous (one per `create`): shown as `Queue#<ident>`.
const anonymous = new Set(['Queue', 'JoinableQueue'])

/**
 * Samples a manager server over its own protocol: `debugInfo` lists the live
 * objects, `getMethods` tells which are queues, and each queue answers
 * `stats()` (running put/get totals) or at least `qsize()`. Reports of workers
 * come from the `troupe.reports` object when the manager serves that typeid.
 */
export function managerSource(options: ManagerSourceOptions): Source {
  const address = parseAddress(options.address)
  const known = new Map<string, Known>()
  const held: unknown[] = []
  let client: ManagerClient | undefined
  let connecting: Promise<ManagerClient> | undefined
  let createdNamed = false

  async function connection(): Promise<ManagerClient> {
    if (client) return client
    connecting ??= ManagerClient.open({ address, authkey: options.authkey }).then((c) => {
      client = c
      return c
    }).finally(() => { connecting = undefined })
    return connecting
  }

  function reset(): void {
    client?.close()
    client = undefined
    known.clear()
    held.length = 0
    createdNamed = false
  }

  async function sample(): Promise<SourceSample> {
    const c = await connection()
    try {
      if (!createdNamed) {
        const typeids = (await c.call('', 'typeids', [])) as string[]
        const missing = (options.queues ?? []).filter((q) => !typeids.includes(q))
        // Said on every sample (the header shows it) until the manager serves them, e.g. after a restart with other flags.
        if (missing.length) throw new UnknownMethodError(`the manager at ${c.label} serves no typeid ${missing.map((q) => `'${q}'`).join(', ')} (it serves: ${typeids.join(', ')})`)
        // Holding the proxies keeps the objects alive and listed while the dashboard runs.
        for (const q of options.queues ?? []) held.push(await c.call('', 'create', [q]))
        if (typeids.includes(REPORTS_TYPEID)) held.push(await c.call('', 'create', [REPORTS_TYPEID]))
        createdNamed = true
      }
      const objects = (await c.call('', 'debugInfo', [])) as { ident: string; typeid: string }[]
      const live = new Set(objects.map((o) => o.ident))
      for (const ident of known.keys()) if (!live.has(ident)) known.delete(ident)
      await Promise.all(objects.filter((o) => !known.has(o.ident)).map(async (o) => {
        const exposed = (await c.call('', 'getMethods', [o.ident]).catch(() => [])) as string[]
        const kind = o.typeid === REPORTS_TYPEID ? 'reports' : exposed.includes('qsize') ? 'queue' : 'other'
        known.set(o.ident, { typeid: o.typeid, kind, exposed })
      }))

      const queues: QueueStat[] = []
      const seen = new Set<string>()
      await Promise.all([...known].filter(([, k]) => k.kind === 'queue').map(async ([ident, k]) => {
        const name = anonymous.has(k.typeid) ? `${k.typeid}#${ident}` : k.typeid
        if (seen.has(name)) return
        seen.add(name)
        try {
          queues.push(await queueStat(c, ident, name, k))
        } catch (err) {
          if (err instanceof UnknownMethodError) known.delete(ident) // released between listing and asking
          else throw err
        }
      }))

      let reports: Report[] = []
      const board = [...known].find(([, k]) => k.kind === 'reports')
      if (board) {
        reports = (await c.call(board[0], 'all', [])) as Report[]
      }
      return { queues, reports }
    } catch (err) {
      // A dropped connection is reopened on the next sample.
      if (err instanceof ConnectionClosedError) reset()
      throw err
    }
  }

  /** Purge or close a served queue (what the page's buttons do). Dead letters and delayed items are Redis's. */
  async function act(action: QueueAction): Promise<ActionResult> {
    const c = await connection()
    const entry = [...known].find(([ident, k]) => k.kind === 'queue' && (anonymous.has(k.typeid) ? `${k.typeid}#${ident}` : k.typeid) === action.queue)
    if (!entry) throw new ActionRefused(404, `the manager at ${c.label} has no queue '${action.queue}' (that the dashboard has seen)`)
    const [ident, k] = entry
    if (action.kind === 'purge') {
      if (!k.exposed.includes('purge')) throw new ActionRefused(400, `queue '${action.queue}' cannot be purged (its server has no purge(): an older troupe?)`)
      const n = (await c.call(ident, 'purge', [])) as number
      return { ok: true, count: n, message: `purged ${n} waiting item${n === 1 ? '' : 's'} from '${action.queue}'` }
    }
    if (action.kind === 'seal') {
      await c.call(ident, 'close', [])
      return { ok: true, message: `closed '${action.queue}': puts are refused, gets drain what is left` }
    }
    throw new ActionRefused(400, `manager queues have no dead letters or delayed items ('${action.kind}' is for Redis queues)`)
  }

  return {
    name: `manager ${typeof options.address === 'string' ? options.address : JSON.stringify(options.address)}`,
    sample,
    act,
    async close() {
      reset()
    },
  }
}

async function queueStat(c: ManagerClient, ident: string, name: string, k: Known): Promise<QueueStat> {
  if (k.exposed.includes('stats')) {
    const s = (await c.call(ident, 'stats', [])) as QueueStats
    return {
      name, backend: 'manager', depth: s.qsize, put: s.put, got: s.got, unfinished: s.unfinished, pending: inProgress(s.unfinished, s.qsize), maxsize: s.maxsize,
      ...(s.oldestAgeMs !== undefined ? { oldestAgeMs: s.oldestAgeMs } : {}), ...(s.closed !== undefined ? { sealed: s.closed } : {}),
    }
  }
  const [depth, unfinished] = await Promise.all([
    c.call(ident, 'qsize', []) as Promise<number>,
    k.exposed.includes('unfinishedTasks') ? c.call(ident, 'unfinishedTasks', []) as Promise<number> : undefined,
  ])
  return { name, backend: 'manager', depth, unfinished, pending: inProgress(unfinished, depth) }
}

/** A JoinableQueue's unfinished count includes items still waiting; what is in progress is the rest. */
function inProgress(unfinished: number | undefined, depth: number): number | undefined {
  return unfinished === undefined ? undefined : Math.max(0, unfinished - depth)
}
