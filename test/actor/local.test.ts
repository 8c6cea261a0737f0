import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Actor, spawn, watch, pendingAsks, isTerminated, type ActorRef, type Terminated } from '../../src/actor/index.ts'
import { AbortError, ActorStoppedError, ClosedError, TimeoutError } from '../../src/errors.ts'
import { Counter, Recorder, Tally } from './fixtures.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('send and ask reach a local actor in order, and receive answers the ask', async () => {
  const c = spawn(Counter, { args: [10] })
  c.send({ type: 'add', n: 1 })
  c.send({ type: 'add', n: 2 })
  assert.equal(await c.ask({ type: 'get' }), 13)
  await c.stop()
  assert.equal(c.isAlive, false)
})

test('an async receive handles one message at a time, in FIFO order', async () => {
  const log: string[] = []
  class Slow extends Actor<number> {
    async receive(n: number): Promise<number> {
      log.push(`start ${n}`)
      await sleep(5)
      log.push(`end ${n}`)
      return n * 2
    }
  }
  const s = spawn(Slow)
  const answers = await Promise.all([s.ask(1), s.ask(2), s.ask(3)])
  assert.deepEqual(answers, [2, 4, 6])
  assert.deepEqual(log, ['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3'])
  await s.stop()
})

test('a throw in receive rejects that ask with the same error and ends an unsupervised actor', async () => {
  const c = spawn(Counter)
  await assert.rejects(c.ask({ type: 'boom' }), (err: Error) => err instanceof RangeError && err.message === 'boom')
  await assert.rejects(c.join(), RangeError)
  assert.equal(c.isAlive, false)
  assert.throws(() => c.send({ type: 'get' }), ActorStoppedError)
})

test('asks queued behind a message that kills the actor reject at once with ActorStoppedError', async () => {
  const c = spawn(Counter)
  const slow = c.ask({ type: 'slow', ms: 20 })
  const boom = c.ask({ type: 'boom' })
  const after = c.ask({ type: 'get' })
  assert.equal(await slow, 'slow done')
  await assert.rejects(boom, RangeError)
  await assert.rejects(after, ActorStoppedError)
  assert.equal(pendingAsks(), 0)
})

test('an ask that gets no answer in time rejects with TimeoutError and leaves nothing pending', async () => {
  class Silent extends Actor<string> {
    receive(): void { this.deferReply() } // takes the reply and never answers
  }
  const s = spawn(Silent)
  const before = pendingAsks()
  await assert.rejects(s.ask('hello?', { timeout: 30 }), TimeoutError)
  const many = Array.from({ length: 100 }, () => s.ask('x', { timeout: 20 }).catch((e) => e))
  for (const e of await Promise.all(many)) assert.ok(e instanceof TimeoutError)
  assert.equal(pendingAsks(), before)
  await s.stop()
})

test('an aborted ask rejects with AbortError', async () => {
  class Silent extends Actor<string> { receive(): void { this.deferReply() } }
  const s = spawn(Silent)
  const ac = new AbortController()
  const p = s.ask('x', { signal: ac.signal })
  ac.abort()
  await assert.rejects(p, AbortError)
  assert.equal(pendingAsks(), 0)
  await s.stop()
})

test('deferReply answers the ask later', async () => {
  class Later extends Actor<number> {
    receive(n: number): void {
      const reply = this.deferReply<number>()
      setTimeout(() => reply.resolve(n + 1), 5)
    }
  }
  const l = spawn(Later)
  assert.equal(await l.ask(41), 42)
  await l.stop()
})

test('close() lets what is queued be processed, then the actor ends normally; later sends throw ClosedError', async () => {
  const r = spawn(Recorder)
  r.send('a')
  r.send('b')
  const log = r.ask({ type: 'log' })
  r.close()
  assert.throws(() => r.send('c'), ClosedError)
  assert.deepEqual(await log, ['a', 'b'])
  await r.join({ timeout: 1000 })
  assert.equal(r.exitReason, 'normal')
})

