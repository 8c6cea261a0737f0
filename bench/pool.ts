/**
 * `npm run bench -- pool [--runs N]`: troupe's Pool against piscina and
 * Python's multiprocessing.Pool(2), side by side in one run, 2 workers each.
 *
 *   small    200,000 trivial tasks `(a, b) => a + b` submitted at once      troupe vs piscina
 *   payload  20,000 tasks each carrying its own 64 KiB (copied, not moved)  troupe vs piscina
 *   latency  20,000 tasks one after another (ops/s here, µs in the notes)   troupe vs piscina
 *   map      map of 100,000 trivial items, default chunking                 troupe vs python
 *   apply    100,000 applyAsync / apply_async, then wait for all            troupe vs python
 *
 * Each number is the median of `--runs` runs (default 3); pools are started
 * and every case is run once at a quarter of its size before timing (JIT and
 * heap warm-up, for both contenders); map is warmed up with three full-size
 * maps and reported as the median of five, in troupe and in Python alike.
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Pool } from '../src/pool/index.ts'
import { isMainModule } from '../src/process/index.ts'
import { median, opsPerSecond, percentile, report, type Cases } from './lib.ts'

/** The tasks troupe's workers run (they import this module, so the program below is guarded). */
export function add(a: number, b: number): number {
  return a + b
}

export function byteLength(buf: Uint8Array): number {
  return buf.byteLength
}

export function inc(x: number): number {
  return x + 1
}

let SMALL = 200_000
let PAYLOAD = 20_000
let LATENCY = 20_000
let MAP = 100_000
let APPLY = 100_000

interface Contender {
  small(): Promise<number>
  payload(bufs: Uint8Array[]): Promise<number>
  latency(): Promise<number[]>
}

async function troupe(): Promise<Contender & { map(): Promise<number>; apply(): Promise<number>; close(): Promise<void> }> {
  const pool = new Pool({ workers: 2 })
  await pool.apply(add, [1, 2])
  return {
    small: () => opsPerSecond(SMALL, () => Promise.all(Array.from({ length: SMALL }, (_, i) => pool.applyAsync(add, [i, 1])))),
    payload: (bufs) => opsPerSecond(PAYLOAD, () => Promise.all(Array.from({ length: PAYLOAD }, (_, i) => pool.applyAsync(byteLength, [bufs[i % bufs.length]!])))),
    async latency() {
      const us: number[] = []
      for (let i = 0; i < LATENCY; i++) {
        const t0 = process.hrtime.bigint()
        await pool.apply(add, [i, 1])
        us.push(Number(process.hrtime.bigint() - t0) / 1000)
      }
      return us
    },
    map() {
      // The input exists before timing, as Python's range() does.
      const xs = Array.from({ length: MAP }, (_, i) => i)
      return opsPerSecond(MAP, () => pool.map(inc, xs))
    },
    apply: () => opsPerSecond(APPLY, () => Promise.all(Array.from({ length: APPLY }, (_, i) => pool.applyAsync(inc, [i])))),
    close: () => pool.terminate(),
  }
}

async function piscina(): Promise<Contender & { close(): Promise<void> }> {
  const { Piscina } = await import('piscina')
  const pool = new Piscina({ filename: fileURLToPath(new URL('./pool-piscina.mjs', import.meta.url)), minThreads: 2, maxThreads: 2 })
  await pool.run({ a: 1, b: 2 }, { name: 'add' })
  return {
    small: () => opsPerSecond(SMALL, () => Promise.all(Array.from({ length: SMALL }, (_, i) => pool.run({ a: i, b: 1 }, { name: 'add' })))),
    payload: (bufs) => opsPerSecond(PAYLOAD, () => Promise.all(Array.from({ length: PAYLOAD }, (_, i) => pool.run(bufs[i % bufs.length], { name: 'byteLength' })))),
    async latency() {
      const us: number[] = []
      for (let i = 0; i < LATENCY; i++) {
        const t0 = process.hrtime.bigint()
        await pool.run({ a: i, b: 1 }, { name: 'add' })
        us.push(Number(process.hrtime.bigint() - t0) / 1000)
      }
      return us
    },
    close: () => pool.destroy(),
  }
}

function python(): { map: number; apply: number } | undefined {
  const script = fileURLToPath(new URL('./pool-python.py', import.meta.url))
  const r = spawnSync('python3', [script, String(MAP), String(APPLY)], { encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) { console.error(`python3 failed: ${r.stderr || r.error}`); return undefined }
  return JSON.parse(r.stdout.trim().split('\n').pop()!)
}

async function main(): Promise<void> {
  const runsArg = process.argv.indexOf('--runs')
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3
  // 256 distinct buffers, reused in turn: each task's 64 KiB is its own (no batch can share one copy).
  const bufs = Array.from({ length: 256 }, (_, i) => new Uint8Array(64 * 1024).fill(i))
  const samples: Record<string, Record<string, number[]>> = {}
  const lat: Record<string, number[]> = { troupe: [], piscina: [] }
  const add = (c: string, who: string, v: number) => { ((samples[c] ??= {})[who] ??= []).push(v) }
  const timed = async (c: string, who: string, fn: () => Promise<number>) => { add(c, who, await fn()) }
  for (let run = 0; run < runs; run++) {
    const t = await troupe()
    const p = await piscina()
    // Warm-up: every case once at a quarter of its size, so JIT and heap sizing are done for both.
    const full = [SMALL, PAYLOAD, LATENCY, MAP, APPLY] as const
    ;[SMALL, PAYLOAD, LATENCY, MAP, APPLY] = full.map((n) => n >> 2) as unknown as typeof full
    for (const c of [t, p]) { await c.small(); await c.payload(bufs); await c.latency() }
    await t.apply()
    ;[SMALL, PAYLOAD, LATENCY, MAP, APPLY] = full
    await timed('small', 'troupe', () => t.small())
    await timed('small', 'piscina', () => p.small())
    await timed('payload', 'troupe', () => t.payload(bufs))
    await timed('payload', 'piscina', () => p.payload(bufs))
    for (const [who, c] of [['troupe', t], ['piscina', p]] as const) {
      const us = await c.latency()
      lat[who]!.push(...us)
      add('latency', who, 1e6 / median(us))
    }
    // A map of 100,000 takes ~10 ms, so one GC pause moves it a lot: three full-size maps to warm up,
    // then the median of five (the Python script does the same).
    for (let i = 0; i < 3; i++) await t.map()
    const maps: number[] = []
    for (let i = 0; i < 5; i++) maps.push(await t.map())
    add('map', 'troupe', median(maps))
    await timed('apply', 'troupe', () => t.apply())
    await t.close()
    await p.close()
    const py = python()
    if (py) { add('map', 'python', py.map); add('apply', 'python', py.apply) }
  }
  const cases: Cases = {}
  for (const [c, byWho] of Object.entries(samples)) {
    cases[c] = {}
    for (const [who, xs] of Object.entries(byWho)) cases[c]![who] = median(xs)
  }
  const notes = [
    `latency (µs per task, one at a time): troupe p50 ${percentile(lat.troupe!, 50).toFixed(1)} p99 ${percentile(lat.troupe!, 99).toFixed(1)}; ` +
    `piscina p50 ${percentile(lat.piscina!, 50).toFixed(1)} p99 ${percentile(lat.piscina!, 99).toFixed(1)}`,
    `medians of ${runs} run(s); 2 workers each; the machine's CPUs are shared, so expect noise`,
  ]
  report('pool', cases, notes)
}

if (isMainModule(import.meta)) await main()
