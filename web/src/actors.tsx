import type { ActorNode, ActorSystemStat } from '../../src/cli/dashboard/model.ts'
import { compact } from './format.ts'

function Node({ node }: { node: ActorNode }) {
  return (
    <li data-testid="actor-node" data-path={node.path}>
      <div class="actor">
        <span class={`dot ${node.state}`} title={node.state} />
        <span class="name">{node.name}</span>
        {node.type && <span class="sub">{node.type}</span>}
        {node.place && <span class="tag">{node.place}{node.pid ? ` ${node.pid}` : ''}</span>}
        <span class="spacer" />
        <span class={`stat ${node.mailbox > 0 ? 'busy' : ''}`} title="messages waiting">✉ {compact(node.mailbox)}</span>
        {node.processed !== undefined && <span class="stat" title="messages handled">✓ {compact(node.processed)}</span>}
        <span class={`stat ${node.restarts ? 'warn' : ''}`} title="restarts">↻ {compact(node.restarts)}</span>
      </div>
      {node.children.length > 0 && <ul>{node.children.map((c) => <Node key={c.path} node={c} />)}</ul>}
    </li>
  )
}

/** Each actor system as its supervision tree: supervisors above the actors they restart. */
export function ActorTrees({ systems }: { systems: ActorSystemStat[] }) {
  if (systems.length === 0) return <p class="empty-block">No actor systems are reporting.</p>
  return (
    <div class="trees" data-testid="actors">
      {systems.map((s) => (
        <div key={s.id} class={`tree ${s.lost ? 'gone' : ''}`}>
          <div class="tree-head"><span class="name">{s.id}</span><span class="sub">{s.host} · pid {s.pid}{s.lost ? ' · lost' : ''}</span></div>
          <ul class="root">{s.roots.map((n) => <Node key={n.path} node={n} />)}</ul>
        </div>
      ))}
    </div>
  )
}
