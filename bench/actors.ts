/**
 * `npm run bench -- actors [--runs N] [--only case,...]`: troupe actors
 * against nact, naive hand-written actors and a raw MessagePort, every
 * contender in a fresh process, interleaved (see `contest` in lib.ts).
 *
 *   tell                1,000,000 fire-and-forget messages to a local actor
 *   pingpong            100,000 round trips between two local actors
 *   ask                 100,000 sequential asks to a local actor
 *   ask-timeout         the same, each `ask(i, { timeout: 5000 })` (+busy)
 *   thread-tell         1,000,000 messages to an actor in a worker thread
 *   thread-ask          20,000 sequential asks to a thread actor (+busy)
 *   thread-ask-timeout  the same, each with a 5 s timeout (+busy)
 *   thread-strings      20,000 messages `{ i, s }` with a 64 KiB string to a thread actor
 *
 * naive: a hand-written actor (an array mailbox drained in one microtask; asks
 * are a promise in the message, with one setTimeout per ask when a timeout is
 * asked for). raw: a bare worker on its parentPort (echo, or count and answer
 * at the end); with a timeout, one setTimeout per ask.
 */
import { Worker as NodeWorker } from 'node:worker_threads'
import nactTyped from 'nact'
import { Actor, spawn, type ActorRef } from '../src/actor/index.ts'
import { isMainModule } from '../src/process/index.ts'
import { contest, measureLatency, measureOps, type CaseSpec, type Sample } from './lib.ts'

const TELL = 1_000_000
const PINGPONG = 100_000
const ASK = 100_000
const THREAD_TELL = 1_000_000
const THREAD_ASK = 20_000
const THREAD_STRINGS = 20_000
const TIMEOUT = 5000
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

/** Counts messages; answers 'count' with how many (used in a thread). */
export class Count extends Actor<unknown> {
  private n = 0
  receive(msg: unknown): number | undefined {
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

/** Answers every ask with its message. */
export class Echo extends Actor<unknown> {
  receive(msg: unknown): unknown { return msg }
}

// ---- the naive actor: what someone writes in ten lines ----

/** An array mailbox drained in one microtask; asks carry their own resolve. */
class NaiveActor<M> {
  private q: M[] = []
  private scheduled = false
  constructor(private readonly handle: (m: M) => void) {}
  send(m: M): void {
    this.q.push(m)
    if (!this.scheduled) { this.scheduled = true; queueMicrotask(() => this.drain()) }
  }
  private drain(): void {
    this.scheduled = false
    const q = this.q
    this.q = []
    for (let i = 0; i < q.length; i++) this.handle(q[i]!)
  }
}

interface NaiveAsk { m: unknown; reply: (v: unknown) => void }

function naiveAsk(a: NaiveActor<NaiveAsk>, m: unknown, timeout?: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (timeout === undefined) return a.send({ m, reply: resolve })
    const t = setTimeout(() => reject(new Error('timeout')), timeout)
    a.send({ m, reply: (v) => { clearTimeout(t); resolve(v) } })
  })
}

/** Run `fn` twice untimed (JIT warm-up), then time it. */
async function warm(ops: number, fn: () => Promise<unknown>): Promise<Sample> {
  await fn()
  await fn()
  ;(globalThis as { gc?: () => void }).gc?.()
  return measureOps(ops, fn)
}

// ---- local cases ----

async function troupeTell(): Promise<Sample> {
  return warm(TELL, async () => {
    let done!: () => void
    const finished = new Promise<void>((r) => { done = r })
    const a = spawn(CountTo, { args: [TELL, done] })
    for (let i = 0; i < TELL; i++) a.send(i)
    await finished
    await a.stop()
  })
}

async function nactTell(): Promise<Sample> {
  const system = nact.start()
  return warm(TELL, async () => {
    let n = 0
    let done!: () => void
    const finished = new Promise<void>((r) => { done = r })
    const a = nact.spawnStateless(system, () => { if (++n === TELL) done() })
    for (let i = 0; i < TELL; i++) nact.dispatch(a, i)
    await finished
    nact.stop(a)
  })
}

