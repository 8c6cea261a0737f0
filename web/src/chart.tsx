import { useEffect, useRef, useState } from 'preact/hooks'
import type { ThroughputPoint } from '../../src/cli/dashboard/model.ts'
import { clock, compact } from './format.ts'

type Key = 'in' | 'out' | 'tasks' | 'poolTasks'

interface Series {
  key: Key
  label: string
  color: string
}

const series: Series[] = [
  { key: 'in', label: 'put /s', color: 'var(--c-in)' },
  { key: 'out', label: 'taken /s', color: 'var(--c-out)' },
  { key: 'tasks', label: 'worker tasks /s', color: 'var(--c-tasks)' },
  { key: 'poolTasks', label: 'pool tasks /s', color: 'var(--c-pool)' },
]

const height = 220
const pad = { top: 12, right: 56, bottom: 24, left: 48 }

/** Runs of consecutive points where `value` is known: a source that did not answer leaves a gap, not a line to 0. */
function runs(points: ThroughputPoint[], value: (p: ThroughputPoint) => number | null): ThroughputPoint[][] {
  const out: ThroughputPoint[][] = []
  let run: ThroughputPoint[] = []
  for (const p of points) {
    if (value(p) === null) { if (run.length) out.push(run); run = [] } else run.push(p)
  }
  if (run.length) out.push(run)
  return out
}

/**
 * Rates (left axis) and the backlog (shaded, right axis) over time, drawn as
 * plain SVG. Hovering shows every value at that moment.
 */
