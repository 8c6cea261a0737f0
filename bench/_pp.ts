import { Pool } from '../src/pool/index.ts'
import { objLen, bigString } from './pool.ts'
const kind = (process.argv[2] ?? 'process') as any
const which = process.argv[3] ?? 'strings'
const N = Number(process.argv[4] ?? 20000)
const strs = Array.from({ length: 256 }, (_, i) => Buffer.alloc(65536, 65 + (i % 26)).toString('latin1'))
const pool = new Pool({ workers: 2, kind })
await pool.apply(objLen, [{ a: 1, b: 2, s: 'x' }])
import { readdirSync, readFileSync } from 'node:fs'
function kidsCpu(): number {
  let t = 0
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try { const f = readFileSync(`/proc/${d}/stat`, 'latin1').split(') ')[1]!.split(' '); if (Number(f[1]) === process.pid) t += Number(f[11]) + Number(f[12]) } catch {}
  }
  return t * 10000 // clock ticks (100/s) -> µs
}
const go = (n: number) => Promise.all(Array.from({ length: n }, (_, i) => which === 'strings' ? pool.applyAsync(objLen, [{ a: i, b: 1, s: strs[i & 255]! }]) : pool.applyAsync(bigString, [i])))
await go(N >> 2)
const k0 = kidsCpu(); const c0 = process.cpuUsage(); const t0 = performance.now()
await go(N)
const dt = performance.now() - t0
const c = process.cpuUsage(c0); const kc = kidsCpu() - k0
console.log(kind, which, Math.round(N / dt * 1000), 'ops/s; main cpu-µs/op', ((c.user + c.system) / N).toFixed(1), 'user', (c.user/N).toFixed(1), 'sys', (c.system/N).toFixed(1), 'kids', (kc/N).toFixed(1), 'total', ((c.user+c.system+kc)/N).toFixed(1))
pool.close(); await pool.join()
