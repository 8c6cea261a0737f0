/** Number formatting shared by the tables, cards and chart. */

/** `1234567` -> `1.23M`, `0.5` -> `0.5`. */
export function compact(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–'
  const a = Math.abs(n)
  if (a >= 1e9) return `${trim(n / 1e9)}G`
  if (a >= 1e6) return `${trim(n / 1e6)}M`
  if (a >= 1e4) return `${trim(n / 1e3)}k`
  if (Number.isInteger(n)) return n.toLocaleString('en-US')
  return trim(n)
}

/** A rate per second, or a dash when the source does not count. */
export function rate(n: number | undefined): string {
  return n === undefined ? '–' : `${compact(n)}/s`
}

/** 0.734 -> `73%`. */
export function percent(x: number): string {
  return `${Math.round(x * 100)}%`
}

/** Seconds as `4s`, `3m 2s`, `1h 5m`. */
export function duration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

/** Wall-clock time of a timestamp, `14:03:27`. */
export function clock(t: number): string {
  return new Date(t).toLocaleTimeString('en-GB', { hour12: false })
}

function trim(x: number): string {
  return x.toFixed(x >= 100 ? 0 : x >= 10 ? 1 : 2).replace(/\.?0+$/, '')
}

/** Bytes as `312 MB`, `1.2 GB`. */
export function bytes(n: number | undefined): string {
  if (n === undefined) return '–'
  if (n >= 1 << 30) return `${trim(n / (1 << 30))} GB`
  if (n >= 1 << 20) return `${Math.round(n / (1 << 20))} MB`
  return `${Math.round(n / 1024)} kB`
}

/** Milliseconds as `850 µs`, `12 ms`, `3.4 s`. */
export function millis(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)} µs`
  if (ms < 1000) return `${trim(ms)} ms`
  return `${trim(ms / 1000)} s`
}

/** An age in ms as `850 ms`, `42s`, `3m 2s`, `1h 5m`. */
export function age(ms: number | undefined): string {
  if (ms === undefined) return '–'
  if (ms < 1000) return `${Math.round(ms)} ms`
  return duration(ms / 1000)
}

/** How long ago a time was, `12s ago`. */
export function ago(t: number, now = Date.now()): string {
  return `${duration(Math.max(0, (now - t) / 1000))} ago`
}
