/**
 * `npm run bench -- actors`: troupe actors side by side with nact (local
 * cases) and a raw MessagePort (thread case), in one run.
 *
 *   tell         1,000,000 fire-and-forget messages to a local actor
 *   pingpong     100,000 round trips between two local actors
 *   ask          100,000 sequential asks to a local actor
 *   thread-tell  1,000,000 messages to an actor in a worker thread
 *
 * Each case runs WARMUP untimed rounds, then REPEAT timed rounds; the median is reported.
 */
import { Worker as NodeWorker } from 'node:worker_threads'
import nactTyped from 'nact'
import { Actor, spawn, type ActorRef } from '../src/actor/index.ts'
import { isMainModule } from '../src/process/index.ts'
import { median, opsPerSecond, report, type Cases } from './lib.ts'

const TELL = 1_000_000
const PINGPONG = 100_000
const ASK = 100_000
const THREAD_TELL = 1_000_000
const REPEAT = 5
const WARMUP = 2
// nact's typings omit dispatch's sender argument, which pingpong needs.
const nact = nactTyped as any

/** Counts messages and calls back at a target count (local). */
export class CountTo extends Actor<number> {
  private n = 0
  constructor(private readonly target: number, private readonly done: () => void) { super() }
  receive(): void {
    if (++this.n === this.target) this.done()
  }
}

/** Counts messages; answers 'count' (used in a thread). */
export class Count extends Actor<number | 'count'> {
  private n = 0
  receive(msg: number | 'count'): number | undefined {
    if (msg === 'count') return this.n
    this.n++
    return undefined
  }
}

/** Answers each ping by sending 'pong' to the ref inside it. */
export class Ponger extends Actor<ActorRef<'pong'>> {
  receive(from: ActorRef<'pong'>): void {
    from.send('pong')
  }
}

/** Serves pings until `rounds` pongs came back. */
export class Pinger extends Actor<'go' | 'pong'> {
  private n = 0
  constructor(private readonly ponger: ActorRef<ActorRef<'pong'>>, private readonly rounds: number, private readonly done: () => void) { super() }
  receive(msg: 'go' | 'pong'): void {
    if (msg === 'pong' && ++this.n === this.rounds) return this.done()
    this.ponger.send(this.self)
  }
}

/** Answers every ask with 1. */
export class One extends Actor<unknown> {
  receive(): number { return 1 }
}

async function troupeTell(): Promise<number> {
  let done!: () => void
  const finished = new Promise<void>((r) => { done = r })
  const a = spawn(CountTo, { args: [TELL, done] })
  const ops = await opsPerSecond(TELL, async () => {
    for (let i = 0; i < TELL; i++) a.send(i)
    await finished
  })
  await a.stop()
  return ops
}

async function nactTell(system: any): Promise<number> {
  let n = 0
  let done!: () => void
  const finished = new Promise<void>((r) => { done = r })
  const a = nact.spawnStateless(system, () => { if (++n === TELL) done() })
  const ops = await opsPerSecond(TELL, async () => {
    for (let i = 0; i < TELL; i++) nact.dispatch(a, i)
    await finished
  })
  nact.stop(a)
  return ops
}

async function troupePingPong(): Promise<number> {
  let done!: () => void
  const finished = new Promise<void>((r) => { done = r })
  const ponger = spawn(Ponger)
  const pinger = spawn(Pinger, { args: [ponger, PINGPONG, done] })
  const ops = await opsPerSecond(PINGPONG, async () => {
    pinger.send('go')
    await finished
  })
  await pinger.stop()
  await ponger.stop()
  return ops
}

async function nactPingPong(system: any): Promise<number> {
  let n = 0
  let done!: () => void
  const finished = new Promise<void>((r) => { done = r })
  const ponger = nact.spawnStateless(system, (_msg: unknown, ctx: any) => nact.dispatch(ctx.sender, 'pong', ctx.self))
  const pinger = nact.spawnStateless(system, (msg: unknown, ctx: any) => {
    if (msg === 'pong' && ++n === PINGPONG) return done()
    nact.dispatch(ponger, 'ping', ctx.self)
  })
  const ops = await opsPerSecond(PINGPONG, async () => {
    nact.dispatch(pinger, 'go')
    await finished
  })
  nact.stop(pinger)
  nact.stop(ponger)
  return ops
}

async function troupeAsk(): Promise<number> {
  const one = spawn(One)
  const ops = await opsPerSecond(ASK, async () => {
    for (let i = 0; i < ASK; i++) await one.ask(i)
  })
  await one.stop()
  return ops
}

async function nactAsk(system: any): Promise<number> {
  const one = nact.spawnStateless(system, (msg: { sender: unknown }) => nact.dispatch(msg.sender as any, 1))
  const ops = await opsPerSecond(ASK, async () => {
    for (let i = 0; i < ASK; i++) await nact.query(one, (sender: unknown) => ({ sender }), 10_000)
  })
  nact.stop(one)
  return ops
}

async function troupeThreadTell(): Promise<number> {
  const c = spawn(Count, { on: 'thread' })
  await c.ask('count', { timeout: 30_000 }) // started
  const ops = await opsPerSecond(THREAD_TELL, async () => {
    for (let i = 0; i < THREAD_TELL; i++) c.send(i)
    const n = await c.ask('count', { timeout: 60_000 })
    if (n !== THREAD_TELL) throw new Error(`thread actor counted ${n}, expected ${THREAD_TELL}`)
  })
  await c.stop()
  return ops
}

// The contender: one postMessage per message on a bare worker that counts and answers at the end.
const rawWorker = `
const { parentPort } = require('node:worker_threads');
let n = 0;
parentPort.on('message', (m) => { if (m === 'count') parentPort.postMessage(n); else n++; });
`

async function rawPortThreadTell(): Promise<number> {
  const w = new NodeWorker(rawWorker, { eval: true })
  const answer = () => new Promise<number>((r) => w.once('message', r))
  w.postMessage('count')
  await answer()
  const ops = await opsPerSecond(THREAD_TELL, async () => {
    for (let i = 0; i < THREAD_TELL; i++) w.postMessage(i)
    w.postMessage('count')
    await answer()
  })
  await w.terminate()
  return ops
}

async function measure(fn: () => Promise<number>): Promise<number> {
  // Warm-up rounds let the JIT settle for every contender alike.
  for (let i = 0; i < WARMUP; i++) await fn()
  const xs: number[] = []
  for (let i = 0; i < REPEAT; i++) {
    (globalThis as { gc?: () => void }).gc?.()
    xs.push(await fn())
  }
  return median(xs)
}

async function main(): Promise<void> {
  const system = nact.start()
  const cases: Cases = {
    tell: { troupe: await measure(troupeTell), nact: await measure(() => nactTell(system)) },
    pingpong: { troupe: await measure(troupePingPong), nact: await measure(() => nactPingPong(system)) },
    ask: { troupe: await measure(troupeAsk), nact: await measure(() => nactAsk(system)) },
    'thread-tell': { troupe: await measure(troupeThreadTell), 'raw-port': await measure(rawPortThreadTell) },
  }
  nact.stop(system)
  report('actors', cases, [
    `goals: tell >= 10M/s, pingpong >= 2M/s, ask >= 1M/s, thread-tell >= 1M/s (median of ${REPEAT} after ${WARMUP} warm-ups; CPU shared with other jobs)`,
  ])
}

// No top-level await: the thread case locates Count by importing this module.
if (isMainModule(import.meta)) main().catch((err) => { console.error(err); process.exit(1) })