test('stop() drops what is queued and its asks reject with ActorStoppedError', async () => {
  const c = spawn(Counter)
  const slow = c.ask({ type: 'slow', ms: 20 })
  const queued = c.ask({ type: 'get' })
  await new Promise((r) => setImmediate(r)) // 'slow' is being handled now
  const stopped = c.stop()
  assert.equal(await slow, 'slow done')
  await assert.rejects(queued, ActorStoppedError)
  await stopped
  assert.equal(c.exitReason, 'stopped')
})

test('onTimeout runs after receiveTimeout ms without a message, and again while idle', async () => {
  const events: string[] = []
  class Idle extends Actor<string> {
    constructor() { super(); this.receiveTimeout = 20 }
    onStart(): void { events.push('start') }
    receive(msg: string): void { events.push(msg) }
    onTimeout(): void { events.push('timeout') }
    onStop(reason: unknown): void { events.push(`stop ${String(reason)}`) }
  }
  const a = spawn(Idle)
  for (let i = 0; i < 200 && events.filter((e) => e === 'timeout').length < 2; i++) await sleep(10)
  const timeouts = events.filter((e) => e === 'timeout').length
  assert.ok(timeouts >= 2, `expected repeated timeouts, got ${events.join(',')}`)
  await a.stop()
  assert.equal(events[0], 'start')
  assert.equal(events.at(-1), 'stop stopped')
})

test('schedule() sends the actor a message later', async () => {
  class Alarm extends Actor<string> {
    got: string[] = []
    receive(msg: string): unknown {
      if (msg === 'arm') { this.schedule(10, 'ring'); return undefined }
      if (msg === 'log') return this.got
      this.got.push(msg)
      return undefined
    }
  }
  const a = spawn(Alarm)
  a.send('arm')
  await sleep(40)
  assert.deepEqual(await a.ask('log'), ['ring'])
  await a.stop()
})

test('watch() delivers a Terminated notice with the reason to a watching actor', async () => {
  const notices: Terminated[] = []
  class Watcher extends Actor<Terminated | { watch: ActorRef<any> }> {
    receive(msg: Terminated | { watch: ActorRef<any> }): void {
      if (isTerminated(msg)) notices.push(msg)
      else this.watch(msg.watch)
    }
  }
  const w = spawn(Watcher)
  const victim = spawn(Counter)
  w.send({ watch: victim })
  await w.ask({ watch: victim }) // the watch is registered once this answers
  await victim.ask({ type: 'boom' }).catch(() => {})
  await sleep(10)
  assert.equal(notices.length, 1)
  assert.equal(notices[0]!.ref, victim)
  assert.ok(notices[0]!.reason instanceof RangeError)
  const reasons: unknown[] = []
  watch(victim, (r) => reasons.push(r)) // already dead: told at once
  await sleep(1)
  assert.equal(reasons.length, 1)
  await w.stop()
})

test('a flood of local messages does not starve timers and I/O', async () => {
  const t = spawn(Tally)
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 0)
  for (let i = 0; i < 300_000; i++) t.send(1)
  assert.equal(await t.ask('get'), 300_000)
  clearInterval(timer)
  assert.ok(ticks > 0, 'the interval never ran while the mailbox drained')
  await t.stop()
})

test('an Actor cannot be created with new', () => {
  assert.throws(() => new (Counter as any)(), /spawn\(Counter/)
})

test('onTimeout does not run while the actor is busy with a long message', async () => {
  const events: string[] = []
  class Busy extends Actor<number> {
    constructor() { super(); this.receiveTimeout = 15 }
    async receive(ms: number): Promise<void> { events.push('begin'); await sleep(ms); events.push('end') }
    onTimeout(): void { events.push('timeout') }
  }
  const b = spawn(Busy)
  await b.ask(120)
  assert.deepEqual(events.slice(0, 2), ['begin', 'end'])
  await b.stop()
})
