import { test } from 'node:test'
import assert from 'node:assert/strict'
import { locate, load } from '../../src/process/index.ts'
import { UnlocatableFunctionError } from '../../src/errors.ts'
import { square, Greeter } from '../fixtures/tasks.ts'

test('an exported function is located by its module URL and export name', async () => {
  const ref = await locate(square)
  assert.match(ref.url, /test\/fixtures\/tasks\.ts$/)
  assert.equal(ref.name, 'square')
  assert.equal(await load(ref), square)
})

test('an exported class is located too', async () => {
  const ref = await locate(Greeter)
  assert.equal(ref.name, 'Greeter')
})

test('a closure cannot be located and the error says what to do', async () => {
  const local = (n: number) => n + 1
  await assert.rejects(locate(local), (err: Error) => {
    assert.ok(err instanceof UnlocatableFunctionError)
    assert.match(err.message, /'local'.*not exported.*Export it/s)
    return true
  })
})

test('a built-in cannot be located', async () => {
  await assert.rejects(locate(Math.max), UnlocatableFunctionError)
})
