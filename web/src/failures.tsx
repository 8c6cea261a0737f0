import { Fragment } from 'preact'
import { useState } from 'preact/hooks'
import type { DeadLetterStat, DelayedStat, QueueAction, TaskFailure } from '../../src/cli/dashboard/model.ts'
import { clock, compact } from './format.ts'
import { Confirm, type Filter } from './tables.tsx'

/** One failure: a line with what failed and why; its stack (and the rest) when opened. */
function FailureRow({ f }: { f: TaskFailure }) {
  const [open, setOpen] = useState(false)
  return (
    <Fragment>
      <tr data-testid="failure-row" data-worker={f.worker} data-queue={f.queue ?? ''} class={`clickable ${open ? 'open' : ''}`} onClick={() => setOpen(!open)} title="show the stack">
        <td class="num time">{clock(f.at)}</td>
        <td class="task" title={f.task}>{f.task}</td>
        <td class="err"><div class="clamp"><b>{f.error.name}</b>: {f.error.message}</div></td>
        <td class="opt">{f.queue ?? '–'}</td>
        <td class="opt worker-cell" title={f.worker}>{f.worker}</td>
        <td class="num">{f.attempt ?? '–'}</td>
      </tr>
      {open && (
        <tr class="detail" data-testid="failure-detail">
          <td colSpan={6}>
            <div class="facts">
              <span>worker <b>{f.worker}</b></span>{f.queue && <span>queue <b>{f.queue}</b></span>}
              {f.attempt !== undefined && <span>attempt <b>{f.attempt}</b></span>}<span>at <b>{new Date(f.at).toISOString()}</b></span>
              {f.error.code && <span>code <b>{f.error.code}</b></span>}
            </div>
            <pre class="stack" data-testid="failure-stack">{f.error.stack ?? `${f.error.name}: ${f.error.message}\n(no stack was reported)`}</pre>
          </td>
        </tr>
      )}
    </Fragment>
  )
}

/** Failures listed before "show all". */
const FIRST = 15

