import { test } from 'node:test'
import assert from 'node:assert/strict'
import { approxBytes } from '../../src/codec/index.ts'

const KIB64 = 64 * 1024

test('strings and binary count their length, wherever they sit in a plain value', () => {
  const s = 'x'.repeat(KIB64)
  assert.equal(approxBytes(s), KIB64)
  assert.equal(approxBytes(new Uint8Array(KIB64)), KIB64)
  assert.equal(approxBytes(new ArrayBuffer(100)), 100)
  assert.ok(approxBytes({ a: 1, b: 2, s }) >= KIB64)
  assert.ok(approxBytes([{ id: 1, body: { text: s } }]) >= KIB64)
})

test('small values stay small', () => {
  assert.ok(approxBytes(7) <= 8)
  assert.ok(approxBytes(null) <= 8)
  assert.ok(approxBytes({ a: 1, b: 'two' }) < 64)
})

test('long arrays are estimated by sampling, not walked', () => {
  const nums = Array.from({ length: 100_000 }, (_, i) => i)
  const n = approxBytes(nums)
  assert.ok(n >= 400_000 && n <= 1_600_000, `100,000 numbers estimated at ${n} bytes`)
  const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `row ${i}`.padEnd(100, '.') }))
  const r = approxBytes(rows)
  assert.ok(r >= 1_000_000 && r <= 2_000_000, `10,000 rows of ~100 chars estimated at ${r} bytes`)
})

test('objects with many keys and deep nesting are bounded', () => {
  const wide = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]))
  const w = approxBytes(wide)
  assert.ok(w >= 80_000 && w <= 150_000, `1,000 keys of 100 chars estimated at ${w} bytes`)
  let deep: unknown = 'leaf'
  for (let i = 0; i < 10_000; i++) deep = { next: deep }
  assert.ok(approxBytes(deep) < 1000)
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  assert.ok(Number.isFinite(approxBytes(cyclic)))
})
