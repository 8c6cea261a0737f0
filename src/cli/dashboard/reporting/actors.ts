import { hostname } from 'node:os'
import type { ActorRef, Supervisor } from '../../../actor/index.js'
import type { ActorNode, ActorsReport } from '../model.js'
import { startReporting, type Reporting, type ReportingOptions, type ReportTarget } from './report.js'

/**
 * What an actor or supervisor can say about itself when it offers a
 * `tree()` method: the richer hook the dashboard prefers (restart counts,
 * place, pid). Without it the dashboard walks `children` and `stats()`.
 */
export interface ActorTreeNode {
  name: string
  type?: string
  state?: ActorNode['state']
  mailbox?: number
  processed?: number
  restarts?: number
  place?: string
  pid?: number
  children?: ActorTreeNode[]
}

/** A root the reporter can describe: a Supervisor, an ActorRef, or anything with `tree()`. */
export type ActorRoot = Supervisor | ActorRef<any, any> | { tree(): ActorTreeNode }

let systems = 0

/** A function that describes the supervision trees under `roots` as the ActorsReport the dashboard shows. */
export function actorsReporter(roots: ActorRoot[], id = `actors-${++systems}@${hostname()}:${process.pid}`): () => ActorsReport {
  let seq = 0
  return () => ({
    kind: 'actors', id, host: hostname(), pid: process.pid, seq: ++seq,
    roots: roots.map((r) => describe(r, '')),
  })
}

/** Publish the supervision trees under `roots` to the dashboard about once a second until `stop()`. */
export function reportActors(roots: ActorRoot[], target: ReportTarget, options: ReportingOptions & { id?: string } = {}): Reporting {
  return startReporting(target, actorsReporter(roots, options.id), options)
}

function describe(root: ActorRoot, parent: string): ActorNode {
  if (typeof (root as { tree?: unknown }).tree === 'function') return fromTree((root as { tree(): ActorTreeNode }).tree(), parent)
  const r = root as (Supervisor | ActorRef<any, any>) & { children?: ActorRef<any, any>[] }
  const path = `${parent}/${r.name}`
  const stats = r.stats()
  const isSupervisor = Array.isArray(r.children)
  return {
    path,
    name: r.name,
    type: isSupervisor ? 'Supervisor' : undefined,
    state: r.isAlive ? 'running' : r.exitReason instanceof Error ? 'failed' : 'stopped',
    mailbox: stats?.queued ?? 0,
    processed: stats?.processed,
    // Restart counts need the tree() hook; the public API does not tell them.
    restarts: 0,
    children: isSupervisor ? r.children!.map((c) => describe(c, path)) : [],
  }
}

function fromTree(n: ActorTreeNode, parent: string): ActorNode {
  const path = `${parent}/${n.name}`
  return {
    path, name: n.name, type: n.type, state: n.state ?? 'running', mailbox: n.mailbox ?? 0, processed: n.processed,
    restarts: n.restarts ?? 0, place: n.place, pid: n.pid,
    children: (n.children ?? []).map((c) => fromTree(c, path)),
  }
}
