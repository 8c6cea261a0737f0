import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FrameReader, frameHeader, parseAddress, formatAddress } from '../../src/net/index.ts'
import { ProtocolError } from '../../src/errors.ts'

function frame(payload: Buffer): Buffer {
  return Buffer.concat([frameHeader(payload.length), payload])
}

test('frames split across arbitrary chunk boundaries come out whole and in order', () => {
  const payloads = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')]
  const bytes = Buffer.concat(payloads.map(frame))
  const reader = new FrameReader(1 << 20)
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 3) out.push(...reader.push(bytes.subarray(i, i + 3)))
  assert.equal(out.length, 4)
  assert.deepEqual(out.map((b) => b.length), [1, 0, 70_000, 4])
  assert.equal(out[3]!.toString(), 'last')
})

test('the -1 + uint64 length escape is read (CPython 3.8+ large-frame form)', () => {
  const payload = Buffer.from('escaped')
  const head = Buffer.alloc(12)
  head.writeInt32BE(-1, 0)
  head.writeBigUInt64BE(BigInt(payload.length), 4)
  const out = new FrameReader(1024).push(Buffer.concat([head, payload]))
  assert.equal(out[0]!.toString(), 'escaped')
})

test('a frame larger than the limit is a ProtocolError naming both sizes', () => {
  const head = Buffer.alloc(4)
  head.writeInt32BE(5000, 0)
  assert.throws(() => new FrameReader(256).push(head), (err: Error) => err instanceof ProtocolError && /5000 bytes exceeds the limit of 256/.test(err.message))
})

test('a negative length other than -1 is a ProtocolError', () => {
  const head = Buffer.alloc(4)
  head.writeInt32BE(-7, 0)
  assert.throws(() => new FrameReader(256).push(head), ProtocolError)
})

test('small frames use the 4-byte header, huge ones the escape', () => {
  assert.equal(frameHeader(10).length, 4)
  assert.equal(frameHeader(0x80000000).length, 12)
})

test('addresses: IPv4, IPv6 in brackets, port 0, Unix paths', () => {
  assert.deepEqual(parseAddress('127.0.0.1:5000'), { kind: 'tcp', host: '127.0.0.1', port: 5000 })
  assert.deepEqual(parseAddress('[::1]:0'), { kind: 'tcp', host: '::1', port: 0 })
  assert.deepEqual(parseAddress('/tmp/x.sock'), { kind: 'unix', path: '/tmp/x.sock' })
  assert.equal(formatAddress({ kind: 'tcp', host: '::1', port: 80 }), '[::1]:80')
  assert.throws(() => parseAddress('host:99999'), /bad port/)
})

test('a reader that reads into the buffers it is given gets a large frame in place, and small frames around it in order', () => {
  const reader = new FrameReader(1 << 24)
  const big = Buffer.alloc(300_000, 7)
  big[0] = 1
  big[big.length - 1] = 9
  const stream = Buffer.concat([frameHeader(3), Buffer.from('abc'), frameHeader(big.length), big, frameHeader(2), Buffer.from('de')])
  const frames: Buffer[] = []
  let at = 0
  let inPlace = 0
  while (at < stream.length) {
    const target = reader.readTarget()
    if (target.length !== 65536) inPlace++
    // A socket read fills at most the target, and often less.
    const n = Math.min(target.length, stream.length - at, 50_000)
    stream.copy(target, 0, at, at + n)
    at += n
    reader.filled(target, n)
    for (let f = reader.next(); f; f = reader.next()) frames.push(Buffer.from(f))
  }
  assert.deepEqual(frames.map((f) => f.length), [3, big.length, 2])
  assert.equal(frames[0]!.toString(), 'abc')
  assert.ok(frames[1]!.equals(big))
  assert.equal(frames[2]!.toString(), 'de')
  assert.ok(inPlace > 0, 'the large frame was read into its own buffer')
})