/** The most recent task failures, by queue or by worker; a row opens to its stack. */
export function FailuresPanel({ failures, filter, onFilter }: { failures: TaskFailure[]; filter: Filter; onFilter: (f: Filter) => void }) {
  const [all, setAll] = useState(false)
  const matching = failures.filter((f) => (!filter.queue || f.queue === filter.queue) && (!filter.worker || f.worker === filter.worker))
  const shown = all ? matching : matching.slice(0, FIRST)
  const queues = [...new Set(failures.map((f) => f.queue).filter((q): q is string => !!q))].sort()
  const workers = [...new Set(failures.map((f) => f.worker).filter((w): w is string => !!w))].sort()
  return (
    <section class="panel" id="failures" data-testid="failures">
      <h2>Recent failures <span class="sub">{failures.length ? `${compact(matching.length)} of the last ${compact(failures.length)}` : ''}</span></h2>
      {failures.length > 0 && (
        <div class="filters">
          <label>queue <select data-testid="filter-queue" value={filter.queue ?? ''} onChange={(e) => onFilter({ ...filter, queue: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">all</option>{queues.map((q) => <option key={q} value={q}>{q}</option>)}
          </select></label>
          <label>worker <select data-testid="filter-worker" value={filter.worker ?? ''} onChange={(e) => onFilter({ ...filter, worker: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">all</option>{workers.map((w) => <option key={w} value={w}>{w}</option>)}
          </select></label>
          {(filter.queue || filter.worker) && <button class="act" onClick={() => onFilter({})}>show all</button>}
        </div>
      )}
      {failures.length === 0 ? <p class="empty-block">No task has failed (workers report their last failures, with the error and its stack).</p> : (
        <div class="scroll">
          <table>
            <thead><tr><th class="num">time</th><th>task</th><th>error</th><th class="opt">queue</th><th class="opt">worker</th><th class="num" title="1 the first run; more after redeliveries or retries">attempt</th></tr></thead>
            <tbody>{shown.map((f) => <FailureRow key={`${f.worker}#${f.n}`} f={f} />)}</tbody>
          </table>
          {matching.length > shown.length && <button class="act more" onClick={() => setAll(true)}>show all {matching.length}</button>}
        </div>
      )}
    </section>
  )
}

/** Dead letters of the Redis queues: what ran out of retries and why; with actions, put back or deleted. */
export function DeadLettersPanel({ letters, actions, act }: { letters: DeadLetterStat[]; actions: boolean; act: (a: QueueAction) => void }) {
  const [open, setOpen] = useState<string>()
  const byQueue = new Map<string, DeadLetterStat[]>()
  for (const d of letters) byQueue.set(`${d.source ?? ''}|${d.queue}`, [...(byQueue.get(`${d.source ?? ''}|${d.queue}`) ?? []), d])
  return (
    <section class="panel" data-testid="dead-letters">
      <h2>Dead letters <span class="sub">tasks that ran out of retries</span></h2>
      {letters.length === 0 ? <p class="empty-block">No dead letters.</p> : [...byQueue].map(([key, rows]) => {
        const { source, queue } = rows[0]!
        return (
          <div key={key} class="group">
            <div class="group-head"><b>{queue}</b><span class="sub">{source}</span>
              {actions && source && <span class="acts">
                <Confirm label="retry all" question={`retry all of '${queue}'?`} testid="retry-all" onConfirm={() => act({ kind: 'retry-dead', source, queue })} />
                <Confirm label="drop all" question={`delete all of '${queue}'?`} testid="drop-all" onConfirm={() => act({ kind: 'drop-dead', source, queue })} />
              </span>}
            </div>
            <div class="scroll">
              <table>
                <thead><tr><th class="num">time</th><th>task</th><th>reason</th><th class="num">runs</th>{actions && <th>actions</th>}</tr></thead>
                <tbody>
                  {rows.map((d) => (
                    <Fragment key={d.id}>
                      <tr data-testid="dead-row" data-task={d.taskId} class="clickable" onClick={() => setOpen(open === d.id ? undefined : d.id)}>
                        <td class="num time">{clock(d.at)}</td>
                        <td class="task" title={`${d.taskId}: ${d.task}`}>{d.task}</td>
                        <td class="err" data-testid="dead-reason">{d.reason}</td>
                        <td class="num">{d.attempts}</td>
                        {actions && source && <td class="acts" onClick={(e) => e.stopPropagation()}>
                          <button class="act" data-testid="retry-dead" onClick={() => act({ kind: 'retry-dead', source, queue, ids: [d.id] })}>retry</button>
                          <Confirm label="drop" question="delete it?" testid="drop-dead" onConfirm={() => act({ kind: 'drop-dead', source, queue, ids: [d.id] })} />
                        </td>}
                      </tr>
                      {open === d.id && (
                        <tr class="detail"><td colSpan={actions ? 5 : 4}>
                          <div class="facts"><span>task id <b>{d.taskId}</b></span><span>dead-lettered <b>{new Date(d.at).toISOString()}</b></span></div>
                          {d.error ? <pre class="stack">{d.error.stack ?? `${d.error.name}: ${d.error.message}`}</pre> : <p class="sub">No error was recorded: {d.reason}.</p>}
                        </td></tr>
                      )}
                    </Fragment>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        )
      })}
    </section>
  )
}

/** Delayed items of the Redis queues, due soonest first; with actions, made due now or deleted. */
export function DelayedPanel({ items, actions, act }: { items: DelayedStat[]; actions: boolean; act: (a: QueueAction) => void }) {
  if (items.length === 0) return null
  const queues = [...new Map(items.map((d) => [`${d.source}|${d.queue}`, d])).values()]
  return (
    <section class="panel" data-testid="delayed">
      <h2>Delayed <span class="sub">put with a delay, not yet due</span></h2>
      {actions && <div class="filters">{queues.map((q) => q.source && (
        <span key={`${q.source}|${q.queue}`} class="acts"><b>{q.queue}</b>
          <Confirm label="promote all" question={`make all of '${q.queue}' due now?`} testid="promote-all" onConfirm={() => act({ kind: 'promote-delayed', source: q.source!, queue: q.queue })} />
          <Confirm label="drop all" question={`delete all delayed of '${q.queue}'?`} testid="drop-delayed-all" onConfirm={() => act({ kind: 'drop-delayed', source: q.source!, queue: q.queue })} />
        </span>
      ))}</div>}
      <div class="scroll">
        <table>
          <thead><tr><th>queue</th><th>task id</th><th class="num">due</th>{actions && <th>actions</th>}</tr></thead>
          <tbody>
            {items.map((d) => (
              <tr key={`${d.queue}:${d.taskId}`} data-testid="delayed-row">
                <td>{d.queue}</td><td class="task">{d.taskId}</td><td class="num">{clock(d.due)}</td>
                {actions && d.source && <td class="acts">
                  <button class="act" onClick={() => act({ kind: 'promote-delayed', source: d.source!, queue: d.queue, ids: [d.taskId] })}>promote</button>
                  <button class="act" onClick={() => act({ kind: 'drop-delayed', source: d.source!, queue: d.queue, ids: [d.taskId] })}>drop</button>
                </td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  )
}
