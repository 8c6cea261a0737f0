import { useState } from 'preact/hooks'
import { queueKey, type PoolStat, type QueueAction, type QueueStat, type WorkerStat } from '../../src/cli/dashboard/model.ts'
import { Sparkline } from './chart.tsx'
import { age, bytes, compact, duration, percent, rate } from './format.ts'

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

/** A button that asks once more before it acts ("purge" -> "purge 12 items?"). */
export function Confirm({ label, question, onConfirm, testid, disabled }: { label: string; question: string; onConfirm: () => void; testid?: string; disabled?: boolean }) {
  const [asking, setAsking] = useState(false)
  if (!asking) return <button class="act" data-testid={testid} disabled={disabled} onClick={() => setAsking(true)}>{label}</button>
  return (
    <span class="confirm">
      <button class="act danger" data-testid={testid && `${testid}-confirm`} onClick={() => { setAsking(false); onConfirm() }}>{question}</button>
      <button class="act" onClick={() => setAsking(false)}>cancel</button>
    </span>
  )
}

/** Where a page filter points: the failures of one queue or one worker. */
export interface Filter { queue?: string; worker?: string }

/** Queues: depth with its recent history, rates, totals, what waits elsewhere (pending, delayed, dead), and actions. */
export function QueuesTable({ queues, history, failedByQueue, several, actions, act, onFilter }: {
  queues: QueueStat[]
  history: Record<string, (number | null)[]>
  failedByQueue: Map<string, number>
  several: boolean
  actions: boolean
  act: (a: QueueAction) => void
  onFilter: (f: Filter) => void
}) {
  const deepest = Math.max(1, ...queues.map((q) => q.depth))
  // Delayed and dead-letter columns only where a backend has them (Redis).
  const extra = queues.some((q) => q.delayed !== undefined || q.dead !== undefined)
  const cols = 9 + (extra ? 2 : 0) + (actions ? 1 : 0)
  return (
    <div class="scroll">
      <table data-testid="queues">
        <thead><tr>
          <th>queue</th><th class="wide">waiting</th><th class="spark-col" title="waiting items over the last minutes">trend</th>
          <th class="num" title="items put per second (hover for the total)">in</th><th class="num" title="items taken per second (hover for the total)">out</th>
          <th class="num opt" title="JoinableQueue: taken but not yet taskDone(); Redis: delivered but not yet acknowledged">pending</th>
          <th class="num opt" title="age of the oldest item not yet finished">oldest</th>
          <th class="num opt" title="Redis consumers; for manager queues, workers reporting that they take from it">readers</th>
          <th class="num" title="failures reported by the workers of this queue (click to list them)">failed</th>
          {extra && <><th class="num" title="put with a delay, not yet due">delayed</th><th class="num" title="ran out of retries">dead</th></>}
          {actions && <th>actions</th>}
        </tr></thead>
        <tbody>
          {queues.length === 0 && <Empty cols={cols}>No queues yet. Queues served by the manager (or named with <code>--queue</code>) appear here.</Empty>}
          {queues.map((q) => {
            const key = queueKey(q)
            const failed = failedByQueue.get(key) ?? 0
            return (
              <tr key={key} data-testid="queue-row" data-queue={q.name} data-depth={q.depth} data-role={q.role ?? 'queue'} class={q.stale ? 'gone' : ''}>
                <td class="name"><span class="qname">{q.name}</span><span class={`tag ${q.backend}`}>{q.backend}</span>{q.role === 'results' && <span class="tag results" title="workers put results here: not counted as queued">results</span>}{q.sealed && <span class="tag" title="no more puts are expected">sealed</span>}{several && q.source && <div class="sub">{q.source}</div>}</td>
                <td class="wide"><Meter value={q.depth / deepest} label={`${compact(q.depth)}${q.maxsize ? ` / ${compact(q.maxsize)}` : ''}`} /></td>
                <td class="spark-col"><Sparkline values={history[key] ?? []} /></td>
                <td class="num" title={q.put === undefined ? undefined : `${q.put.toLocaleString('en-US')} put in all`}>{rate(q.inRate)}</td>
                <td class="num" title={q.got === undefined ? undefined : `${q.got.toLocaleString('en-US')} taken in all`}>{rate(q.outRate)}</td>
                <td class="num opt">{compact(q.pending)}</td>
                <td class="num opt">{q.oldestAgeMs ? age(q.oldestAgeMs) : '–'}</td>
                <td class="num opt">{compact(q.consumers)}</td>
                <td class="num">{failed ? <button class="link bad" data-testid="queue-failed" onClick={() => onFilter({ queue: q.name })}>{compact(failed)}</button> : '0'}</td>
                {extra && <><td class="num">{compact(q.delayed)}</td><td class={`num ${q.dead ? 'bad' : ''}`} data-testid="queue-dead">{compact(q.dead)}</td></>}
                {actions && (
                  <td class="acts">
                    {q.source && !q.stale && <>
                      <Confirm label="purge" question={`purge ${compact(q.depth)}?`} testid="purge" disabled={q.depth === 0} onConfirm={() => act({ kind: 'purge', source: q.source!, queue: q.name })} />
                      {!q.sealed && <Confirm label={q.backend === 'redis' ? 'seal' : 'close'} question={q.backend === 'redis' ? 'seal it?' : 'close it?'} testid="seal" onConfirm={() => act({ kind: 'seal', source: q.source!, queue: q.name })} />}
                    </>}
                  </td>
                )}
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}

/** Workers: who, where, doing what, and how busy. */
export function WorkersTable({ workers, onFilter }: { workers: WorkerStat[]; onFilter: (f: Filter) => void }) {
  return (
    <div class="scroll">
      <table data-testid="workers">
        <thead><tr>
          <th>worker</th><th class="opt">host</th><th class="num opt">pid</th><th>queue</th><th>state</th><th>current task</th><th class="num">done</th><th class="num">failed</th>
          <th class="wide" title="share of the last interval spent running tasks">utilisation</th><th class="num opt" title="CPU of the worker's process, in cores">CPU</th><th class="num opt">memory</th>
        </tr></thead>
        <tbody>
          {workers.length === 0 && <Empty cols={11}>No workers have reported yet. <code>troupe worker</code> (manager or Redis) reports by itself; your own loop can with <code>startReporting</code>.</Empty>}
          {workers.map((w) => (
            <tr key={w.id} data-testid="worker-row" data-worker={w.id} data-state={w.state} data-done={w.done} data-failed={w.failed} class={w.state === 'exited' || w.state === 'lost' ? 'gone' : ''}>
              <td class="name">{w.id}{w.pool && <span class="sub"> in {w.pool}</span>}</td>
              <td class="opt">{w.host}</td>
              <td class="num opt">{w.pid}</td>
              <td>{w.queue ?? <span class="muted">–</span>}{w.backend && <span class={`tag ${w.backend}`}>{w.backend}</span>}</td>
              <td><span class={`pill ${w.state}`} title={w.state === 'lost' ? `no report for ${duration(w.silentFor)}` : undefined}>{w.state}</span></td>
              <td class="task" title={w.task ?? ''} data-testid="worker-task">{w.task ?? <span class="muted">–</span>}</td>
              <td class="num">{compact(w.done)}</td>
              <td class="num">{w.failed ? <button class="link bad" data-testid="worker-failed" onClick={() => onFilter({ worker: w.id })}>{compact(w.failed)}</button> : '0'}</td>
              <td class="wide"><Meter value={w.utilisation} label={percent(w.utilisation)} /></td>
              <td class="num opt">{w.cpu === undefined ? '–' : w.cpu.toFixed(2)}</td>
              <td class="num opt">{w.state === 'exited' || w.state === 'lost' ? '–' : bytes(w.rssBytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** Pools: size, load, backlog and crash restarts; a lost pool's load is unknown, not full. */
export function PoolsTable({ pools }: { pools: PoolStat[] }) {
  return (
    <div class="scroll">
      <table data-testid="pools">
        <thead><tr><th>pool</th><th>kind</th><th class="mid">busy workers</th><th class="num">queued</th><th class="num">done</th><th class="num">failed</th><th class="num">restarts</th></tr></thead>
        <tbody>
          {pools.length === 0 && <Empty cols={7}>No pools are reporting.</Empty>}
          {pools.map((p) => {
            const gone = p.lost || p.closed
            return (
              <tr key={p.id} data-testid="pool-row" data-pool={p.id} data-state={p.closed ? 'closed' : p.lost ? 'lost' : 'live'} class={gone ? 'gone' : ''}>
                <td class="name">{p.id}<div class="sub">{p.host} · pid {p.pid}{p.closed ? ' · closed' : p.lost ? ' · lost' : ''}</div></td>
                <td>{p.workerKind ?? '–'}</td>
                <td class="mid">{gone ? <span class={`pill ${p.closed ? 'exited' : 'lost'}`}>{p.closed ? 'closed' : 'lost: load unknown'}</span> : <Meter value={p.workers ? p.busy / p.workers : 0} label={`${p.busy} / ${p.workers}`} />}</td>
                <td class="num">{gone ? '–' : compact(p.queued)}</td>
                <td class="num">{compact(p.done)}</td>
                <td class={`num ${p.failed ? 'bad' : ''}`}>{compact(p.failed)}</td>
                <td class={`num ${p.restarts ? 'warn' : ''}`}>{compact(p.restarts)}</td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
