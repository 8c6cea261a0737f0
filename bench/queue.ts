/**
 * bench queue: 100,000 small items producer -> consumer, thread -> thread and
 * process -> process, through a troupe Queue living in the main thread, next
 * to the raw transports it is built on:
 *   raw-port: two worker threads joined by a MessageChannel, one postMessage per item (pipelined);
 *   raw-ipc:  producer child -> parent -> consumer child over Node's IPC ('advanced' serialization),
 *             one message per item, relayed by the parent (the same route a troupe queue takes).
 * Each run starts its workers first and times from "go" to "consumer has all N".
 */
import { Worker, MessageChannel } from 'node:worker_threads'
import { fork } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Process, isMainModule, type Kind } from '../src/process/index.ts'
import { Queue } from '../src/sync/index.ts'
import { report, median, type Cases } from './lib.ts'

const N = Number(process.env.BENCH_ITEMS ?? 100_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)

/** Producer: wait for go, then put N small items. */
export async function producer(q: Queue<{ i: number; s: string }>, go: Queue<number>, ready: Queue<string>, n: number): Promise<void> {
  await ready.put('producer')
  await go.get()
  for (let i = 0; i < n; i++) await q.put({ i, s: 'item' })
  await q.flush()
}

/** Consumer: take N items, then report. */
export async function consumer(q: Queue<{ i: number; s: string }>, done: Queue<number>, ready: Queue<string>, n: number): Promise<void> {
  await ready.put('consumer')
  let got = 0
  let sum = 0
  for await (const item of q) {
    sum += item.i
    if (++got === n) break
  }
  await done.put(sum)
}

// CPU time of this whole process (all its threads) per item, for the thread cases: steadier than wall time on a shared machine.
const cpuPerItem: Record<string, number[]> = { troupe: [], 'raw-port': [] }

function cpuMicros(): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

async function troupeRun(kind: Kind, maxsize = 0): Promise<number> {
  const q = new Queue<{ i: number; s: string }>(maxsize)
  const go = new Queue<number>()
  const done = new Queue<number>()
  const ready = new Queue<string>()
  const p = new Process({ target: producer, args: [q, go, ready, N], kind })
  const c = new Process({ target: consumer, args: [q, done, ready, N], kind })
  await p.start()
  await c.start()
  await ready.get(); await ready.get()
  const t0 = process.hrtime.bigint()
  const cpu0 = cpuMicros()
  await go.put(1)
  await done.get()
  const ns = Number(process.hrtime.bigint() - t0)
  if (kind === 'thread' && maxsize === 0) cpuPerItem.troupe!.push((cpuMicros() - cpu0) / N)
  await Promise.all([p.join({ timeout: 10_000 }), c.join({ timeout: 10_000 })])
  await Promise.all([p.kill(), c.kill()])
  return N / (ns / 1e9)
}

const rawProducer = `
const { workerData, parentPort } = require('node:worker_threads');
const port = workerData.port;
parentPort.once('message', () => { for (let i = 0; i < workerData.n; i++) port.postMessage({ i, s: 'item' }); });
parentPort.postMessage('ready');`
const rawConsumer = `
const { workerData, parentPort } = require('node:worker_threads');
let got = 0; let sum = 0;
workerData.port.on('message', (m) => { sum += m.i; if (++got === workerData.n) { parentPort.postMessage(sum); process.exit(0); } });
parentPort.postMessage('ready');`

async function rawPortRun(): Promise<number> {
  const { port1, port2 } = new MessageChannel()
  const prod = new Worker(rawProducer, { eval: true, workerData: { port: port1, n: N }, transferList: [port1] })
  const cons = new Worker(rawConsumer, { eval: true, workerData: { port: port2, n: N }, transferList: [port2] })
  await Promise.all([prod, cons].map((w) => new Promise((r) => w.once('message', r))))
  const t0 = process.hrtime.bigint()
  const cpu0 = cpuMicros()
  const finished = new Promise((r) => cons.once('message', r))
  prod.postMessage('go')
  await finished
  const ns = Number(process.hrtime.bigint() - t0)
  cpuPerItem['raw-port']!.push((cpuMicros() - cpu0) / N)
  await Promise.all([prod.terminate(), cons.terminate()])
  return N / (ns / 1e9)
}

function rawIpcScripts(): { prod: string; cons: string } {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-bench-'))
  const prod = join(dir, 'prod.cjs')
  const cons = join(dir, 'cons.cjs')
  writeFileSync(prod, `process.once('message', (n) => { for (let i = 0; i < n; i++) process.send({ i, s: 'item' }); process.send('end'); }); process.send('ready');`)
  writeFileSync(cons, `let got = 0, sum = 0, n = -1; process.on('message', (m) => { if (n < 0) { n = m; return; } sum += m.i; if (++got === n) { process.send(sum, () => process.exit(0)); } }); process.send('ready');`)
  return { prod, cons }
}

async function rawIpcRun(scripts: { prod: string; cons: string }): Promise<number> {
  const opts = { serialization: 'advanced' as const, execArgv: [] as string[] }
  const prod = fork(scripts.prod, [], opts)
  const cons = fork(scripts.cons, [], opts)
  await Promise.all([prod, cons].map((c) => new Promise((r) => c.once('message', r))))
  cons.send(N)
  const finished = new Promise((r) => cons.once('message', r))
  // The parent relays each message, as the troupe queue's home does.
  prod.on('message', (m) => { if (m !== 'end') cons.send(m) })
  const t0 = process.hrtime.bigint()
  prod.send(N)
  await finished
  const ns = Number(process.hrtime.bigint() - t0)
  prod.kill(); cons.kill()
  return N / (ns / 1e9)
}

async function main(): Promise<void> {
  const scripts = rawIpcScripts()
  const samples: Record<string, Record<string, number[]>> = {
    'thread->thread': { troupe: [], 'raw-port': [] },
    'process->process': { troupe: [], 'raw-ipc': [] },
    'thread->thread maxsize 1000': { troupe: [] },
  }
  for (let r = 0; r < RUNS; r++) {
    samples['thread->thread']!.troupe!.push(await troupeRun('thread'))
    samples['thread->thread']!['raw-port']!.push(await rawPortRun())
    samples['process->process']!.troupe!.push(await troupeRun('process'))
    samples['process->process']!['raw-ipc']!.push(await rawIpcRun(scripts))
    samples['thread->thread maxsize 1000']!.troupe!.push(await troupeRun('thread', 1000))
  }
  const cases: Cases = {}
  for (const [name, byContender] of Object.entries(samples)) {
    cases[name] = Object.fromEntries(Object.entries(byContender).map(([k, xs]) => [k, median(xs)]))
  }
  report('queue', cases, [
    `${N.toLocaleString('en-US')} items of { i, s } per run, median of ${RUNS} runs; items/s from "go" to "consumer has all".`,
    'troupe: producer and consumer Processes share a Queue living in the main thread (2 hops per item, batched);',
    '  "maxsize 1000": the same with a bounded queue (producers reserve slots in batches, backpressure exact).',
    'raw-port: direct MessageChannel between the two threads (1 hop). raw-ipc: child -> parent -> child relay, one message per item.',
    `thread->thread CPU per item, all threads (median): troupe ${median(cpuPerItem.troupe!).toFixed(2)} µs, raw-port ${median(cpuPerItem['raw-port']!).toFixed(2)} µs.`,
  ])
}

if (isMainModule(import.meta)) await main()
