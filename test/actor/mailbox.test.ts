import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Actor, spawn, supervise } from '../../src/actor/index.ts'
import { MailboxFullError } from '../../src/errors.ts'
import { Tally } from './fixtures.ts'

/** Blocks in receive until released, so the mailbox fills behind it. */
class Gate extends Actor<number | 'open' | 'count'> {
  static release: (() => void) | undefined
  seen: number[] = []
  async receive(msg: number | 'open' | 'count'): Promise<unknown> {
    if (msg === 'count') return this.seen
    if (msg === 0) await new Promise<void>((r) => { Gate.release = r })
    if (typeof msg === 'number') this.seen.push(msg)
    return undefined
  }
}

const tick = () => new Promise((r) => setImmediate(r))

test('backpressure: send on a full mailbox returns a promise that resolves once there is room', async () => {
  const g = spawn(Gate, { mailbox: { capacity: 2, overflow: 'backpressure' } })
  g.send(0)
  await tick() // 0 is being handled; the mailbox is empty
  assert.equal(g.send(1), undefined)
  assert.equal(g.send(2), undefined)
  const waiting = g.send(3)
  assert.ok(waiting instanceof Promise, 'a send to a full mailbox should wait')
  let admitted = false
  void waiting.then(() => { admitted = true })
  await tick()
  assert.equal(admitted, false)
  Gate.release!()
  await waiting
  assert.deepEqual(await g.ask('count'), [0, 1, 2, 3])
  await g.stop()
})

test('a fast producer awaiting backpressured sends delivers everything, in order', async () => {
  const t = spawn(Tally, { mailbox: { capacity: 16 } })
  for (let i = 0; i < 10_000; i++) await t.send(1)
  assert.equal(await t.ask('get'), 10_000)
  assert.ok(t.stats()!.queued <= 16)
  await t.stop()
})

test("fail: send on a full mailbox throws MailboxFullError and an ask rejects with it", async () => {
  const g = spawn(Gate, { mailbox: { capacity: 1, overflow: 'fail' } })
  g.send(0)
  await tick()
  g.send(1)
  assert.throws(() => g.send(2), MailboxFullError)
  await assert.rejects(g.ask(3), MailboxFullError)
  assert.equal(g.stats()!.dropped, 2)
  Gate.release!()
  await tick()
  assert.deepEqual(await g.ask('count'), [0, 1])
  await g.stop()
})

test('drop-newest keeps the oldest messages and counts the dropped ones', async () => {
  const g = spawn(Gate, { mailbox: { capacity: 3, overflow: 'drop-newest' } })
  g.send(0)
  await tick()
  for (let i = 1; i <= 10; i++) g.send(i)
  assert.equal(g.stats()!.dropped, 7)
  Gate.release!()
  await tick()
  assert.deepEqual(await g.ask('count'), [0, 1, 2, 3])
  await g.stop()
})

test('drop-oldest keeps the newest messages and counts the dropped ones', async () => {
  const g = spawn(Gate, { mailbox: { capacity: 3, overflow: 'drop-oldest' } })
  g.send(0)
  await tick()
  for (let i = 1; i <= 10; i++) g.send(i)
  assert.equal(g.stats()!.dropped, 7)
  Gate.release!()
  await tick()
  assert.deepEqual(await g.ask('count'), [0, 8, 9, 10])
  assert.equal(g.stats()!.dropped, 7)
  await g.stop()
})

test('a bad mailbox option is refused at spawn with a clear error', () => {
  assert.throws(() => spawn(Tally, { mailbox: { capacity: 0 } }), /capacity must be at least 1/)
  assert.throws(() => spawn(Tally, { mailbox: { capacity: 2, overflow: 'spill' as any } }), /overflow must be/)
})

test('a bounded mailbox of a thread actor applies backpressure and fail across the thread', async () => {
  const t = spawn(Tally, { on: 'thread', mailbox: { capacity: 8 } })
  try {
    let waited = 0
    for (let i = 0; i < 2000; i++) {
      const r = t.send(1)
      if (r) { waited++; await r }
    }
    assert.equal(await t.ask('get', { timeout: 10_000 }), 2000)
    assert.ok(waited > 0, 'the producer never had to wait')
  } finally {
    await t.stop()
  }
  const f = spawn(Tally, { on: 'thread', mailbox: { capacity: 4, overflow: 'fail' } })
  try {
    let refused = 0
    for (let i = 0; i < 100; i++) {
      try { f.send(1) } catch (err) { assert.ok(err instanceof MailboxFullError); refused++ }
    }
    assert.ok(refused > 0)
    assert.equal(f.stats()!.dropped, refused)
    for (let i = 0; i < 400 && f.stats()!.queued > 0; i++) await new Promise((r) => setTimeout(r, 5))
    assert.equal(await f.ask('get', { timeout: 10_000 }), 100 - refused)
  } finally {
    await f.stop()
  }
})

for (const on of ['thread', 'process'] as const) {
  test(`stats() of a supervised ${on} actor count what it answered: processed right after the asks resolve, nothing queued`, async () => {
    const sup = supervise([{ actor: Tally, name: 'tally', on }], { name: 'root' })
    try {
      const t = sup.child<number | 'get', number | undefined>('tally')!
      for (let i = 1; i <= 11; i++) assert.equal(await t.ask(i === 11 ? 'get' : i), i === 11 ? 55 : undefined)
      assert.deepEqual({ queued: t.stats()!.queued, processed: t.stats()!.processed }, { queued: 0, processed: 11 })
      assert.deepEqual(sup.tree().children.map((c) => [c.mailbox, c.processed]), [[0, 11]])
      // Tells are counted too, within a moment (no reply carries the count).
      for (let i = 0; i < 100; i++) t.send(1)
      for (let i = 0; i < 400 && t.stats()!.processed < 111; i++) await new Promise((r) => setTimeout(r, 5))
      assert.deepEqual({ queued: t.stats()!.queued, processed: t.stats()!.processed }, { queued: 0, processed: 111 })
    } finally {
      await sup.stop()
    }
  })
}

test('a mailbox keeps order through bursts of any size, with messages taken and put back in between', async () => {
  const { Mailbox } = await import('../../src/actor/mailbox.ts')
  const mb = new Mailbox()
  let next = 0
  let expected = 0
  // Bursts across every segment size, drained partly, with the taken message sometimes put back first.
  for (const burst of [1, 15, 16, 17, 100, 5000, 20_000, 3]) {
    for (let i = 0; i < burst; i++) mb.push(next++, undefined)
    const take = Math.floor(mb.size * 0.7)
    for (let i = 0; i < take; i++) {
      const m = mb.shift()
      if (i % 97 === 0) { mb.unshift(m, undefined); assert.equal(mb.shift(), m) }
      assert.equal(m, expected++)
    }
  }
  while (mb.size > 0) assert.equal(mb.shift(), expected++)
  assert.equal(expected, next)
  assert.equal(mb.processed, next)
  mb.push('again', undefined)
  assert.equal(mb.shift(), 'again')
})
