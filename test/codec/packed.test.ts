import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encodeList, decodeList, packForThread, unpacked, isPacked, LOOSE_STRING } from '../../src/codec/index.ts'

const big = 'é'.repeat(LOOSE_STRING * 4)
const wide = '€'.repeat(LOOSE_STRING * 2)

test('a list of flat values with large strings round-trips, the strings taken out (Latin-1, UTF-16, in objects and arrays)', () => {
  const items = [big, { i: 1, s: wide, t: 'x' }, [1, big, 'y'], 7, null, new Uint8Array([1, 2])]
  const bytes = encodeList(items)
  assert.equal(bytes[0], 0, 'strings were taken out')
  assert.deepEqual(decodeList(bytes), items)
})

test('containers referred to twice, from each other or from themselves go whole, so identities survive', () => {
  const o: Record<string, unknown> = { s: big }
  const shared = decodeList(encodeList([o, o])) as object[]
  assert.equal(shared[0], shared[1], 'the same object twice stays one object')

  const cyclic: Record<string, unknown> = { s: big }
  cyclic.self = cyclic
  const [c] = decodeList(encodeList([cyclic])) as Record<string, unknown>[]
  assert.equal(c!.self, c, 'a cycle stays a cycle')
  assert.equal(c!.s, big)

  const inner = { s: big }
  const [a, b] = decodeList(encodeList([inner, { ref: inner }])) as [object, { ref: object }]
  assert.equal(b.ref, a, 'a reference from another item still points at the item')
})

test('packForThread packs only when it takes strings out: bytes and numbers go as they are', () => {
  const nums = new Float64Array(1000)
  const plain = packForThread([nums, Buffer.alloc(4000)], true)
  assert.equal(isPacked(plain.msg), false)
  assert.equal(plain.transfer, undefined)
  const packed = packForThread([{ s: big }], true)
  assert.equal(isPacked(packed.msg), true)
  assert.equal(packed.transfer?.length, 1)
  assert.deepEqual(unpacked(packed.msg), [{ s: big }])
  assert.equal(isPacked(packForThread([{ s: big }], false).msg), false, 'large = false never packs')
})
