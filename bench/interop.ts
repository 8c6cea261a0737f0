/**
 * `npm run bench -- interop`: troupe speaking CPython's manager protocol,
 * against CPython itself (3.11 through pyenv), in one run.
 *
 * - python client -> server: the same Python BaseManager client script
 *   (sequential put x N, get x N, then qsize x N) against a troupe manager and
 *   against a CPython BaseManager server.
 * - client -> CPython server: troupe's `dialect: 'python'` client doing the same
 *   sequential put/get against the CPython server, vs the Python client.
 * - pickle: encode/decode of a manager request carrying the must-show tuple,
 *   troupe's codec vs CPython's C pickle (and v8 as a Node reference).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { BaseManager, SharedQueue, connect } from '../src/manager/index.ts'
import { encodePickle, decodePickle, encodeV8, decodeV8, tuple } from '../src/codec/index.ts'
import { PythonChannel } from '../src/manager/python/index.ts'
import { report, median, opsPerSecond } from './lib.ts'

const N = Number(process.env.BENCH_ITEMS ?? 5000)
const CODEC_N = Number(process.env.BENCH_CODEC ?? 100_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const PY = { cmd: 'python3.11', env: { ...process.env, PYENV_VERSION: '3.11.7' } }
const script = fileURLToPath(new URL('./interop_py.py', import.meta.url))

function py(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(PY.cmd, [script, ...args], { env: PY.env })
    let out = ''
    let err = ''
    c.stdout.on('data', (d) => { out += d })
    c.stderr.on('data', (d) => { err += d })
    c.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`python ${args[0]} failed: ${err}`))))
  })
}

async function cpythonServer(): Promise<{ port: number; stop(): void }> {
  const c = spawn(PY.cmd, [script, 'server', 'bench'], { env: PY.env })
  const port = await new Promise<number>((resolve, reject) => {
    c.stdout.on('data', (d) => { const m = /ready (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])) })
    c.on('exit', (code) => reject(new Error(`CPython server exited ${code}`)))
  })
  return { port, stop: () => c.kill('SIGKILL') }
}

async function pyClient(port: number): Promise<{ putget: number; rpc: number }> {
  return JSON.parse(await py(['client', '127.0.0.1', String(port), 'bench', String(N)]))
}

const troupeServed = { putget: [] as number[], rpc: [] as number[] }
const cpythonServed = { putget: [] as number[], rpc: [] as number[] }
const nodeOnCpython: number[] = []
const conns = { troupe: [] as number[], cpython: [] as number[] }
const CONNS = Number(process.env.BENCH_CONNS ?? 40)
const enc = { troupe: [] as number[], v8: [] as number[], cpython: [] as number[] }
const dec = { troupe: [] as number[], v8: [] as number[], cpython: [] as number[] }

const manager = new BaseManager({ address: '127.0.0.1:0', authkey: 'bench', log: false }).register('get_queue', () => queue)
const queue = new SharedQueue()
await manager.serve()
const troupePort = Number(manager.address.split(':')[1])
const cpy = await cpythonServer()

const request = tuple('7f4385bb4750', 'put', tuple(tuple(1, 'a', null, 2.5, Buffer.from('x'), [1, 2], new Map([['k', true]]), 2n ** 70n, -1, new Set([1, 2]), 'é☃😀')), new Map())
const requestBytes = encodePickle(request)
const v8Bytes = encodeV8(request)

// Warm the JIT so the codec rows measure steady state, as CPython's C pickler has no warm-up.
for (let i = 0; i < 20_000; i++) { decodePickle(encodePickle(request)); decodeV8(encodeV8(request)) }

try {
  for (let round = 0; round < ROUNDS; round++) {
    const a = await pyClient(troupePort)
    troupeServed.putget.push(a.putget); troupeServed.rpc.push(a.rpc)
    const b = await pyClient(cpy.port)
    cpythonServed.putget.push(b.putget); cpythonServed.rpc.push(b.rpc)

    const m = await connect({ address: `127.0.0.1:${cpy.port}`, authkey: 'bench', dialect: 'python' })
    const q = await m.create('get_queue')
    // Warm up (JIT, pooled connection), as the Python client's first put/get does before its timer.
    for (let i = 0; i < 500; i++) { await q.put(i); await q.get() }
    nodeOnCpython.push(await opsPerSecond(N, async () => {
      for (let i = 0; i < N; i++) await q.put(i)
      for (let i = 0; i < N; i++) await q.get()
    }))
    await m.shutdown()

    // Each PythonChannel.open is one control connection (handshake + dummy), as Python's Client + dispatch.
    conns.troupe.push(await opsPerSecond(CONNS, async () => {
      for (let i = 0; i < CONNS; i++) (await PythonChannel.open({ address: { kind: 'tcp', host: '127.0.0.1', port: cpy.port }, authkey: 'bench' })).close()
    }))
    conns.cpython.push((JSON.parse(await py(['conns', '127.0.0.1', String(cpy.port), 'bench', String(CONNS)])) as { conns: number }).conns)

    enc.troupe.push(await opsPerSecond(CODEC_N, () => { for (let i = 0; i < CODEC_N; i++) encodePickle(request) }))
    dec.troupe.push(await opsPerSecond(CODEC_N, () => { for (let i = 0; i < CODEC_N; i++) decodePickle(requestBytes) }))
    enc.v8.push(await opsPerSecond(CODEC_N, () => { for (let i = 0; i < CODEC_N; i++) encodeV8(request) }))
    dec.v8.push(await opsPerSecond(CODEC_N, () => { for (let i = 0; i < CODEC_N; i++) decodeV8(v8Bytes) }))
    const c = JSON.parse(await py(['codec', String(CODEC_N)])) as { dumps: number; loads: number }
    enc.cpython.push(c.dumps); dec.cpython.push(c.loads)
  }
} finally {
  cpy.stop()
  await manager.shutdown()
}

report('interop', {
  'python 3.11 client -> server: put+get items/s': { troupe: median(troupeServed.putget), cpython: median(cpythonServed.putget) },
  'python 3.11 client -> server: qsize calls/s': { troupe: median(troupeServed.rpc), cpython: median(cpythonServed.rpc) },
  'client -> CPython 3.11 server: put+get items/s': { troupe: median(nodeOnCpython), cpython: median(cpythonServed.putget) },
  'new control connection to CPython server (handshake + dummy), conns/s': { troupe: median(conns.troupe), cpython: median(conns.cpython) },
  'pickle encode, request with must-show tuple': { troupe: median(enc.troupe), cpython: median(enc.cpython), v8: median(enc.v8) },
  'pickle decode, request with must-show tuple': { troupe: median(dec.troupe), cpython: median(dec.cpython), v8: median(dec.v8) },
}, [
  `N=${N} sequential calls per client run, codec ${CODEC_N} ops, median of ${ROUNDS} rounds; 2 shared vCPUs.`,
  'troupe row 1-2: the Python client talks to a troupe manager; cpython: the same client to a CPython BaseManager.',
  "troupe row 3: troupe's python-dialect client (one call at a time) vs the Python client, both on the CPython server.",
  'row 4: Python clients pay ~44 ms per new connection (Nagle + delayed ACK, reference 1.2); troupe sets TCP_NODELAY.',
])
