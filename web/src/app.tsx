import { useEffect, useState } from 'preact/hooks'
import type { Snapshot, SourceStat } from '../../src/cli/dashboard/model.ts'
import { useActions } from './actions.ts'
import { ActorTrees } from './actors.tsx'
import { ThroughputChart } from './chart.tsx'
import { DeadLettersPanel, DelayedPanel, FailuresPanel } from './failures.tsx'
import { ago, clock, compact, millis } from './format.ts'
import { pageToken, useDashboard } from './stream.ts'
import { PoolsTable, QueuesTable, WorkersTable, type Filter } from './tables.tsx'

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
  const t = snap.totals
  const backlogQueues = snap.queues.filter((q) => q.role !== 'results').length
  const failed = t.failed + t.poolFailed
  return (
    <section class="cards">
      <Card label="queued" value={t.depth === null ? '–' : compact(t.depth)} testid="total-depth"
        note={t.depth === null ? 'unknown: a source is not answering' : `in ${backlogQueues} queue${backlogQueues === 1 ? '' : 's'}${t.results ? ` · ${compact(t.results)} results waiting` : ''}`} />
      <Card label="tasks done" value={compact(t.done)} testid="total-done" note={`${snap.point.tasks === null ? '–' : compact(snap.point.tasks)}/s by workers now`} />
      {(t.poolDone > 0 || snap.pools.length > 0) && <Card label="pool tasks" value={compact(t.poolDone)} testid="pool-done" note={`${snap.point.poolTasks === null ? '–' : compact(snap.point.poolTasks)}/s now`} />}
      <Card label="failed" value={compact(failed)} tone={failed ? 'bad' : ''} testid="total-failed" note={snap.deadLetters.length ? `${compact(snap.queues.reduce((s, q) => s + (q.dead ?? 0), 0))} dead letters` : undefined} />
      <Card label="task time p50" value={snap.taskTime ? millis(snap.taskTime.p50) : '–'} testid="task-time"
        note={snap.taskTime ? `p99 ${millis(snap.taskTime.p99)} of ${compact(snap.taskTime.samples)} in the last minute` : 'no task finished in the last minute'} />
      <Card label="workers" value={`${busy} / ${live.length}`} note={`busy${poolWorkers ? ` · ${poolWorkers} in pools` : ''}`} testid="workers-card" />
      <Card label="actors" value={compact(actors)} note={`${snap.actors.length} system${snap.actors.length === 1 ? '' : 's'}`} />
      <Card label="restarts" value={compact(t.restarts)} tone={t.restarts ? 'warn' : ''} />
    </section>
  )
}

function count(nodes: { children: any[] }[]): number {
  return nodes.reduce((s, n) => s + 1 + count(n.children), 0)
}

/** What the page says about a source that does not answer, by kind of trouble. */
function troubleText(s: SourceStat): string {
  const since = s.since ? ` (since ${clock(s.since)}, ${ago(s.since)})` : ''
  switch (s.trouble) {
    case 'auth': return `${s.name} refused the dashboard's authkey${since}: give the dashboard the same --authkey as the manager. ${s.error ?? ''}`
    case 'unreachable': return `${s.name} is not reachable${since}: is it running? Its queues show their last numbers, greyed. ${s.error ?? ''}`
    case 'timeout': return `${s.name} did not answer in time${since}; its queues show their last numbers, greyed.`
    default: return `${s.name} is not answering${since}: ${s.error ?? 'no answer'}`
  }
}

