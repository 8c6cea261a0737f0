import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Worker } from '../../src/actor/index.ts'
import { TimeoutError, UnlocatableFunctionError } from '../../src/errors.ts'
import { add, fails, napThenEcho } from './fixtures.ts'

test('Worker.submit runs an exported function on a thread; the Result is awaitable and has result({ timeout })', async () => {
  await using w = new Worker({ on: 'thread' })
  const r = w.submit(add, 2, 3)
  assert.equal(await r, 5)
  assert.equal(await r.result({ timeout: 1000 }), 5)
  assert.ok(r.ready() && r.successful())
  const slow = w.submit(napThenEcho<string>, 200, 'late')
  await assert.rejects(slow.result({ timeout: 10 }), TimeoutError)
  assert.equal(await slow.result({ timeout: 10_000 }), 'late')
})

test("a submitted function's error arrives with its class; a closure cannot be submitted to a thread", async () => {
  const w = new Worker({ on: 'process' })
  try {
    await assert.rejects(w.submit(fails, 'nope').result({ timeout: 10_000 }), (err: Error) => err instanceof TypeError && err.message === 'nope')
    await assert.rejects(w.submit((n: number) => n + 1, 1).result(), UnlocatableFunctionError)
    assert.equal(await w.submit(add, 1, 1).result({ timeout: 10_000 }), 2)
  } finally {
    w.close()
    await w.join({ timeout: 10_000 })
  }
})

test('a local Worker runs any function, closures included', async () => {
  await using w = new Worker({ on: 'local' })
  const k = 10
  assert.equal(await w.submit((n: number) => n + k, 1), 11)
})
