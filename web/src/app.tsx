import { useEffect } from 'preact/hooks'
import type { Snapshot } from '../../src/cli/dashboard/model.ts'
import { ActorTrees } from './actors.tsx'
import { ThroughputChart } from './chart.tsx'
import { clock, compact, millis } from './format.ts'
import { useDashboard } from './stream.ts'
import { PoolsTable, QueuesTable, WorkersTable } from './tables.tsx'

function Card({ label, value, note, tone, testid }: { label: string; value: string; note?: string; tone?: string; testid?: string }) {
  return (
    <div class={`card ${tone ?? ''}`} data-testid={testid}>
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {note && <div class="card-note">{note}</div>}
    </div>
  )
}

function Cards({ snap }: { snap: Snapshot }) {
  const live = snap.workers.filter((w) => w.state !== 'exited' && w.state !== 'lost')
  const busy = live.filter((w) => w.state === 'busy').length
  const poolWorkers = snap.pools.filter((p) => !p.lost && !p.closed).reduce((s, p) => s + p.workers, 0)
  const actors = snap.actors.reduce((s, a) => s + count(a.roots), 0)
  return (
    <section class="cards">
      <Card label="queued" value={compact(snap.totals.depth)} note={`in ${snap.queues.length} queue${snap.queues.length === 1 ? '' : 's'}`} testid="total-depth" />
      <Card label="tasks done" value={compact(snap.totals.done)} note={`${compact(snap.point.tasks)}/s now`} testid="total-done" />
      <Card label="failed" value={compact(snap.totals.failed)} tone={snap.totals.failed ? 'bad' : ''} />
      <Card label="task time p50" value={snap.taskTime ? millis(snap.taskTime.p50) : '–'} note={snap.taskTime ? `p99 ${millis(snap.taskTime.p99)} of ${compact(snap.taskTime.samples)}` : 'no timed tasks yet'} testid="task-time" />
      <Card label="workers" value={`${busy} / ${live.length}`} note={`busy${poolWorkers ? ` · ${poolWorkers} in pools` : ''}`} />
      <Card label="actors" value={compact(actors)} note={`${snap.actors.length} system${snap.actors.length === 1 ? '' : 's'}`} />
      <Card label="restarts" value={compact(snap.totals.restarts)} tone={snap.totals.restarts ? 'warn' : ''} />
    </section>
  )
}

function count(nodes: { children: any[] }[]): number {
  return nodes.reduce((s, n) => s + 1 + count(n.children), 0)
}

/** The whole page. */
export function App() {
  const state = useDashboard()
  const snap = state.snapshot
  const token = new URLSearchParams(location.search).get('token')
  const depth = snap?.totals.depth
  // The tab title carries the backlog, so a background tab still says whether work is piling up.
  useEffect(() => { document.title = depth === undefined ? 'troupe dashboard' : `(${compact(depth)}) troupe dashboard` }, [depth])
  const down = snap?.sources.filter((s) => !s.ok) ?? []
  return (
    <>
      <header>
        <div class="brand"><span class="mark">◆</span> troupe <span class="sub">dashboard</span></div>
        <div class="sources">
          {snap?.sources.map((s) => (
            <span key={s.name} class={`source ${s.ok ? 'ok' : 'down'}`} title={s.error ?? 'answering'}>{s.name}</span>
          ))}
        </div>
        <div class={`status ${state.status}`} data-testid="status">
          <span class="dot" />{state.status === 'live' ? 'live' : state.status}
          {snap && <span class="sub"> · {clock(snap.t)}</span>}
        </div>
      </header>
      {state.status !== 'live' && snap && <div class="banner" data-testid="banner">Lost the connection to the dashboard server; reconnecting… (showing the last state)</div>}
      {down.map((s) => <div key={s.name} class="banner" data-testid="banner">{s.name} is not answering ({s.error ?? 'no answer'}); its queues are hidden until it answers again.</div>)}
      <main class={state.status === 'live' ? '' : 'stale'}>
        {!snap ? <p class="empty-block">Connecting to the dashboard server…</p> : (
          <>
            <Cards snap={snap} />
            <section class="panel">
              <h2>Throughput</h2>
              <ThroughputChart points={state.history} queueRates={snap.queues.some((q) => q.put !== undefined || q.got !== undefined)} intervalMs={state.intervalMs} />
            </section>
            <section class="panel">
              <h2>Queues</h2>
              <QueuesTable queues={snap.queues} />
            </section>
            <section class="panel">
              <h2>Workers</h2>
              <WorkersTable workers={snap.workers} />
            </section>
            <div class="columns">
              <section class="panel">
                <h2>Pools</h2>
                <PoolsTable pools={snap.pools} />
              </section>
              <section class="panel">
                <h2>Actors</h2>
                <ActorTrees systems={snap.actors} />
              </section>
            </div>
          </>
        )}
      </main>
      <footer>
        troupe {state.version} · sampled every {state.intervalMs / 1000}s · read-only ·{' '}
        <a href={`metrics${token ? `?token=${encodeURIComponent(token)}` : ''}`}>Prometheus metrics</a>
      </footer>
    </>
  )
}
