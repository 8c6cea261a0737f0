/**
 * Shared helpers for benchmarks: time a case, print a table of ops/s with
 * ratios to the anchors, and end with the machine-readable RESULT line.
 */

/** ops/s per contender, per case. */
export type Cases = Record<string, Record<string, number>>

/** Run `fn` (which performs `ops` operations) and return operations per second. */
export async function opsPerSecond(ops: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = process.hrtime.bigint()
  await fn()
  const ns = Number(process.hrtime.bigint() - t0)
  return ops / (ns / 1e9)
}

/** Median of several samples. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A percentile (0..100) of samples. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}

/**
 * Print the table (one row per case, a column per contender, and troupe's
 * ratio to each other contender), then `RESULT {json}` as the last line.
 * `notes` are extra lines printed above the RESULT line (e.g. latencies in µs).
 */
export function report(bench: string, cases: Cases, notes: string[] = []): void {
  const contenders = [...new Set(Object.values(cases).flatMap((c) => Object.keys(c)))]
  const rows = [['case', ...contenders.map((c) => `${c} ops/s`), 'troupe ratio']]
  for (const [name, c] of Object.entries(cases)) {
    const ratios = contenders
      .filter((x) => x !== 'troupe' && c[x] && c.troupe)
      .map((x) => `${(c.troupe! / c[x]!).toFixed(2)}x ${x}`)
    rows.push([name, ...contenders.map((x) => (c[x] === undefined ? '-' : fmt(c[x]!))), ratios.join(', ') || '-'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  console.log(`\n${bench}`)
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  '))
  for (const n of notes) console.log(n)
  console.log(`RESULT ${JSON.stringify({ bench, cases })}`)
}
