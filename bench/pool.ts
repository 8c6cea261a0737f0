/**
 * `npm run bench -- pool [--runs N] [--only case,...]`: troupe's Pool against
 * piscina, a raw postMessage pool, raw Atomics and Python's
 * multiprocessing.Pool(2); 2 workers each, every contender in a fresh
 * process, interleaved (see `contest` in lib.ts).
 *
 *   small           200,000 trivial tasks `(a, b) => a + b`, applyAsync from one Promise.all
 *   bytes           20,000 tasks, each a 64 KiB Uint8Array (copied, not moved)
 *   strings         20,000 tasks, each a plain object `{ a, b, s }` with a 64 KiB string
 *   string-results  20,000 tasks, each returning a 64 KiB string (its length is taken as it arrives)
 *   latency         20,000 tasks one after another (+busy: with a core-burning neighbour)
 *   map             map of 100,000 trivial items, default chunking        (vs Python)
 *   apply           100,000 applyAsync, then wait for all                 (vs Python)
 *
 * Each contender runs its case once at a quarter of its size (JIT and heap
 * warm-up) before the timed run; map is the median of five after three.
 */
import { fork, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { Pool } from '../src/pool/index.ts'
import { isMainModule, type Kind } from '../src/process/index.ts'
import { contest, measureLatency, measureOps, median, type CaseSpec, type Sample } from './lib.ts'

/** The tasks troupe's workers run (they import this module, so the program below is guarded). */
export function add(a: number, b: number): number {
  return a + b
}

export function byteLength(buf: Uint8Array): number {
  return buf.byteLength
}

export function objLen(o: { a: number; b: number; s: string }): number {
  return o.a + o.b + o.s.length
}

// 64 distinct 64 KiB strings, built (and flattened) once per worker: a task returns one of them.
const STRINGS = isMainModule(import.meta) ? [] : Array.from({ length: 64 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(64 * 1024))
for (const s of STRINGS) s.charCodeAt(100)

export function bigString(i: number): string {
  return STRINGS[i & 63]!
}

export function inc(x: number): number {
  return x + 1
}

const SMALL = 200_000
const PAYLOAD = 20_000
const LATENCY = 20_000
const MAP = 100_000
const APPLY = 100_000
const KIB64 = 64 * 1024

// 256 distinct inputs, reused in turn: each task's 64 KiB is its own (no batch can share one copy).
const bufs = () => Array.from({ length: 256 }, (_, i) => new Uint8Array(KIB64).fill(i))
// Flat one-byte strings, as JSON.parse or a file read makes them.
const strs = () => Array.from({ length: 256 }, (_, i) => Buffer.alloc(KIB64, 65 + (i % 26)).toString('latin1'))

/** Run `fn(n / 4)` untimed, then time `fn(n)`. */
async function warmThenTime(n: number, fn: (n: number) => Promise<unknown>): Promise<Sample> {
  await fn(n >> 2)
  ;(globalThis as { gc?: () => void }).gc?.()
  return measureOps(n, () => fn(n))
}

/** The calls a case makes, the same for every contender: `run(task, i)` submits task `i`. */
interface Runner {
  small(i: number): Promise<unknown>
  bytes(buf: Uint8Array): Promise<unknown>
  strings(o: { a: number; b: number; s: string }): Promise<unknown>
  stringResult(i: number): Promise<unknown>
  close(): Promise<void>
}

async function troupe(kind: Kind = 'thread'): Promise<Runner & { pool: Pool }> {
  const pool = new Pool({ workers: 2, kind })
  await pool.apply(add, [1, 2])
  return {
    pool,
    small: (i) => pool.applyAsync(add, [i, 1]),
    bytes: (b) => pool.applyAsync(byteLength, [b]),
    strings: (o) => pool.applyAsync(objLen, [o]),
    stringResult: (i) => pool.applyAsync(bigString, [i]),
    close: () => pool.terminate(),
  }
}

async function piscina(): Promise<Runner> {
  const { Piscina } = await import('piscina')
  const pool = new Piscina({ filename: fileURLToPath(new URL('./pool-piscina.mjs', import.meta.url)), minThreads: 2, maxThreads: 2 })
  await pool.run({ a: 1, b: 2 }, { name: 'add' })
  return {
    small: (i) => pool.run({ a: i, b: 1 }, { name: 'add' }),
    bytes: (b) => pool.run(b, { name: 'byteLength' }),
    strings: (o) => pool.run(o, { name: 'objLen' }),
    stringResult: (i) => pool.run(i, { name: 'bigString' }),
    close: () => pool.destroy(),
  }
}

/** Two raw workers (threads or child processes): how to post to one, and how its replies arrive. */
interface RawWorker { post(msg: unknown): void; onReply(fn: (m: [number, unknown]) => void): void; stop(): Promise<unknown> | void }

/** A raw pool over two workers: round robin, one message per task and per result, a Map of promises. */
async function rawPool(workers: RawWorker[]): Promise<Runner> {
  const pending = new Map<number, (v: unknown) => void>()
  for (const w of workers) w.onReply((m) => { const r = pending.get(m[0])!; pending.delete(m[0]); r(m[1]) })
  let id = 0
  let next = 0
  const call = (name: string, arg: unknown) => new Promise<unknown>((resolve) => {
    pending.set(++id, resolve)
    workers[next++ & 1]!.post([id, name, arg])
  })
  await Promise.all([call('add', { a: 1, b: 2 }), call('add', { a: 1, b: 2 })])
  return {
    small: (i) => call('add', { a: i, b: 1 }),
    bytes: (b) => call('byteLength', b),
    strings: (o) => call('objLen', o),
    stringResult: (i) => call('bigString', i),
    close: async () => { await Promise.all(workers.map((w) => w.stop())) },
  }
}

/** The raw postMessage pool: two worker threads on their parentPort. */
function raw(): Promise<Runner> {
  const url = new URL('./pool-raw.mjs', import.meta.url)
  return rawPool([0, 1].map(() => {
    const w = new Worker(url)
    return { post: (m) => w.postMessage(m), onReply: (fn) => { w.on('message', fn) }, stop: () => w.terminate() }
  }))
}

/** The same over two child processes: Node's IPC ('advanced' serialization, as troupe's process pools). */
function rawIpc(): Promise<Runner> {
  const file = fileURLToPath(new URL('./pool-raw-ipc.mjs', import.meta.url))
  return rawPool([0, 1].map(() => {
    const k = fork(file, [], { serialization: 'advanced', execArgv: [] })
    return { post: (m) => { k.send(m as object) }, onReply: (fn) => { k.on('message', fn as (m: unknown) => void) }, stop: () => { k.kill() } }
  }))
}

/** One-at-a-time floor: a worker blocked in Atomics.wait, arguments and result in shared memory. */
async function rawAtomicsLatency(): Promise<Sample> {
  const sab = new SharedArrayBuffer(16 + 24)
  const ctl = new Int32Array(sab, 0, 4)
  const num = new Float64Array(sab, 16, 3)
  const w = new Worker(new URL('./pool-atomics.mjs', import.meta.url), { workerData: sab })
  let seq = 0
  const once = async (i: number) => {
    num[0] = i; num[1] = 1
    Atomics.store(ctl, 0, ++seq)
    Atomics.notify(ctl, 0)
    while (Atomics.load(ctl, 1) !== seq) Atomics.wait(ctl, 1, seq - 1, 1)
    return num[2]
  }
  for (let i = 0; i < LATENCY >> 2; i++) await once(i)
  const s = await measureLatency(LATENCY, once)
  Atomics.store(ctl, 0, -1)
  Atomics.notify(ctl, 0)
  await w.terminate()
  return s
}

type CaseName = 'small' | 'bytes' | 'strings' | 'stringResults' | 'latency'

/** One contender on one case, in this (fresh) process. */
async function run(make: () => Promise<Runner>, c: CaseName): Promise<Sample> {
  const r = await make()
  try {
    switch (c) {
      case 'small': return await warmThenTime(SMALL, (n) => Promise.all(Array.from({ length: n }, (_, i) => r.small(i))))
      case 'bytes': { const b = bufs(); return await warmThenTime(PAYLOAD, (n) => Promise.all(Array.from({ length: n }, (_, i) => r.bytes(b[i & 255]!)))) }
      case 'strings': {
        const s = strs()
        return await warmThenTime(PAYLOAD, (n) => Promise.all(Array.from({ length: n }, (_, i) => r.strings({ a: i, b: 1, s: s[i & 255]! }))))
      }
      // Each result is used as it comes and let go (holding 20,000 x 64 KiB would measure the heap, not the pool).
      case 'stringResults': return await warmThenTime(PAYLOAD, (n) => Promise.all(Array.from({ length: n }, (_, i) => r.stringResult(i).then((s) => (s as string).length))))
      case 'latency':
        for (let i = 0; i < LATENCY >> 2; i++) await r.small(i)
        return await measureLatency(LATENCY, (i) => r.small(i))
    }
  } finally {
    await r.close()
  }
}

async function troupeMap(): Promise<Sample> {
  const t = await troupe()
  // The input exists before timing, as Python's range() does; three warm-ups, then the median of five.
  const xs = Array.from({ length: MAP }, (_, i) => i)
  for (let i = 0; i < 3; i++) await t.pool.map(inc, xs)
  const samples: Sample[] = []
  for (let i = 0; i < 5; i++) samples.push(await measureOps(MAP, () => t.pool.map(inc, xs)))
  await t.close()
  return { ops: median(samples.map((s) => s.ops)), cpuUs: median(samples.map((s) => s.cpuUs!)) }
}

async function troupeApply(): Promise<Sample> {
  const t = await troupe()
  return warmThenTime(APPLY, (n) => Promise.all(Array.from({ length: n }, (_, i) => t.pool.applyAsync(inc, [i])))).finally(() => t.close())
}

function python(mode: 'map' | 'apply', n: number): Promise<Sample> {
  const script = fileURLToPath(new URL('./pool-python.py', import.meta.url))
  const r = spawnSync('python3', [script, mode, String(n)], { encoding: 'utf8', timeout: 300_000 })
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr || r.error}`)
  return Promise.resolve(JSON.parse(r.stdout.trim().split('\n').pop()!) as Sample)
}

const specs: CaseSpec[] = [
  { name: 'small', contenders: { troupe: () => run(troupe, 'small'), piscina: () => run(piscina, 'small'), raw: () => run(raw, 'small') } },
  { name: 'bytes', contenders: { troupe: () => run(troupe, 'bytes'), piscina: () => run(piscina, 'bytes'), raw: () => run(raw, 'bytes') } },
  {
    name: 'strings',
    contenders: { troupe: () => run(troupe, 'strings'), piscina: () => run(piscina, 'strings'), raw: () => run(raw, 'strings'), 'troupe-process': () => run(() => troupe('process'), 'strings'), 'raw-ipc': () => run(rawIpc, 'strings') },
  },
  {
    name: 'string-results',
    contenders: { troupe: () => run(troupe, 'stringResults'), piscina: () => run(piscina, 'stringResults'), raw: () => run(raw, 'stringResults'), 'troupe-process': () => run(() => troupe('process'), 'stringResults'), 'raw-ipc': () => run(rawIpc, 'stringResults') },
  },
  {
    name: 'latency',
    busy: true,
    contenders: { troupe: () => run(troupe, 'latency'), piscina: () => run(piscina, 'latency'), raw: () => run(raw, 'latency'), 'raw-atomics': rawAtomicsLatency },
  },
  { name: 'map', contenders: { troupe: troupeMap, python: () => python('map', MAP) } },
  { name: 'apply', contenders: { troupe: troupeApply, python: () => python('apply', APPLY) } },
]

if (isMainModule(import.meta)) {
  await contest('pool', import.meta.url, specs, [
    'raw: a postMessage pool (round robin, one message per task and per result); raw-atomics: shared memory and Atomics.wait, no messages (latency floor)',
    'troupe-process: the same troupe Pool with kind "process" (the ratio shows threads vs processes); raw-ipc: the raw pool over 2 child processes (Node IPC, "advanced"), the ceiling of that transport',
    'latency ops/s = 1e6 / p50 µs; cpu-µs/op counts every thread and child process of the contender',
  ])
}