async function naiveTell(): Promise<Sample> {
  return warm(TELL, async () => {
    let n = 0
    let done!: () => void
    const finished = new Promise<void>((r) => { done = r })
    const a = new NaiveActor<number>(() => { if (++n === TELL) done() })
    for (let i = 0; i < TELL; i++) a.send(i)
    await finished
  })
}

async function troupePingPong(): Promise<Sample> {
  return warm(PINGPONG, async () => {
    let done!: () => void
    const finished = new Promise<void>((r) => { done = r })
    const ponger = spawn(Ponger)
    const pinger = spawn(Pinger, { args: [ponger, PINGPONG, done] })
    pinger.send('go')
    await finished
    await pinger.stop()
    await ponger.stop()
  })
}

async function nactPingPong(): Promise<Sample> {
  const system = nact.start()
  return warm(PINGPONG, async () => {
    let n = 0
    let done!: () => void
    const finished = new Promise<void>((r) => { done = r })
    const ponger = nact.spawnStateless(system, (_msg: unknown, ctx: any) => nact.dispatch(ctx.sender, 'pong', ctx.self))
    const pinger = nact.spawnStateless(system, (msg: unknown, ctx: any) => {
      if (msg === 'pong' && ++n === PINGPONG) return done()
      nact.dispatch(ponger, 'ping', ctx.self)
    })
    nact.dispatch(pinger, 'go')
    await finished
    nact.stop(pinger)
    nact.stop(ponger)
  })
}

async function troupeAsk(timeout?: number): Promise<Sample> {
  const one = spawn(Echo)
  const opts = timeout === undefined ? undefined : { timeout }
  const s = await warm(ASK, async () => { for (let i = 0; i < ASK; i++) await one.ask(i, opts) })
  await one.stop()
  return s
}

async function nactAsk(): Promise<Sample> {
  // nact's query always takes a timeout (it arms one per query).
  const system = nact.start()
  const one = nact.spawnStateless(system, (msg: { sender: unknown; i: number }) => nact.dispatch(msg.sender as any, msg.i))
  return warm(ASK, async () => { for (let i = 0; i < ASK; i++) await nact.query(one, (sender: unknown) => ({ sender, i }), TIMEOUT) })
}

async function naiveAskCase(timeout?: number): Promise<Sample> {
  const one = new NaiveActor<NaiveAsk>((x) => x.reply(x.m))
  return warm(ASK, async () => { for (let i = 0; i < ASK; i++) await naiveAsk(one, i, timeout) })
}

// ---- thread cases ----

async function troupeThreadTell(): Promise<Sample> {
  const c = spawn(Count, { on: 'thread' })
  await c.ask('count', { timeout: 30_000 }) // started
  let sent = 0
  const s = await warm(THREAD_TELL, async () => {
    for (let i = 0; i < THREAD_TELL; i++) c.send(i)
    sent += THREAD_TELL
    const n = await c.ask('count', { timeout: 60_000 })
    if (n !== sent) throw new Error(`thread actor counted ${n}, expected ${sent}`)
  })
  await c.stop()
  return s
}

async function troupeThreadStrings(): Promise<Sample> {
  const c = spawn(Count, { on: 'thread' })
  await c.ask('count', { timeout: 30_000 })
  const strs = flatStrings()
  let sent = 0
  const s = await warm(THREAD_STRINGS, async () => {
    for (let i = 0; i < THREAD_STRINGS; i++) c.send({ i, s: strs[i & 255] })
    sent += THREAD_STRINGS
    const n = await c.ask('count', { timeout: 60_000 })
    if (n !== sent) throw new Error(`thread actor counted ${n}, expected ${sent}`)
  })
  await c.stop()
  return s
}