export function ThroughputChart({ points, queueRates, pools, intervalMs }: { points: ThroughputPoint[]; queueRates: boolean; pools: boolean; intervalMs: number }) {
  // Queues that do not count puts and gets (older managers) have no in/out rates: leave those lines out rather than draw zeros.
  const shown = series.filter((s) => (s.key === 'in' || s.key === 'out' ? queueRates : s.key === 'poolTasks' ? pools : true))
  const box = useRef<HTMLDivElement>(null)
  const [width, setWidth] = useState(800)
  const [hover, setHover] = useState<number>()
  useEffect(() => {
    const el = box.current
    if (!el) return
    const ro = new ResizeObserver(([entry]) => setWidth(Math.max(300, Math.floor(entry!.contentRect.width))))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const innerW = width - pad.left - pad.right
  const innerH = height - pad.top - pad.bottom
  const t1 = points.length ? points[points.length - 1]!.t : Date.now()
  // At least 60 samples wide, so the first few points do not stretch across the whole chart.
  const t0 = Math.min(points.length ? points[0]!.t : t1, t1 - 60 * intervalMs)
  const rateMax = niceMax(Math.max(1, ...points.flatMap((p) => shown.map((s) => p[s.key] ?? 0))))
  const depthMax = niceMax(Math.max(1, ...points.map((p) => p.depth ?? 0)))
  const x = (t: number) => pad.left + ((t - t0) / Math.max(1, t1 - t0)) * innerW
  const yRate = (v: number) => pad.top + innerH - (v / rateMax) * innerH
  const yDepth = (v: number) => pad.top + innerH - (v / depthMax) * innerH

  const line = (key: Key) => runs(points, (p) => p[key]).map((run) => run.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${yRate(p[key]!).toFixed(1)}`).join('')).join('')
  const depthRuns = runs(points, (p) => p.depth)
  const depthArea = depthRuns.map((run) =>
    `M${x(run[0]!.t).toFixed(1)},${yDepth(0)}` + run.map((p) => `L${x(p.t).toFixed(1)},${yDepth(p.depth!).toFixed(1)}`).join('') + `L${x(run[run.length - 1]!.t).toFixed(1)},${yDepth(0)}Z`).join('')
  const gaps = points.filter((p) => p.depth === null).length
  const ticks = [0, 0.25, 0.5, 0.75, 1]
  const timeTicks = [0, 1 / 3, 2 / 3, 1].map((f) => t0 + f * (t1 - t0))

  const onMove = (e: MouseEvent) => {
    if (!points.length) return
    const rect = (e.currentTarget as SVGElement).getBoundingClientRect()
    const t = t0 + ((e.clientX - rect.left - pad.left) / innerW) * (t1 - t0)
    let best = 0
    for (let i = 1; i < points.length; i++) if (Math.abs(points[i]!.t - t) < Math.abs(points[best]!.t - t)) best = i
    setHover(best)
  }
  const h = hover !== undefined ? points[hover] : undefined
  const hx = h ? x(h.t) : 0
  const fmt = (v: number | null) => (v === null ? 'no data' : compact(v))

  return (
    <div class="chart" ref={box}>
      <div class="legend">
        {shown.map((s) => <span key={s.key}><i style={{ background: s.color }} />{s.label}</span>)}
        <span><i class="depth-swatch" />queued (right axis)</span>
        {gaps > 0 && <span class="gap-note">gaps: a source did not answer</span>}
      </div>
      <svg width={width} height={height} role="img" aria-label="throughput over time" data-testid="throughput-chart" data-gaps={gaps}
        data-last-depth={points.length ? String(points[points.length - 1]!.depth ?? 'none') : ''}
        onMouseMove={onMove} onMouseLeave={() => setHover(undefined)}>
        {ticks.map((f) => (
          <g key={f}>
            <line class="grid" x1={pad.left} x2={width - pad.right} y1={pad.top + innerH * (1 - f)} y2={pad.top + innerH * (1 - f)} />
            <text class="axis" x={pad.left - 6} y={pad.top + innerH * (1 - f) + 4} text-anchor="end">{compact(rateMax * f)}</text>
            <text class="axis depth" x={width - pad.right + 6} y={pad.top + innerH * (1 - f) + 4}>{compact(depthMax * f)}</text>
          </g>
        ))}
        {timeTicks.map((t, i) => (
          <text key={i} class="axis" x={x(t)} y={height - 6} text-anchor={i === 0 ? 'start' : i === timeTicks.length - 1 ? 'end' : 'middle'}>{clock(t)}</text>
        ))}
        {points.filter((p) => p.depth === null).map((p) => (
          <rect key={p.t} class="gap" x={x(p.t) - innerW / Math.max(60, points.length) / 2} y={pad.top} width={Math.max(1, innerW / Math.max(60, points.length))} height={innerH} />
        ))}
        <path class="depth-area" d={depthArea} data-testid="depth-area" data-runs={depthRuns.length} />
        {shown.map((s) => <path key={s.key} d={line(s.key)} fill="none" stroke={s.color} stroke-width={2} stroke-linejoin="round" />)}
        {points.length === 0 && <text class="axis" x={pad.left + innerW / 2} y={pad.top + innerH / 2} text-anchor="middle">waiting for the first sample…</text>}
        {h && <line class="hover-line" x1={hx} x2={hx} y1={pad.top} y2={pad.top + innerH} />}
      </svg>
      {h && (
        <div class="tooltip" data-testid="chart-tooltip" style={{ left: `${Math.min(hx + 12, width - 190)}px`, top: `${pad.top + 18}px` }}>
          <div class="tooltip-time">{clock(h.t)}</div>
          {shown.map((s) => <div key={s.key}><i style={{ background: s.color }} />{s.label}<b>{fmt(h[s.key])}</b></div>)}
          <div><i class="depth-swatch" />queued<b>{fmt(h.depth)}</b></div>
        </div>
      )}
    </div>
  )
}

/** Round an axis maximum up to 1, 2 or 5 times a power of ten. */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}

/** A queue's depth over the last minutes, in a table cell; gaps where its source did not answer. */
export function Sparkline({ values, width = 84, height = 22 }: { values: (number | null)[]; width?: number; height?: number }) {
  if (values.length < 2) return <svg class="spark" width={width} height={height} />
  const max = Math.max(1, ...values.map((v) => v ?? 0))
  const step = width / (values.length - 1)
  let d = ''
  let open = false
  values.forEach((v, i) => {
    if (v === null) { open = false; return }
    d += `${open ? 'L' : 'M'}${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`
    open = true
  })
  const last = values[values.length - 1]
  return (
    <svg class="spark" width={width} height={height} data-testid="sparkline" aria-label={`depth, last ${values.length} samples, peak ${compact(max)}`}>
      <path d={d} fill="none" stroke="var(--c-depth-line)" stroke-width={1.5} />
      {last !== null && last !== undefined && <circle cx={width} cy={height - 2 - (last / max) * (height - 4)} r={2} fill="var(--c-depth-line)" />}
    </svg>
  )
}
