import type { PoolStat, QueueStat, WorkerStat } from '../../src/cli/dashboard/model.ts'
import { bytes, compact, duration, percent, rate } from './format.ts'

/** A horizontal bar for a fraction 0..1 with its label. */
function Meter({ value, label }: { value: number; label: string }) {
  const v = Math.max(0, Math.min(1, value))
  return (
    <span class="meter">
      <span class="meter-track"><span class="meter-fill" style={{ width: `${(v * 100).toFixed(1)}%` }} /></span>
      <span class="meter-label">{label}</span>
    </span>
  )
}

function Empty({ cols, children }: { cols: number; children: preact.ComponentChildren }) {
  return <tr class="empty"><td colSpan={cols}>{children}</td></tr>
}

/** Queues: depth (with a bar relative to the deepest), rates and running totals. */
export function QueuesTable({ queues }: { queues: QueueStat[] }) {
  const deepest = Math.max(1, ...queues.map((q) => q.depth))
  // Delayed and dead-letter columns only where a backend has them (Redis).
  const extra = queues.some((q) => q.delayed !== undefined || q.dead !== undefined)
  return (
    <table data-testid="queues">
      <thead><tr>
        <th>queue</th><th>backend</th><th class="wide">depth</th><th class="num">in</th><th class="num">out</th><th class="num">put</th><th class="num">taken</th>
        <th class="num" title="JoinableQueue: taken but not yet taskDone(); Redis: delivered but not yet acknowledged">pending</th>
        {extra && <><th class="num" title="put with a delay, not yet due">delayed</th><th class="num" title="ran out of retries">dead</th></>}
      </tr></thead>
      <tbody>
        {queues.length === 0 && <Empty cols={extra ? 10 : 8}>No queues yet. Queues served by the manager (or named with <code>--queue</code>) appear here.</Empty>}
        {queues.map((q) => (
          <tr key={`${q.backend}:${q.name}`} data-testid="queue-row" data-queue={q.name} data-depth={q.depth}>
            <td class="name">{q.name}</td>
            <td><span class={`tag ${q.backend}`}>{q.backend}</span></td>
            <td class="wide"><Meter value={q.depth / deepest} label={`${compact(q.depth)}${q.maxsize ? ` / ${compact(q.maxsize)}` : ''}`} /></td>
            <td class="num">{rate(q.inRate)}</td>
            <td class="num">{rate(q.outRate)}</td>
            <td class="num">{compact(q.put)}</td>
            <td class="num">{compact(q.got)}</td>
            <td class="num">{compact(q.pending)}</td>
            {extra && <><td class="num">{compact(q.delayed)}</td><td class={`num ${q.dead ? 'bad' : ''}`}>{compact(q.dead)}</td></>}
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Workers: who, where, doing what, and how busy. */
export function WorkersTable({ workers }: { workers: WorkerStat[] }) {
  return (
    <table data-testid="workers">
      <thead><tr><th>worker</th><th>host</th><th class="num">pid</th><th>state</th><th>current task</th><th class="num">done</th><th class="num">failed</th><th class="wide" title="share of the last interval spent running tasks">utilisation</th><th class="num" title="CPU of the worker's process, in cores">CPU</th><th class="num">memory</th></tr></thead>
      <tbody>
        {workers.length === 0 && <Empty cols={10}>No workers have reported yet. A worker appears here once it publishes reports (<code>startReporting</code>).</Empty>}
        {workers.map((w) => (
          <tr key={w.id} data-testid="worker-row" data-worker={w.id} data-state={w.state} class={w.state === 'exited' || w.state === 'lost' ? 'gone' : ''}>
            <td class="name">{w.id}{w.pool && <span class="sub"> in {w.pool}</span>}</td>
            <td>{w.host}</td>
            <td class="num">{w.pid}</td>
            <td><span class={`pill ${w.state}`} title={w.state === 'lost' ? `no report for ${duration(w.silentFor)}` : undefined}>{w.state}</span></td>
            <td class="task" title={w.task ?? ''}>{w.task ?? <span class="muted">–</span>}</td>
            <td class="num">{compact(w.done)}</td>
            <td class={`num ${w.failed ? 'bad' : ''}`}>{compact(w.failed)}</td>
            <td class="wide"><Meter value={w.utilisation} label={percent(w.utilisation)} /></td>
            <td class="num">{w.cpu === undefined ? '–' : w.cpu.toFixed(2)}</td>
            <td class="num">{w.state === 'exited' || w.state === 'lost' ? '–' : bytes(w.rssBytes)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Pools: size, load, backlog and crash restarts. */
export function PoolsTable({ pools }: { pools: PoolStat[] }) {
  return (
    <table data-testid="pools">
      <thead><tr><th>pool</th><th>kind</th><th class="mid">busy workers</th><th class="num">queued</th><th class="num">done</th><th class="num">failed</th><th class="num">restarts</th></tr></thead>
      <tbody>
        {pools.length === 0 && <Empty cols={7}>No pools are reporting.</Empty>}
        {pools.map((p) => (
          <tr key={p.id} data-testid="pool-row" class={p.lost || p.closed ? 'gone' : ''}>
            <td class="name">{p.id}<div class="sub">{p.host} · pid {p.pid}{p.closed ? ' · closed' : p.lost ? ' · lost' : ''}</div></td>
            <td>{p.workerKind ?? '–'}</td>
            <td class="mid"><Meter value={p.workers ? p.busy / p.workers : 0} label={`${p.busy} / ${p.workers}`} /></td>
            <td class="num">{compact(p.queued)}</td>
            <td class="num">{compact(p.done)}</td>
            <td class={`num ${p.failed ? 'bad' : ''}`}>{compact(p.failed)}</td>
            <td class={`num ${p.restarts ? 'warn' : ''}`}>{compact(p.restarts)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
