/**
 * Shared helpers for benchmarks: time a case, print a table of ops/s with
 * ratios to the anchors, and end with the machine-readable RESULT line.
 * `contest` runs each contender of a case in a fresh process, interleaved.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

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

// ---------------------------------------------------------------- contests in fresh processes

/** What one contender measured in its own process. */
export interface Sample {
  /** Operations per second (latency cases: 1e6 / p50 µs, so the ratio compares medians). */
  ops: number
  /** CPU µs per operation, every thread of the process and its child processes. */
  cpuUs?: number
  /** Per-operation latency percentiles (µs), latency cases. */
  p50?: number
  p99?: number
}

/** One contender of a case: runs in a fresh process and measures itself (warm-up included). */
export type Measure = () => Promise<Sample>

/** A case: the subject (troupe's contender, listed first) and its anchors. */
export interface CaseSpec {
  name: string
  /** Contender name -> measurement; the first is the subject the ratios are about. */
  contenders: Record<string, Measure>
  /** Also run a "+busy" variant with a child process burning one core throughout. */
  busy?: boolean
  /** Printed under the table. */
  note?: string
}

/** CPU µs used so far by this process (all threads), its live descendants and the children it reaped. */
export function treeCpuMicros(): number {
  const u = process.cpuUsage()
  return u.user + u.system + descendantsCpuMicros(process.pid)
}

function descendantsCpuMicros(root: number): number {
  let entries: string[]
  try { entries = readdirSync('/proc') } catch { return 0 }
  const parent = new Map<number, number>()
  const ticks = new Map<number, number>()
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue
    let stat: string
    try { stat = readFileSync(`/proc/${e}/stat`, 'utf8') } catch { continue }
    // Fields after the ")" that ends the command name: state ppid ... utime stime cutime cstime
    // (cutime/cstime: children it has reaped, so a worker that already exited still counts).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const pid = Number(e)
    parent.set(pid, Number(f[1]))
    ticks.set(pid, pid === root ? Number(f[13]) + Number(f[14]) : Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]))
  }
  let sum = ticks.get(root) ?? 0
  for (const [pid, t] of ticks) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === root) { sum += t; break }
    }
  }
  // Clock ticks are 1/100 s on Linux.
  return sum * 10_000
}

/** Time `ops` operations done by `fn`; ops/s and CPU µs per op (this process tree). */
export async function measureOps(ops: number, fn: () => Promise<unknown> | unknown): Promise<Sample> {
  const c0 = treeCpuMicros()
  const t0 = process.hrtime.bigint()
  await fn()
  const ns = Number(process.hrtime.bigint() - t0)
  return { ops: ops / (ns / 1e9), cpuUs: (treeCpuMicros() - c0) / ops }
}

/** Time `n` operations one after another; ops/s from the median latency. */
export async function measureLatency(n: number, once: (i: number) => Promise<unknown> | unknown): Promise<Sample> {
  const us = new Array<number>(n)
  const c0 = treeCpuMicros()
  for (let i = 0; i < n; i++) {
    const a = process.hrtime.bigint()
    await once(i)
    us[i] = Number(process.hrtime.bigint() - a) / 1000
  }
  const cpu = (treeCpuMicros() - c0) / n
  const p50 = percentile(us, 50)
  return { ops: 1e6 / p50, cpuUs: cpu, p50, p99: percentile(us, 99) }
}

/** A child process that burns one core until killed: the "busy neighbour". */
export function startNeighbour(): () => void {
  const p = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' })
  return () => { p.kill('SIGKILL') }
}

