import { useEffect, useRef, useState } from 'preact/hooks'
import type { ThroughputPoint } from '../../src/cli/dashboard/model.ts'
import { clock, compact } from './format.ts'

interface Series {
  key: 'tasks' | 'in' | 'out'
  label: string
  color: string
}

const series: Series[] = [
  { key: 'in', label: 'put /s', color: 'var(--c-in)' },
  { key: 'out', label: 'taken /s', color: 'var(--c-out)' },
  { key: 'tasks', label: 'tasks done /s', color: 'var(--c-tasks)' },
]

const height = 220
const pad = { top: 12, right: 56, bottom: 24, left: 48 }

/** Rates (left axis) and total queue depth (shaded, right axis) over time, drawn as plain SVG. */
export function ThroughputChart({ points, queueRates, intervalMs }: { points: ThroughputPoint[]; queueRates: boolean; intervalMs: number }) {
  // Queues that do not count puts and gets (older managers) have no in/out rates: leave those lines out rather than draw zeros.
  const shown = queueRates ? series : series.filter((s) => s.key === 'tasks')
  const box = useRef<HTMLDivElement>(null)
  const [width, setWidth] = useState(800)
  useEffect(() => {
    const el = box.current
    if (!el) return
    const ro = new ResizeObserver(([entry]) => setWidth(Math.max(320, Math.floor(entry!.contentRect.width))))
    ro.observe(el)
    return () => ro.disconnect()
  }, [])

  const innerW = width - pad.left - pad.right
  const innerH = height - pad.top - pad.bottom
  const t1 = points.length ? points[points.length - 1]!.t : Date.now()
  // At least 60 samples wide, so the first few points do not stretch across the whole chart.
  const t0 = Math.min(points.length ? points[0]!.t : t1, t1 - 60 * intervalMs)
  const rateMax = niceMax(Math.max(1, ...points.flatMap((p) => shown.map((s) => p[s.key]))))
  const depthMax = niceMax(Math.max(1, ...points.map((p) => p.depth)))
  const x = (t: number) => pad.left + ((t - t0) / Math.max(1, t1 - t0)) * innerW
  const yRate = (v: number) => pad.top + innerH - (v / rateMax) * innerH
  const yDepth = (v: number) => pad.top + innerH - (v / depthMax) * innerH

  const line = (key: Series['key']) => points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${yRate(p[key]).toFixed(1)}`).join('')
  const depthArea = points.length
    ? `M${x(points[0]!.t).toFixed(1)},${yDepth(0)}` + points.map((p) => `L${x(p.t).toFixed(1)},${yDepth(p.depth).toFixed(1)}`).join('') + `L${x(t1).toFixed(1)},${yDepth(0)}Z`
    : ''
  const ticks = [0, 0.25, 0.5, 0.75, 1]
  const timeTicks = [0, 1 / 3, 2 / 3, 1].map((f) => t0 + f * (t1 - t0))

  return (
    <div class="chart" ref={box}>
      <div class="legend">
        {shown.map((s) => <span key={s.key}><i style={{ background: s.color }} />{s.label}</span>)}
        <span><i class="depth-swatch" />queued (right axis)</span>
      </div>
      <svg width={width} height={height} role="img" aria-label="throughput over time" data-testid="throughput-chart">
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
        <path class="depth-area" d={depthArea} />
        {shown.map((s) => <path key={s.key} d={line(s.key)} fill="none" stroke={s.color} stroke-width={2} stroke-linejoin="round" />)}
        {points.length === 0 && <text class="axis" x={pad.left + innerW / 2} y={pad.top + innerH / 2} text-anchor="middle">waiting for the first sample…</text>}
      </svg>
    </div>
  )
}

/** Round an axis maximum up to 1, 2 or 5 times a power of ten. */
function niceMax(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p
  return 10 * p
}
