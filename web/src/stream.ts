import { useEffect, useState } from 'preact/hooks'
import type { Hello, Snapshot, ThroughputPoint } from '../../src/cli/dashboard/model.ts'

/** What the page knows from the server's event stream. */
export interface DashboardState {
  status: 'connecting' | 'live' | 'reconnecting'
  version: string
  intervalMs: number
  snapshot?: Snapshot
  history: ThroughputPoint[]
}

/** Points the chart keeps: ten minutes at the server's sampling period. */
const pointsFor = (intervalMs: number) => Math.min(6000, Math.max(60, Math.ceil(600_000 / intervalMs)))

/**
 * Follow `/events`. The first event (`hello`) carries the server's history, so
 * a page opened late still shows the chart so far; each `snapshot` after it
 * adds one point. EventSource reconnects by itself; a new `hello` replaces the
 * history, so nothing is counted twice after a reconnect.
 */
export function useDashboard(): DashboardState {
  const [state, setState] = useState<DashboardState>({ status: 'connecting', version: '', intervalMs: 1000, history: [] })
  useEffect(() => {
    const token = new URLSearchParams(location.search).get('token')
    const source = new EventSource(`events${token ? `?token=${encodeURIComponent(token)}` : ''}`)
    source.addEventListener('hello', (e) => {
      const hello = JSON.parse((e as MessageEvent<string>).data) as Hello
      setState({ status: 'live', version: hello.version, intervalMs: hello.intervalMs, snapshot: hello.snapshot, history: hello.history.slice(-pointsFor(hello.intervalMs)) })
    })
    source.addEventListener('snapshot', (e) => {
      const snap = JSON.parse((e as MessageEvent<string>).data) as Snapshot
      setState((s) => {
        const max = pointsFor(s.intervalMs)
        const history = s.history.length >= max ? s.history.slice(1 - max) : s.history.slice()
        history.push(snap.point)
        return { ...s, status: 'live', snapshot: snap, history }
      })
    })
    source.onerror = () => setState((s) => ({ ...s, status: 'reconnecting' }))
    return () => source.close()
  }, [])
  return state
}
