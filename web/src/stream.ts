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

const maxPoints = 600

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
      setState({ status: 'live', version: hello.version, intervalMs: hello.intervalMs, snapshot: hello.snapshot, history: hello.history.slice(-maxPoints) })
    })
    source.addEventListener('snapshot', (e) => {
      const snap = JSON.parse((e as MessageEvent<string>).data) as Snapshot
      setState((s) => {
        const history = s.history.length >= maxPoints ? s.history.slice(1 - maxPoints) : s.history.slice()
        history.push(snap.point)
        return { ...s, status: 'live', snapshot: snap, history }
      })
    })
    source.onerror = () => setState((s) => ({ ...s, status: 'reconnecting' }))
    return () => source.close()
  }, [])
  return state
}
