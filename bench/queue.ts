/**
 * bench queue: 100,000 small items producer -> consumer, thread -> thread and
 * process -> process, through a troupe Queue living in the main thread, next
 * to the raw transports it is built on:
 *   raw-port: two worker threads joined by a MessageChannel, one postMessage per item (pipelined);
 *   raw-ipc:  producer child -> parent -> consumer child over Node's IPC ('advanced' serialization),
 *             one message per item, relayed by the parent (the same route a troupe queue takes).
 * Each run starts its workers first and times from "go" to "consumer has all N".
 * "thread strings": the same with 20,000 items whose `s` is a 64 KiB string.
 * Every contender runs in a fresh process, interleaved (`--runs N`, default 3).
 */
import { Worker, MessageChannel } from 'node:worker_threads'
import { fork } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Process, isMainModule, type Kind } from '../src/process/index.ts'
import { Queue } from '../src/sync/index.ts'
import { contest, measureOps, type CaseSpec, type Sample } from './lib.ts'

const N = Number(process.env.BENCH_ITEMS ?? 100_000)
const STRINGS = 20_000

type Item = { i: number; s: string }
const small = (i: number): Item => ({ i, s: 'item' })
let strs: string[] | undefined
// Flat one-byte 64 KiB strings, as JSON.parse or a file read makes them; 256 reused in turn.
const big = (i: number): Item => ({ i, s: (strs ??= Array.from({ length: 256 }, (_, k) => Buffer.alloc(64 * 1024, 65 + (k % 26)).toString('latin1')))[i & 255]! })

/** Producer: wait for go, then put N items (small, or with 64 KiB strings). */
export async function producer(q: Queue<Item>, go: Queue<number>, ready: Queue<string>, n: number, strings: number): Promise<void> {
  const item = strings ? big : small
  if (strings) item(0)
  await ready.put('producer')
  await go.get()
  for (let i = 0; i < n; i++) await q.put(item(i))
  await q.flush()
}

/** Consumer: take N items, then report. */
export async function consumer(q: Queue<Item>, done: Queue<number>, ready: Queue<string>, n: number): Promise<void> {
  await ready.put('consumer')
  let got = 0
  let sum = 0
  for await (const item of q) {
    sum += item.i
    if (++got === n) break
  }
  await done.put(sum)
}

async function troupeRun(kind: Kind, maxsize = 0, item: (i: number) => Item = small, n = N): Promise<Sample> {
  const q = new Queue<Item>(maxsize)
  const go = new Queue<number>()
  const done = new Queue<number>()
  const ready = new Queue<string>()
  const p = new Process({ target: producer, args: [q, go, ready, n, item === small ? 0 : 1], kind })
  const c = new Process({ target: consumer, args: [q, done, ready, n], kind })
  await p.start()
  await c.start()
  await ready.get(); await ready.get()
  const s = await measureOps(n, async () => {
    await go.put(1)
    await done.get()
  })
  await Promise.all([p.join({ timeout: 10_000 }), c.join({ timeout: 10_000 })])
  await Promise.all([p.kill(), c.kill()])
  return s
}

const rawProducer = `
const { workerData, parentPort } = require('node:worker_threads');
const port = workerData.port;
const strs = workerData.strings ? Array.from({ length: 256 }, (_, i) => Buffer.alloc(65536, 65 + (i % 26)).toString('latin1')) : null;
parentPort.once('message', () => { for (let i = 0; i < workerData.n; i++) port.postMessage({ i, s: strs ? strs[i & 255] : 'item' }); });
parentPort.postMessage('ready');`
const rawConsumer = `
const { workerData, parentPort } = require('node:worker_threads');
let got = 0; let sum = 0;
workerData.port.on('message', (m) => { sum += m.i; if (++got === workerData.n) { parentPort.postMessage(sum); process.exit(0); } });
parentPort.postMessage('ready');`

async function rawPortRun(strings = false, n = N): Promise<Sample> {
  const { port1, port2 } = new MessageChannel()
  const prod = new Worker(rawProducer, { eval: true, workerData: { port: port1, n, strings }, transferList: [port1] })
  const cons = new Worker(rawConsumer, { eval: true, workerData: { port: port2, n }, transferList: [port2] })
  await Promise.all([prod, cons].map((w) => new Promise((r) => w.once('message', r))))
  const finished = new Promise((r) => cons.once('message', r))
  const s = await measureOps(n, async () => {
    prod.postMessage('go')
    await finished
  })
  await Promise.all([prod.terminate(), cons.terminate()])
  return s
}

function rawIpcScripts(): { prod: string; cons: string } {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-bench-'))
  const prod = join(dir, 'prod.cjs')
  const cons = join(dir, 'cons.cjs')
  writeFileSync(prod, `process.once('message', (n) => { for (let i = 0; i < n; i++) process.send({ i, s: 'item' }); process.send('end'); }); process.send('ready');`)
  writeFileSync(cons, `let got = 0, sum = 0, n = -1; process.on('message', (m) => { if (n < 0) { n = m; return; } sum += m.i; if (++got === n) { process.send(sum, () => process.exit(0)); } }); process.send('ready');`)
  return { prod, cons }
}

async function rawIpcRun(): Promise<Sample> {
  const scripts = rawIpcScripts()
  const opts = { serialization: 'advanced' as const, execArgv: [] as string[] }
  const prod = fork(scripts.prod, [], opts)
  const cons = fork(scripts.cons, [], opts)
  await Promise.all([prod, cons].map((c) => new Promise((r) => c.once('message', r))))
  cons.send(N)
  const finished = new Promise((r) => cons.once('message', r))
  // The parent relays each message, as the troupe queue's home does.
  prod.on('message', (m) => { if (m !== 'end') cons.send(m) })
  const s = await measureOps(N, async () => {
    prod.send(N)
    await finished
  })
  prod.kill(); cons.kill()
  return s
}

const specs: CaseSpec[] = [
  { name: 'thread->thread', contenders: { troupe: () => troupeRun('thread'), 'raw-port': () => rawPortRun() } },
  { name: 'process->process', contenders: { troupe: () => troupeRun('process'), 'raw-ipc': rawIpcRun } },
  { name: 'thread->thread maxsize 1000', contenders: { troupe: () => troupeRun('thread', 1000) } },
  { name: 'thread strings', contenders: { troupe: () => troupeRun('thread', 0, big, STRINGS), 'raw-port': () => rawPortRun(true, STRINGS) } },
]

if (isMainModule(import.meta)) {
  await contest('queue', import.meta.url, specs, [
    `${N.toLocaleString('en-US')} items of { i, s } per run ("strings": ${STRINGS.toLocaleString('en-US')} items whose s is a 64 KiB string); items/s from "go" to "consumer has all".`,
    'troupe: producer and consumer Processes share a Queue living in the main thread (2 hops per item, batched);',
    '  "maxsize 1000": the same with a bounded queue (producers reserve slots in batches, backpressure exact).',
    'raw-port: direct MessageChannel between the two threads (1 hop). raw-ipc: child -> parent -> child relay, one message per item.',
  ])
}
