/**
 * `npm run bench -- manager`: a manager's queue and RPC speed, troupe against
 * CPython's BaseManager (through `python3`, same shapes, same machine, same run).
 *
 * - queue:    producer process -> manager -> consumer process over TCP (127.0.0.1)
 * - joinable: the same with taskDone per item and the producer joining
 * - rpc:      sequential calls on one proxy (client process -> manager process)
 *
 * troupe's producer issues puts without awaiting each (they are pipelined and
 * coalesced into one frame per event-loop turn); its consumer iterates with
 * `for await`, which fetches up to 512 items per round trip. Python's
 * proxies allow one call at a time per connection, so its shape is the plain loop.
 */
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'
import { BaseManager, Manager, SharedQueue, SharedJoinableQueue, typed } from '../src/manager/index.ts'
import { contest, measureLatency, measureOps, type CaseSpec, type Sample } from './lib.ts'

const ITEMS = Number(process.env.BENCH_ITEMS ?? 100_000)
const RPC_CALLS = Number(process.env.BENCH_RPC ?? 20_000)
const PY_ITEMS = Number(process.env.BENCH_PY_ITEMS ?? 20_000)
const PY_RPC = Number(process.env.BENCH_PY_RPC ?? 5000)
const AUTHKEY = 'bench'
const self = fileURLToPath(import.meta.url)

// ---- child roles -------------------------------------------------------------

async function role(name: string, address: string, kind: 'queue' | 'joinable', n: number): Promise<void> {
  const m = await new BaseManager({ address, authkey: AUTHKEY })
    .register('q', typed<SharedJoinableQueue<number>>())
    .connect()
  const q = await m.q()
  console.log('ready')
  await new Promise<void>((r) => process.stdin.once('data', () => r()))
  if (name === 'producer') {
    // Two chunks of puts in flight at a time: one being answered while the next is sent.
    const CHUNK = 2000
    let previous: Promise<unknown> | undefined
    for (let i = 0; i < n; i += CHUNK) {
      const puts: Promise<void>[] = []
      for (let k = i; k < Math.min(n, i + CHUNK); k++) puts.push(q.put(k))
      if (previous) await previous
      previous = Promise.all(puts)
    }
    await previous
    if (kind === 'joinable') await q.join()
  } else {
    let got = 0
    const acks: Promise<void>[] = []
    for await (const x of q) {
      void x
      if (kind === 'joinable') acks.push(q.taskDone())
      if (++got === n) break
      if (acks.length >= 4096) { await Promise.all(acks); acks.length = 0 }
    }
    await Promise.all(acks)
  }
  console.log('done')
  await m.shutdown()
  process.exit(0)
}

// ---- troupe contender --------------------------------------------------------

function child(roleName: string, address: string, kind: string, n: number) {
  const p = spawn(process.execPath, ['--import', 'tsx', self, '--role', roleName, address, kind, String(n)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  const waitFor = (word: string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (out.includes(word)) { p.stdout!.off('data', on); resolve() } }
    const on = (d: Buffer) => { out += d; check() }
    p.stdout!.on('data', on)
    p.once('exit', (c) => { if (!out.includes(word)) reject(new Error(`${roleName} exited ${c} before '${word}'`)) })
    check()
  })
  return { p, waitFor }
}

async function troupeQueue(kind: 'queue' | 'joinable'): Promise<Sample> {
  const q = kind === 'queue' ? new SharedQueue<number>() : new SharedJoinableQueue<number>()
  const m = await new BaseManager({ address: '127.0.0.1:0', authkey: AUTHKEY }).register('q', () => q).serve()
  const prod = child('producer', m.address, kind, ITEMS)
  const cons = child('consumer', m.address, kind, ITEMS)
  await Promise.all([prod.waitFor('ready'), cons.waitFor('ready')])
  const s = await measureOps(ITEMS, async () => {
    prod.p.stdin!.write('go\n')
    cons.p.stdin!.write('go\n')
    // The producer finishing `join` (joinable) or the consumer receiving the last item (queue) ends the clock.
    await Promise.all([prod.waitFor('done'), cons.waitFor('done')])
  })
  await m.shutdown()
  return s
}

async function troupeRpc(poll = true): Promise<Sample> {
  const m = await new Manager({ authkey: AUTHKEY, poll }).start()
  const v = await m.Value('i', 0)
  for (let i = 0; i < 2000; i++) await v.get()
  const s = await measureLatency(RPC_CALLS, () => v.get())
  await m.shutdown()
  return s
}

/** A bare Node TCP echo (one process each end, a 40-byte message, no framing or codec, no polling): the floor. */
async function rawEcho(): Promise<Sample> {
  const server = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/tcp-echo.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = Number(await new Promise<string>((r) => server.stdout.once('data', (d) => r(String(d)))))
  const s = connect(port, '127.0.0.1')
  s.setNoDelay(true)
  await new Promise((r) => s.once('connect', r))
  let answered: () => void = () => {}
  s.on('data', () => answered())
  const msg = Buffer.alloc(40)
  const once = () => new Promise<void>((r) => { answered = r; s.write(msg) })
  for (let i = 0; i < 2000; i++) await once()
  const sample = await measureLatency(RPC_CALLS, once)
  s.destroy()
  server.stdin.end()
  return sample
}

// ---- python contender --------------------------------------------------------

function python(mode: 'queue' | 'joinable' | 'rpc', n: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', [fileURLToPath(new URL('./manager_py.py', import.meta.url)), mode, String(n)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    const t = setTimeout(() => p.kill('SIGKILL'), 300_000)
    p.on('exit', () => {
      clearTimeout(t)
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (!line) return reject(new Error(`manager_py.py ${mode} printed no result`))
      const r = JSON.parse(line) as { ops: number; p50?: number; p99?: number }
      // Python's rpc is sequential too: its ops/s is 1e6 / p50, as troupe's.
      resolve(r.p50 !== undefined ? { ops: 1e6 / r.p50, p50: r.p50, p99: r.p99 } : { ops: r.ops })
    })
  })
}

// ---- main --------------------------------------------------------------------

const specs: CaseSpec[] = [
  { name: 'queue', contenders: { troupe: () => troupeQueue('queue'), python: () => python('queue', PY_ITEMS) } },
  { name: 'joinable', contenders: { troupe: () => troupeQueue('joinable'), python: () => python('joinable', PY_ITEMS >> 1) } },
  { name: 'rpc', busy: true, contenders: { troupe: () => troupeRpc(), python: () => python('rpc', PY_RPC), 'troupe-no-poll': () => troupeRpc(false), 'raw-echo': rawEcho } },
]

const at = process.argv.indexOf('--role')
if (at >= 0) await role(process.argv[at + 1]!, process.argv[at + 2]!, process.argv[at + 3] as 'queue' | 'joinable', Number(process.argv[at + 4]))
else {
  await contest('manager', import.meta.url, specs, [
    `troupe: ${ITEMS.toLocaleString('en-US')} items per queue case, ${RPC_CALLS.toLocaleString('en-US')} rpc calls; python: ${PY_ITEMS.toLocaleString('en-US')} items (joinable half that), ${PY_RPC.toLocaleString('en-US')} rpc calls (it is slower)`,
    'rpc ops/s = 1e6 / p50 µs (sequential calls on one proxy, client process -> manager process); "+busy": a core-burning neighbour',
    'troupe-no-poll: the same with `poll: false`: neither the client nor the server polls (both do by default, while that pays)',
    'raw-echo: a bare Node TCP echo between two processes (40 bytes, no framing, codec or polling): the floor without polling',
  ])
}
