import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodePickle, decodePickleAsync, encodePickle } from '../../src/codec/index.ts'
import { DecodeError } from '../../src/errors.ts'

const intText = (digits: number) => Buffer.from(`I${'7'.repeat(digits)}\n.`, 'latin1')

test('an int written as more than 4,300 decimal digits is refused at once with CPython\'s message; 4,300 pass; maxIntDigits moves the limit', () => {
  assert.equal(decodePickle(intText(4300), { python2: false }), 7n * (10n ** 4300n - 1n) / 9n)
  assert.throws(() => decodePickle(intText(4301)), (err: Error) => err instanceof DecodeError && /Exceeds the limit \(4300 digits\) for integer string conversion: value has 4301 digits/.test(err.message))
  // The issue's frame: 20 ints of 196,000 digits (3.9 MB) used to hold the event loop for 0.6 s.
  const twenty = Buffer.from(`(${`I${'9'.repeat(196_000)}\n`.repeat(20)}l.`, 'latin1')
  assert.throws(() => decodePickle(twenty), /Exceeds the limit \(4300 digits\)/)
  assert.throws(() => decodePickle(Buffer.from(`L-${'1'.repeat(5000)}L\n.`, 'latin1')), /value has 5000 digits/)
  assert.equal(typeof decodePickle(intText(5000), { maxIntDigits: 5000, python2: false }), 'bigint')
})

test('a pickle that builds more than maxValues values, or shares one list into a tree bigger than that, is refused', () => {
  const list = encodePickle(Array.from({ length: 2000 }, (_, i) => i))
  assert.equal((decodePickle(list) as unknown[]).length, 2000)
  assert.throws(() => decodePickle(list, { maxValues: 1000 }), (err: Error) => err instanceof DecodeError && /more than 1000 values/.test(err.message))
  // [L, L, ..., L]: one 1,000-item list L memoized, then fetched again and again: 1,001 values per copy once walked.
  const inner = Buffer.from(encodePickle(Array.from({ length: 1000 }, (_, i) => i), { protocol: 2 }))
  const body = inner.subarray(2, inner.length - 1) // without PROTO and STOP: the list, memoized as entry 0
  const shared = (copies: number) => Buffer.concat([Buffer.from([0x80, 2, 0x5d, 0x28]), body, Buffer.alloc((copies - 1) * 2, Buffer.from([0x68, 0x00])), Buffer.from([0x65, 0x2e])])
  assert.throws(() => decodePickle(shared(200), { maxValues: 100_000 }), /shared references make a tree of more than 100000 values/)
  assert.throws(() => decodePickle(shared(2000)), /shared references make a tree of more than 1000000 values/)
  assert.equal((decodePickle(shared(500)) as unknown[]).length, 500)
})

test('a big pickle is decoded a slice at a time, yielding to the event loop in between; a small one finishes in its first slice', async () => {
  let turns = 0
  let ticking = true
  const tick = () => { turns++; if (ticking) setImmediate(tick) }
  setImmediate(tick)
  const big = encodePickle(Array.from({ length: 50_000 }, (_, i) => [i, `s${i}`]))
  const value = (await decodePickleAsync(big)).value as unknown[]
  ticking = false
  assert.equal(value.length, 50_000)
  assert.ok(turns >= 5, `the event loop turned ${turns} times while it decoded`)
  turns = 0
  ticking = true
  setImmediate(tick)
  const small = await decodePickleAsync(encodePickle({ a: [1, 2, 3] }))
  const turnsForSmall = turns
  ticking = false
  assert.deepEqual(small.value, new Map([['a', [1, 2, 3]]]))
  assert.equal(turnsForSmall, 0)
  await assert.rejects(decodePickleAsync(intText(9000)), DecodeError)
})
