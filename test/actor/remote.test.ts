import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Actor, spawn, pendingAsks } from '../../src/actor/index.ts'
import { ActorStoppedError, UnlocatableFunctionError, UnsendableValueError, WorkerCrashedError } from '../../src/errors.ts'
import { Counter, Crasher, Echo, Mirror, Recorder, Relay, StringChecker, TimerUser, useRefFromProcess } from './fixtures.ts'
import { Process } from '../../src/process/index.ts'

for (const on of ['thread', 'process'] as const) {
  test(`a ${on} actor answers asks from its own ${on}`, async () => {
    const c = spawn(Counter, { on, args: [1] })
    try {
      c.send({ type: 'add', n: 2 })
      assert.equal(await c.ask({ type: 'get' }, { timeout: 10_000 }), 3)
      const where = await c.ask({ type: 'where' }) as { kind: string; pid: number }
      assert.equal(where.kind, on)
      if (on === 'process') assert.notEqual(where.pid, process.pid)
    } finally {
      await c.stop()
    }
    assert.equal(c.isAlive, false)
  })

  test(`an error thrown by a ${on} actor keeps its class, message, remote stack and origin`, async () => {
    const c = spawn(Counter, { on })
    await assert.rejects(c.ask({ type: 'boom' }, { timeout: 10_000 }), (err: Error & { origin?: string; remoteStack?: string }) => {
      assert.ok(err instanceof RangeError)
      assert.equal(err.message, 'boom')
      assert.match(err.remoteStack ?? '', /fixtures\.ts/)
      assert.match(err.origin ?? '', /Counter/)
      return true
    })
    // Unsupervised, the crash ends it.
    await assert.rejects(c.join({ timeout: 10_000 }), RangeError)
  })

  test(`large strings of every shape cross to a ${on} actor and back whole, each answer to its ask (packed batches)`, async () => {
    const c = spawn(Mirror, { on })
    try {
      const shapes = (i: number): unknown => [
        'é'.repeat(3000 + i),
        '€😀'.repeat(2000 + i),
        { i, s: 'x'.repeat(5000 + i), t: 'short', inner: { s: 'y'.repeat(2000) } },
        [i, 'z'.repeat(4000)],
        i,
      ][i % 5]
      const n = 200
      // Asks in one burst share batches; each answer must come back to its own ask.
      const answers = await Promise.all(Array.from({ length: n }, (_, i) => c.ask(shapes(i), { timeout: 60_000 })))
      for (let i = 0; i < n; i++) assert.deepEqual(answers[i], shapes(i), `ask ${i}`)
    } finally {
      await c.stop()
    }
  })

  test(`a message with a large string that refers to itself or to one object twice reaches a ${on} actor with its identities`, async () => {
    const c = spawn(Mirror, { on })
    try {
      const s = 'q'.repeat(65536)
      const cyclic: Record<string, unknown> = { s }
      cyclic.self = cyclic
      const back = await c.ask(cyclic, { timeout: 60_000 }) as Record<string, unknown>
      assert.equal(back.self, back)
      assert.equal(back.s, s)
      const o = { s }
      const pair = await c.ask([o, o], { timeout: 60_000 }) as object[]
      assert.equal(pair[0], pair[1])
    } finally {
      await c.stop()
    }
  })

  test(`thousands of messages carrying 64 KiB strings reach a ${on} actor whole and in order`, async () => {
    const c = spawn(StringChecker, { on })
    try {
      const strs = Array.from({ length: 26 }, (_, k) => String.fromCharCode(97 + k).repeat(65536))
      const n = on === 'thread' ? 3000 : 600
      // Sent in one synchronous burst: the channel cuts it into messages by size.
      for (let i = 0; i < n; i++) c.send({ i, s: strs[i % 26]! })
      assert.deepEqual(await c.ask('report', { timeout: 60_000 }), { count: n, bad: 0, chars: n * 65536 })
    } finally {
      await c.stop()
    }
  })

  test(`an ask to a ${on} actor whose ${on} dies rejects at once with ActorStoppedError`, async () => {
    const c = spawn(Crasher, { on })
    assert.equal(await c.ask('ping', { timeout: 10_000 }), 'pong')
    const dying = c.ask('die')
    await assert.rejects(dying, ActorStoppedError)
    await assert.rejects(c.join({ timeout: 10_000 }), WorkerCrashedError)
    assert.equal(pendingAsks(), 0)
  })
}

