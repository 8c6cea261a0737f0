import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Worker } from '../../src/actor/index.ts'
import { TimeoutError, UnlocatableFunctionError } from '../../src/errors.ts'
import { add, double, fails, napThenEcho } from './fixtures.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))

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

for (const on of ['thread', 'process'] as const) {
  for (const style of ['plain', 'using']) {
    test(`seed 001 as written (${on}${style === 'using' ? ', await using' : ''}): a submit followed at once by close() runs before the close and prints 5`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/actor/programs/seed-worker.ts', on, style], { cwd: root, encoding: 'utf8', timeout: 60_000 })
      assert.equal(r.status, 0, `exit ${r.status}; stderr: ${r.stderr}`)
      assert.equal(r.stdout.trim(), '5')
    })
  }
}

test('submissions still being located run before a close() made right after them, in order', async () => {
  const w = new Worker({ on: 'thread' })
  // `double` was never located in this process: locating it awaits an import; `add` was, so it could go at once.
  const rs = [w.submit(double, 1), w.submit(add, 1, 2), w.submit(double, 3)]
  w.close()
  await w.join({ timeout: 30_000 })
  assert.deepEqual(await Promise.all(rs.map((r) => r.result())), [2, 3, 6])
})
