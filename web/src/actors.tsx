import type { ActorNode, ActorSystemStat } from '../../src/cli/dashboard/model.ts'
import { compact } from './format.ts'

function Node({ node, lost }: { node: ActorNode; lost: boolean }) {
  // A system that stopped reporting: its actors' states are unknown now, not 'running'.
  const state = lost ? 'unknown' : node.state
  return (
    <li data-testid="actor-node" data-path={node.path} data-state={state}>
      <div class="actor">
        <span class={`dot ${state}`} title={lost ? `unknown (last reported ${node.state})` : node.state} />
        <span class="name">{node.name}</span>
        {node.type && <span class="sub">{node.type}</span>}
        {node.place && <span class="tag">{node.place}{node.pid ? ` ${node.pid}` : ''}</span>}
        <span class="spacer" />
        <span class={`stat ${node.mailbox > 0 ? 'busy' : ''}`} title="messages waiting" data-testid="actor-mailbox">✉ {compact(node.mailbox)}</span>
        {node.processed !== undefined && <span class="stat" title="messages handled" data-testid="actor-processed">✓ {compact(node.processed)}</span>}
        <span class={`stat ${node.restarts ? 'warn' : ''}`} title="restarts">↻ {compact(node.restarts)}</span>
      </div>
      {node.children.length > 0 && <ul>{node.children.map((c) => <Node key={c.path} node={c} lost={lost} />)}</ul>}
    </li>
  )
}

/** Each actor system as its supervision tree: supervisors above the actors they restart. */
export function ActorTrees({ systems }: { systems: ActorSystemStat[] }) {
  if (systems.length === 0) return <p class="empty-block">No actor systems are reporting.</p>
  return (
    <div class="trees" data-testid="actors">
      {systems.map((s) => (
        <div key={s.id} class={`tree ${s.lost ? 'gone' : ''}`} data-testid="actor-system" data-lost={String(s.lost)}>
          <div class="tree-head"><span class="name">{s.id}</span><span class="sub">{s.host} · pid {s.pid}{s.lost ? ' · lost: no report, states unknown' : ''}</span></div>
          <ul class="root">{s.roots.map((n) => <Node key={n.path} node={n} lost={s.lost} />)}</ul>
        </div>
      ))}
    </div>
  )
}