async function troupeThreadAsk(timeout?: number): Promise<Sample> {
  const e = spawn(Echo, { on: 'thread' })
  const opts = timeout === undefined ? undefined : { timeout }
  await e.ask(0, { timeout: 30_000 })
  for (let i = 0; i < THREAD_ASK >> 2; i++) await e.ask(i, opts)
  const s = await measureLatency(THREAD_ASK, (i) => e.ask(i, opts))
  await e.stop()
  return s
}

// A bare worker: counts messages and answers 'count', or echoes everything.
const rawCounter = `
const { parentPort } = require('node:worker_threads');
let n = 0;
parentPort.on('message', (m) => { if (m === 'count') parentPort.postMessage(n); else n++; });
`
const rawEcho = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));
`

/** A raw worker and a one-at-a-time request function over its parentPort. */
function rawWorker(code: string): { w: NodeWorker; request(m: unknown, timeout?: number): Promise<unknown> } {
  const w = new NodeWorker(code, { eval: true })
  let answer: ((v: unknown) => void) | undefined
  w.on('message', (m) => { const a = answer; answer = undefined; a?.(m) })
  return {
    w,
    request: (m, timeout) => new Promise((resolve, reject) => {
      if (timeout === undefined) answer = resolve
      else {
        const t = setTimeout(() => reject(new Error('timeout')), timeout)
        answer = (v) => { clearTimeout(t); resolve(v) }
      }
      w.postMessage(m)
    }),
  }
}

async function rawThreadTell(items: (i: number) => unknown, n: number): Promise<Sample> {
  const { w, request } = rawWorker(rawCounter)
  await request('count')
  const s = await warm(n, async () => {
    for (let i = 0; i < n; i++) w.postMessage(items(i))
    await request('count')
  })
  await w.terminate()
  return s
}

async function rawThreadAsk(timeout?: number): Promise<Sample> {
  const { w, request } = rawWorker(rawEcho)
  await request(0)
  for (let i = 0; i < THREAD_ASK >> 2; i++) await request(i, timeout)
  const s = await measureLatency(THREAD_ASK, (i) => request(i, timeout))
  await w.terminate()
  return s
}

function flatStrings(): string[] {
  return Array.from({ length: 256 }, (_, i) => Buffer.alloc(64 * 1024, 65 + (i % 26)).toString('latin1'))
}

const specs: CaseSpec[] = [
  { name: 'tell', contenders: { troupe: troupeTell, naive: naiveTell, nact: nactTell } },
  { name: 'pingpong', contenders: { troupe: troupePingPong, nact: nactPingPong } },
  { name: 'ask', contenders: { troupe: () => troupeAsk(), naive: () => naiveAskCase(), nact: nactAsk } },
  { name: 'ask-timeout', busy: true, contenders: { troupe: () => troupeAsk(TIMEOUT), naive: () => naiveAskCase(TIMEOUT), nact: nactAsk } },
  { name: 'thread-tell', contenders: { troupe: troupeThreadTell, raw: () => rawThreadTell((i) => i, THREAD_TELL) } },
  { name: 'thread-ask', busy: true, contenders: { troupe: () => troupeThreadAsk(), raw: () => rawThreadAsk() } },
  { name: 'thread-ask-timeout', busy: true, contenders: { troupe: () => troupeThreadAsk(TIMEOUT), raw: () => rawThreadAsk(TIMEOUT) } },
  {
    name: 'thread-strings',
    contenders: { troupe: troupeThreadStrings, raw: () => { const s = flatStrings(); return rawThreadTell((i) => ({ i, s: s[i & 255] }), THREAD_STRINGS) } },
  },
]

// No top-level await: the thread cases locate their actor classes by importing this module.
if (isMainModule(import.meta)) {
  contest('actors', import.meta.url, specs, [
    'naive: array mailbox drained in a microtask, one setTimeout per ask with a timeout; nact asks always arm a timeout (query)',
    'raw: a bare worker thread on its parentPort (echo / count), one setTimeout per ask with a timeout; thread-ask ops/s = 1e6 / p50 µs',
  ]).catch((err) => { console.error(err); process.exit(1) })
}
