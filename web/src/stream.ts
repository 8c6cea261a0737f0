import { useEffect, useState } from 'preact/hooks'
import { queueKey, type Hello, type Snapshot, type ThroughputPoint } from '../../src/cli/dashboard/model.ts'

/** What the page knows from the server's event stream. */
export interface DashboardState {
  /** The stream to the dashboard server: connecting, live, or lost and retrying. */
  status: 'connecting' | 'live' | 'reconnecting'
  version: string
  intervalMs: number
  snapshot?: Snapshot
  history: ThroughputPoint[]
  /** Depth history per queue (`source|name`), for the sparklines; null where its source did not answer. */
  queueHistory: Record<string, (number | null)[]>
}

/** Points the chart keeps: ten minutes at the server's sampling period. */
const pointsFor = (intervalMs: number) => Math.min(6000, Math.max(60, Math.ceil(600_000 / intervalMs)))
/** Points a sparkline keeps. */
const SPARK = 120

/** The access token the page was opened with (`?token=`), for requests that must carry it in a header. */
export function pageToken(): string | null {
  return new URLSearchParams(location.search).get('token')
}

/**
 * Follow `/events`. The first event (`hello`) carries the server's history, so
 * a page opened late still shows the chart so far; each `snapshot` after it
 * adds one point. EventSource reconnects by itself; a new `hello` replaces the
 * history, so nothing is counted twice after a reconnect.
 */
export function useDashboard(): DashboardState {
  const [state, setState] = useState<DashboardState>({ status: 'connecting', version: '', intervalMs: 1000, history: [], queueHistory: {} })
  useEffect(() => {
    const token = pageToken()
    const source = new EventSource(`events${token ? `?token=${encodeURIComponent(token)}` : ''}`)
    source.addEventListener('hello', (e) => {
      const hello = JSON.parse((e as MessageEvent<string>).data) as Hello
      setState({
        status: 'live', version: hello.version, intervalMs: hello.intervalMs, snapshot: hello.snapshot,
        history: hello.history.slice(-pointsFor(hello.intervalMs)), queueHistory: hello.queueHistory ?? {},
      })
    })
    source.addEventListener('snapshot', (e) => {
      const snap = JSON.parse((e as MessageEvent<string>).data) as Snapshot
      setState((s) => {
        const max = pointsFor(s.intervalMs)
        const history = s.history.length >= max ? s.history.slice(1 - max) : s.history.slice()
        history.push(snap.point)
        const queueHistory: Record<string, (number | null)[]> = {}
        for (const q of snap.queues) {
          const key = queueKey(q)
          const h = (s.queueHistory[key] ?? []).slice(-(SPARK - 1))
          h.push(q.stale ? null : q.depth)
          queueHistory[key] = h
        }
        return { ...s, status: 'live', snapshot: snap, history, queueHistory }
      })
    })
    source.onerror = () => setState((s) => ({ ...s, status: 'reconnecting' }))
    return () => source.close()
  }, [])
  return state
}