test('an ActorRef inside a message works in the other place: a thread actor sends to a local one', async () => {
  const rec = spawn(Recorder)
  const echo = spawn(Echo, { on: 'thread' })
  try {
    echo.send({ to: rec, text: 'hi' })
    echo.send({ to: rec, text: 'there' })
    await echo.ask({ to: rec, text: 'sync' }, { timeout: 10_000 })
    for (let i = 0; i < 200 && (await rec.ask({ type: 'log' }) as string[]).length < 3; i++) await new Promise((r) => setTimeout(r, 5))
    assert.deepEqual(await rec.ask({ type: 'log' }), ['echo: hi', 'echo: there', 'echo: sync'])
  } finally {
    await echo.stop()
    await rec.stop()
  }
})

test('a process actor asks a thread actor it was handed a ref to', async () => {
  const counter = spawn(Counter, { on: 'thread', args: [7] })
  const relay = spawn(Relay, { on: 'process' })
  try {
    assert.equal(await relay.ask({ to: counter as any }, { timeout: 10_000 }), 1007)
  } finally {
    await relay.stop()
    await counter.stop()
  }
})

test('a thread actor answering asks back to back still runs its timers in between', async () => {
  const a = spawn(TimerUser, { on: 'thread' })
  try {
    a.send('arm')
    let fired = 0
    const until = Date.now() + 20_000
    // Back-to-back asks keep the host waiting on its channel between messages; its timers must still run.
    for (let i = 0; fired === 0 && Date.now() < until; i++) fired = await a.ask('fired', { timeout: 10_000 }) as number
    assert.equal(fired, 1)
  } finally {
    await a.stop()
  }
})

test('an argument that cannot be sent fails spawn with the path to it', () => {
  assert.throws(() => spawn(Counter, { on: 'thread', args: [(() => 1) as unknown as number] }), (err: Error) => {
    assert.ok(err instanceof UnsendableValueError)
    assert.match(err.message, /args\[0\]/)
    return true
  })
})

test('a message that cannot be sent to a thread actor throws with the path, and the actor goes on', async () => {
  const r = spawn(Recorder, { on: 'thread' })
  try {
    assert.throws(() => r.send({ nested: { fn: () => 1 } } as unknown as string), /message\.nested\.fn/)
    await assert.rejects(r.ask({ type: 'log', cb: Symbol('x') } as any), UnsendableValueError)
    r.send('still here')
    assert.deepEqual(await r.ask({ type: 'log' }, { timeout: 10_000 }), ['still here'])
  } finally {
    await r.stop()
  }
})

test('a class that is not exported cannot be hosted, and the ref says why', async () => {
  class Hidden extends Actor<string> { receive(): void {} }
  const h = spawn(Hidden, { on: 'thread' })
  await assert.rejects(h.join({ timeout: 10_000 }), UnlocatableFunctionError)
  await assert.rejects(h.ask('x'), ActorStoppedError)
})

for (const kind of ['thread', 'process'] as const) {
  test(`an ActorRef handed to a Process target (${kind}, not an actor host) works there: tell and ask`, async () => {
    const counter = spawn(Counter, { on: 'thread' })
    const p = new Process({ target: useRefFromProcess, args: [counter as any], kind })
    try {
      await p.start()
      await p.join({ timeout: 20_000 })
      assert.equal(p.exitCode, 0)
      assert.equal(await counter.ask({ type: 'get' }, { timeout: 10_000 }), 10)
    } finally {
      p.kill?.()
      await counter.stop()
    }
  })
}