function loadavg(): string {
  try { return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') } catch { return '?' }
}

/**
 * The benchmark's entry point. With `--one <case> <contender>` (how it calls itself) it runs that
 * one measurement and prints `SAMPLE {json}`. Otherwise it runs every case's contenders, each in a
 * fresh process, interleaved (the order rotates each run), `--runs N` times (default 3), and prints
 * medians and the subject's ratio to each anchor. `--only a,b` picks cases by name prefix.
 */
export async function contest(bench: string, file: string, specs: CaseSpec[], notes: string[] = []): Promise<void> {
  const argv = process.argv
  const one = argv.indexOf('--one')
  if (one >= 0) {
    const spec = specs.find((s) => s.name === argv[one + 1])
    const measure = spec?.contenders[argv[one + 2]!]
    if (!measure) throw new Error(`no contender ${argv[one + 2]} in case ${argv[one + 1]}`)
    const s = await measure()
    console.log(`SAMPLE ${JSON.stringify(s)}`)
    process.exit(0)
  }
  const runsAt = argv.indexOf('--runs')
  const runs = runsAt > 0 ? Number(argv[runsAt + 1]) : 3
  const onlyAt = argv.indexOf('--only')
  const only = onlyAt > 0 ? argv[onlyAt + 1]!.split(',') : undefined
  const plan: { spec: CaseSpec; busy: boolean; label: string }[] = []
  for (const spec of specs) {
    if (only && !only.some((o) => spec.name.startsWith(o))) continue
    plan.push({ spec, busy: false, label: spec.name })
    if (spec.busy) plan.push({ spec, busy: true, label: `${spec.name}+busy` })
  }
  const samples = new Map<string, Map<string, Sample[]>>()
  const loads = [loadavg()]
  const script = fileURLToPath(file)
  for (let run = 0; run < runs; run++) {
    for (const { spec, busy, label } of plan) {
      const names = Object.keys(spec.contenders)
      // Rotate who goes first, so no contender always meets the same moment of the machine's load.
      const order = names.map((_, i) => names[(i + run) % names.length]!)
      for (const who of order) {
        const stop = busy ? startNeighbour() : undefined
        try {
          const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', script, '--one', spec.name, who], { encoding: 'utf8', timeout: 600_000, stdio: ['ignore', 'pipe', 'inherit'] })
          const line = r.stdout?.split('\n').find((l) => l.startsWith('SAMPLE '))
          if (!line) { console.error(`${label} ${who}: no sample (exit ${r.status}${r.error ? `, ${r.error.message}` : ''})`); continue }
          const s = JSON.parse(line.slice(7)) as Sample
          const byWho = samples.get(label) ?? new Map<string, Sample[]>()
          samples.set(label, byWho)
          byWho.set(who, [...(byWho.get(who) ?? []), s])
          process.stderr.write(`  run ${run + 1}/${runs} ${label} ${who}: ${fmt(s.ops)} ops/s${s.cpuUs !== undefined ? `, ${s.cpuUs.toFixed(1)} cpu-µs/op` : ''}${s.p50 !== undefined ? `, p50 ${s.p50.toFixed(1)} µs` : ''}\n`)
        } finally {
          stop?.()
        }
      }
    }
  }
  loads.push(loadavg())
  const cases: Cases = {}
  const cpu: Record<string, Record<string, number>> = {}
  const p50: Record<string, Record<string, number>> = {}
  const rows = [['case', 'subject', 'ops/s', 'cpu-µs/op', 'anchors (ops/s, cpu-µs/op)', 'ratio']]
  for (const { spec, label } of plan) {
    const byWho = samples.get(label)
    if (!byWho) continue
    const med = (who: string, k: keyof Sample) => {
      const xs = (byWho.get(who) ?? []).map((s) => s[k]).filter((x): x is number => x !== undefined)
      return xs.length ? median(xs) : undefined
    }
    cases[label] = {}
    cpu[label] = {}
    p50[label] = {}
    for (const who of byWho.keys()) {
      cases[label]![who] = med(who, 'ops')!
      const c = med(who, 'cpuUs'); if (c !== undefined) cpu[label]![who] = c
      const l = med(who, 'p50'); if (l !== undefined) p50[label]![who] = l
    }
    const [subject, ...anchors] = Object.keys(spec.contenders)
    const show = (who: string) => `${who} ${fmt(cases[label]![who] ?? NaN)}${cpu[label]![who] !== undefined ? ` (${cpu[label]![who]!.toFixed(1)})` : ''}${p50[label]![who] !== undefined ? ` p50 ${p50[label]![who]!.toFixed(1)} µs` : ''}`
    const ratio = (who: string) => `${((cases[label]![subject!] ?? NaN) / (cases[label]![who] ?? NaN)).toFixed(2)}x ${who}`
    rows.push([label, subject!, fmt(cases[label]![subject!] ?? NaN) + (p50[label]![subject!] !== undefined ? ` (p50 ${p50[label]![subject!]!.toFixed(1)} µs)` : ''),
      cpu[label]![subject!]?.toFixed(1) ?? '-', anchors.map(show).join('; ') || '-', anchors.map(ratio).join(', ') || '-'])
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  console.log(`\n${bench}`)
  for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i]!)).join('  '))
  for (const { spec } of plan) if (spec.note && !notes.includes(spec.note)) notes.push(spec.note)
  for (const n of notes) console.log(n)
  console.log(`medians of ${runs} run(s), every contender in a fresh process, interleaved; "+busy": a child process burns one core during the run; load average before/after: ${loads.join(' / ')}`)
  console.log(`RESULT ${JSON.stringify({ bench, cases, cpuUs: cpu, p50Us: p50, loadavg: loads })}`)
}
