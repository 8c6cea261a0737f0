import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Pipe, Queue } from '../../src/sync/index.ts'
import { ClosedError, EOFError, BrokenPipeError } from '../../src/errors.ts'
import * as w from './fixtures/workers.ts'
import { run } from './fixtures/run.ts'


test('a duplex pipe carries values both ways in one place', async () => {
  const [a, b] = Pipe<string>()
  await a.send('to b')
  await b.send('to a')
  assert.equal(await b.recv(), 'to b')
  assert.equal(await a.recv(), 'to a')
})

test('poll() says whether something can be received, waiting up to its timeout', async () => {
  const [a, b] = Pipe<string>()
  assert.equal(await b.poll(), false)
  assert.equal(await b.poll(20), false)
  setTimeout(() => void a.send('late'), 5)
  assert.equal(await b.poll(5_000), true)
  assert.equal(await b.recv(), 'late')
})

test('poll(null) waits without a limit, as Python\'s poll(None) does; a negative or non-number timeout is refused', async () => {
  const [a, b] = Pipe<string>()
  setTimeout(() => void a.send('later'), 60)
  assert.equal(await b.poll(null), true)
  assert.equal(await b.recv(), 'later')
  await assert.rejects(b.poll(-1), RangeError)
  await assert.rejects(b.poll('1' as never), TypeError)
})

test('a one-way pipe: the first end only receives, the second only sends', async () => {
  const [r, s] = Pipe<number>(false)
  await s.send(1)
  assert.equal(await r.recv(), 1)
  await assert.rejects(r.send(2), ClosedError)
  await assert.rejects(s.recv(), ClosedError)
})

test("recv() after the other end closed rejects with EOFError once drained, send() with BrokenPipeError (Python's names); a closed end refuses everything", async () => {
  const [a, b] = Pipe<string>()
  await a.send('last words')
  await a.close()
  assert.equal(await b.recv(), 'last words')
  await assert.rejects(b.recv(), (err: Error) => err instanceof EOFError && err.name === 'EOFError' && (err as EOFError).code === 'ERR_TROUPE_EOF' && err instanceof ClosedError)
  await assert.rejects(b.send('anyone?'), (err: Error) => err instanceof BrokenPipeError && err.name === 'BrokenPipeError')
  await assert.rejects(a.recv(), ClosedError)
})

for (const kind of ['thread', 'process'] as const) {
  test(`an end passed to a ${kind} talks back and forth`, async () => {
    const [mine, theirs] = Pipe<string>()
    const p = await run(w.echo, [theirs], kind)
    await mine.send('hello')
    assert.equal(await mine.recv({ timeout: 20_000 }), 'echo hello')
    await mine.send('again')
    assert.equal(await mine.recv({ timeout: 20_000 }), 'echo again')
    await mine.close()
    assert.equal(await p.join({ timeout: 20_000 }), 0)
  })

  test(`a ${kind} that sends and closes: the reader gets everything, then EOFError`, async () => {
    const [mine, theirs] = Pipe<string>(false)
    const p = await run(w.sendTwoAndClose, [theirs], kind)
    assert.equal(await mine.recv({ timeout: 20_000 }), 'one')
    assert.equal(await mine.recv({ timeout: 20_000 }), 'two')
    await assert.rejects(mine.recv({ timeout: 20_000 }), EOFError)
    await p.join({ timeout: 20_000 })
  })

  test(`when the ${kind} holding the other end dies, a pending recv() rejects with EOFError`, async () => {
    const [mine, theirs] = Pipe<string>()
    const ready = new Queue<string>()
    const p = await run(w.holdSilently, [theirs, ready], kind)
    assert.equal(await ready.get({ timeout: 20_000 }), 'holding')
    const pending = mine.recv()
    await p.kill()
    await assert.rejects(pending, EOFError)
  })
}