/** The whole page. */
export function App() {
  const state = useDashboard()
  const { act, notice, busy } = useActions()
  const [filter, setFilter] = useState<Filter>({})
  const snap = state.snapshot
  const token = pageToken()
  const depth = snap?.totals.depth
  // The tab title carries the backlog (results queues left out), so a background tab still says whether work is piling up.
  useEffect(() => { document.title = depth === undefined || depth === null ? 'troupe dashboard' : `(${compact(depth)}) troupe dashboard` }, [depth])
  const down = snap?.sources.filter((s) => !s.ok) ?? []
  const status = state.status !== 'live' ? state.status : down.length ? 'degraded' : 'live'
  const showFailures = (f: Filter) => {
    setFilter(f)
    requestAnimationFrame(() => document.getElementById('failures')?.scrollIntoView({ behavior: 'smooth', block: 'start' }))
  }
  const failedByQueue = new Map<string, number>()
  for (const w of snap?.workers ?? []) if (w.queue && !w.pool) failedByQueue.set(`${w.source ?? ''}|${w.queue}`, (failedByQueue.get(`${w.source ?? ''}|${w.queue}`) ?? 0) + w.failed)
  return (
    <>
      <header>
        <div class="brand"><span class="mark">◆</span> troupe <span class="sub">dashboard</span></div>
        <div class="sources">
          {snap?.sources.map((s) => (
            <span key={s.name} class={`source ${s.ok ? 'ok' : 'down'}`} title={s.error ?? 'answering'} data-testid="source" data-trouble={s.trouble ?? ''}>
              {s.name}{!s.ok && <b> · {s.trouble === 'auth' ? 'authkey refused' : s.trouble === 'unreachable' ? 'unreachable' : 'not answering'}</b>}
            </span>
          ))}
        </div>
        <div class={`status ${status}`} data-testid="status" data-status={status}>
          <span class="dot" />{status === 'degraded' ? `live · ${down.length} source${down.length === 1 ? '' : 's'} down` : status}
          {snap && <span class="sub"> · {clock(snap.t)}</span>}
        </div>
      </header>
      {state.status !== 'live' && snap && <div class="banner" data-testid="banner">Lost the connection to the dashboard server; reconnecting… (showing the last state)</div>}
      {down.map((s) => <div key={s.name} class={`banner ${s.trouble ?? ''}`} data-testid="banner" data-trouble={s.trouble ?? ''}>{troubleText(s)}</div>)}
      {notice && <div class={`notice ${notice.ok ? 'ok' : 'bad'}`} data-testid="notice" data-ok={String(notice.ok)}>{notice.ok ? '✓' : '✗'} {notice.text}</div>}
      <main class={state.status === 'live' ? '' : 'stale'} data-busy={String(busy)}>
        {!snap ? <p class="empty-block">Connecting to the dashboard server…</p> : (
          <>
            <Cards snap={snap} />
            <section class="panel">
              <h2>Throughput</h2>
              <ThroughputChart points={state.history} queueRates={snap.queues.some((q) => q.put !== undefined || q.got !== undefined)} pools={snap.pools.length > 0 || snap.totals.poolDone > 0} intervalMs={state.intervalMs} />
            </section>
            <section class="panel">
              <h2>Queues</h2>
              <QueuesTable queues={snap.queues} history={state.queueHistory} failedByQueue={failedByQueue} several={snap.sources.length > 1}
                actions={snap.actions} act={(a) => void act(a)} onFilter={showFailures} />
            </section>
            <section class="panel">
              <h2>Workers</h2>
              <WorkersTable workers={snap.workers} onFilter={showFailures} />
            </section>
            <FailuresPanel failures={snap.failures} filter={filter} onFilter={setFilter} />
            {(snap.deadLetters.length > 0 || snap.queues.some((q) => q.backend === 'redis')) && <DeadLettersPanel letters={snap.deadLetters} actions={snap.actions} act={(a) => void act(a)} />}
            <DelayedPanel items={snap.delayed} actions={snap.actions} act={(a) => void act(a)} />
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
        troupe {state.version} · sampled every {state.intervalMs / 1000}s · {snap?.actions ? 'actions allowed' : 'read-only'} ·{' '}
        <a href={`metrics${token ? `?token=${encodeURIComponent(token)}` : ''}`}>Prometheus metrics</a>
      </footer>
    </>
  )
}
