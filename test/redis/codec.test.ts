import { test } from 'node:test'
import assert from 'node:assert/strict'
import { serialize, deserialize } from 'node:v8'
import { codecFor } from '../../src/backends/index.ts'

test('small values are written byte for byte as v8.serialize writes them, and read back by both', () => {
  const c = codecFor('v8')
  const values = [0, 1, -1, 63, 64, -65, 300, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, NaN, -0, Infinity, '', 'abc', 'é', 'x'.repeat(300), '日本', true, false, null, undefined]
  for (const v of values) {
    const bytes = c.encode(v)
    assert.equal(bytes.toString('hex'), serialize(v).toString('hex'), `bytes of ${String(v)}`)
    assert.deepEqual(deserialize(bytes), v)
    assert.deepEqual(c.decode(bytes), v)
  }
  for (let i = -70_000; i < 70_000; i += 13) assert.equal(c.decode(c.encode(i)), i)
})

test('other values go through v8, and unknown codecs are refused', () => {
  const c = codecFor('v8')
  const v = { a: [1, 'two', new Map([[3, new Set([4n])]])], d: new Date(5) }
  assert.deepEqual(c.decode(c.encode(v)), v)
  assert.deepEqual(c.decode(serialize(v)), v)
  assert.throws(() => codecFor('yaml' as 'json'), TypeError)
})

test('every key of a queue carries the same hash tag, so its Lua scripts stay in one Cluster slot', async () => {
  const { queueKeys } = await import('../../src/backends/index.ts')
  const k = queueKeys('jobs', 'app')
  const tags = Object.entries(k).filter(([f]) => f !== 'name').map(([, key]) => /\{([^}]*)\}/.exec(key as string)?.[1])
  assert.deepEqual(new Set(tags), new Set(['jobs']))
  assert.equal(k.stream, 'app:{jobs}:q')
  assert.throws(() => queueKeys('a{b}'), TypeError)
})
