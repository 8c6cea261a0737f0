import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { serialize } from 'node:v8'
import { Manager, proxyInfo } from '../../src/manager/index.ts'
import { MAX_IN_FLIGHT } from '../../src/manager/server.ts'
import { worstFrames } from '../../scripts/fuzz-v8.ts'
import { Status, type Reply } from '../../src/manager/protocol.ts'
import { DecodeError, ProtocolError } from '../../src/errors.ts'
import { RawPeer, connectToManager, until } from './helpers.ts'

const cleanup: (() => Promise<unknown> | unknown)[] = []
after(async () => { for (const f of cleanup.reverse()) await f() })

async function servedWithItems(opts: { maxFrameValues?: number; maxDepth?: number } = {}) {
  const log: string[] = []
  const m = await new Manager({ authkey: 'k', log: (l) => log.push(l), ...opts }).serve()
  cleanup.push(() => m.shutdown())
  const q = await m.Queue<number>()
  await q.putMany([1, 2, 3])
  const peer = await RawPeer.open(m.address, 'k')
  cleanup.push(() => peer.close())
  return { m, q, ident: proxyInfo(q)!.ident, peer, log }
}

function sparse(length: number): unknown[] {
  const a: unknown[] = []
  a.length = length
  return a
}

// [[2, ident, 'put', [[[...[1]...]]]]] with `depth` arrays around the 1, written byte by byte (v8.serialize itself would overflow the stack).
function nestedPut(ident: string, depth: number): Buffer {
  const head = serialize([[2, ident, 'put', [0]]])
  const zero = head.lastIndexOf(0x49)
  const open = Buffer.alloc(depth * 2)
  for (let i = 0; i < depth; i++) { open[2 * i] = 0x41; open[2 * i + 1] = 0x01 }
  const close = Buffer.alloc(depth * 3)
  for (let i = 0; i < depth; i++) { close[3 * i] = 0x24; close[3 * i + 1] = 0x00; close[3 * i + 2] = 0x01 }
  return Buffer.concat([head.subarray(0, zero), open, Buffer.from([0x49, 0x02]), close, head.subarray(zero + 2)])
}

function errorName(r: Reply | undefined): string | undefined {
  return r && r[1] === Status.Error ? (r[2] as { name: string }).name : undefined
}

test('a 44-byte frame declaring a sparse array of 2**32-1 items gets that request a DecodeError; the manager keeps serving and holds every queued item', async () => {
  const { m, q, ident, peer, log } = await servedWithItems()
  const frame = serialize([[2, ident, 'putMany', [sparse(2 ** 32 - 1)]]])
  assert.equal(frame.length, 44)
  peer.send(frame)
  const [reply] = await peer.replies()
  assert.equal(reply![0], 2)
  assert.equal(errorName(reply), 'DecodeError')
  assert.match((reply![2] as { message: string }).message, /sparse array claiming 4294967295 items/)
  // The same connection, another client and the queue carry on.
  assert.deepEqual(await peer.call(3, ident, 'qsize', []), [3, Status.Return, 3])
  const other = await connectToManager(m.address, 'k')
  cleanup.push(() => other.shutdown())
  assert.equal(await other.numberOfObjects(), await m.numberOfObjects())
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
  assert.ok(log.some((l) => l.includes('refused 1 request')), log.join('\n'))
})

test('holes anywhere in the arguments are refused request by request; the other requests of the frame are served', async () => {
  const { q, ident, peer } = await servedWithItems()
  const holey = [1, , 3] // eslint-disable-line no-sparse-arrays
  const indexProp: unknown[] = [1, 2]
  ;(indexProp as unknown as Record<string, number>)['7'] = 3
  const emptied = [1, 2, 3]
  delete emptied[1]
  peer.send([
    [2, ident, 'putMany', [sparse(1e8)]],
    [3, ident, 'put', [4]],
    [4, ident, 'put', [{ deep: { inside: [holey] } }]],
    [5, ident, 'putMany', [indexProp]],
    [6, ident, 'put', [new Map([['k', emptied]])]],
    [7, ident, 'put', [5]],
  ])
  const replies = new Map((await peer.replies()).map((r) => [r[0], r]))
  for (const id of [2, 4, 5, 6]) assert.equal(errorName(replies.get(id)), 'DecodeError', `request ${id}`)
  assert.deepEqual(replies.get(3), [3, Status.Return])
  assert.deepEqual(replies.get(7), [7, Status.Return])
  assert.deepEqual(await q.getMany(10), [1, 2, 3, 4, 5])
})

test('an array with holes shared by several requests of one frame (a back-reference), or a request pointing at the whole frame, is refused in each', async () => {
  const { q, ident, peer } = await servedWithItems()
  const lie = sparse(2 ** 32 - 1)
  const batch: unknown[] = [[2, ident, 'putMany', [lie]], [3, ident, 'returnItems', [lie]], [4, ident, 'put', [{ again: lie }]], [5, ident, 'put', [6]]]
  batch.push([7, ident, 'put', [batch]])
  peer.send(batch)
  const replies = new Map((await peer.replies()).map((r) => [r[0], r]))
  for (const id of [2, 3, 4, 7]) assert.equal(errorName(replies.get(id)), 'DecodeError', `request ${id}`)
  assert.deepEqual(replies.get(5), [5, Status.Return])
  assert.deepEqual(await q.getMany(10), [1, 2, 3, 6])
})

test('arrays that are dense but were written in the sparse form (a holey elements kind) are accepted', async () => {
  const { q } = await servedWithItems()
  const items = await q.getMany(10)
  // An array that came out of v8.deserialize is holey-kinded; its slices travel in V8's sparse form.
  await q.returnItems(items.slice(1))
  const filled = new Array(3)
  filled[0] = 'a'; filled[1] = 'b'; filled[2] = 'c'
  await q.put(filled as never)
  assert.deepEqual(await q.getMany(10), [2, 3, ['a', 'b', 'c']])
})

test('a frame nested deeper than maxDepth closes only its own connection, and the peer is told why first', async () => {
  const { m, q, ident, peer, log } = await servedWithItems()
  peer.send(nestedPut(ident, 5000))
  const [reply] = await peer.replies()
  assert.equal(reply![0], 0)
  assert.equal(errorName(reply), 'DecodeError')
  assert.match((reply![2] as { message: string }).message, /nesting deeper than 1000/)
  await peer.closed()
  assert.ok(log.some((l) => l.includes('closed connection') && l.includes('nesting deeper')), log.join('\n'))
  const other = await connectToManager(m.address, 'k')
  cleanup.push(() => other.shutdown())
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
  assert.equal(typeof await other.numberOfObjects(), 'number')
})

test('a frame holding more values than maxFrameValues, or sharing one object into a huge tree, is refused before it is decoded', async () => {
  const { m, q, ident, peer } = await servedWithItems({ maxFrameValues: 10_000 })
  peer.send([[2, ident, 'put', [new Map(Array.from({ length: 20_000 }, (_, i) => [i, i]))]]])
  const [reply] = await peer.replies()
  assert.equal(reply![0], 0)
  assert.match((reply![2] as { message: string }).message, /more than 10000 values/)
  await peer.closed()
  // 200 references to one 100-item array: 600 bytes, 20,000 values once walked.
  const shared = Array.from({ length: 100 }, (_, i) => i)
  const amp = await RawPeer.open(m.address, 'k')
  cleanup.push(() => amp.close())
  amp.send([[2, ident, 'put', [Array.from({ length: 200 }, () => shared)]]])
  const [r2] = await amp.replies()
  assert.equal(errorName(r2), 'DecodeError')
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})

test('a malformed request with an id is refused by id with ProtocolError; a frame whose requests have no usable id closes the connection', async () => {
  const { q, ident, peer } = await servedWithItems()
  peer.send([
    [2, 7, 'put', [1]],
    [3, ident, 42, [1]],
    [4, ident, 'put', 'not an array'],
    [5, ident, 'put', [1], 'yes'],
    [6, ident, 'put', [1], 1, 'extra'],
    [7, ident, 'x'.repeat(300), []],
    [8, '', 'create', [{ not: 'a typeid' }]],
    [9, ident, 'qsize', []],
  ])
  const replies = new Map((await peer.replies()).map((r) => [r[0], r]))
  for (const id of [2, 3, 4, 5, 6, 7, 8]) assert.equal(errorName(replies.get(id)), 'ProtocolError', `request ${id}`)
  assert.deepEqual(replies.get(9), [9, Status.Return, 3])
  peer.send([[-1, ident, 'put', [1]]])
  const [reply] = await peer.replies()
  assert.deepEqual([reply![0], errorName(reply)], [0, 'ProtocolError'])
  await peer.closed()
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})

test('garbage, truncated and unknown-tag frames close only their own connection with DecodeError', async () => {
  const { m, q, ident } = await servedWithItems()
  const good = serialize([[2, ident, 'put', [{ a: [1, 2, 3], b: 'text' }]]])
  const frames = [
    good.subarray(0, good.length - 3),
    Buffer.concat([good, Buffer.from([0x49, 0x02])]),
    Buffer.from([0xff, 0x0f, 0x41, 0x01, 0x75, 0x00, 0x24, 0x00, 0x01]),
    Buffer.from([0xff, 0x0f, 0x41, 0x01, 0x5e, 0x07, 0x24, 0x00, 0x01]),
    Buffer.from([0xff, 0x0f, 0x41, 0xff, 0xff, 0xff, 0xff, 0x0f]),
    Buffer.from([0xff, 0x01, ...Buffer.from('[[2,"1","put",[1]')]),
    Buffer.from([0xff, 0x63]),
  ]
  for (const f of frames) {
    const peer = await RawPeer.open(m.address, 'k')
    peer.send(f)
    const [reply] = await peer.replies()
    assert.deepEqual([reply![0], errorName(reply)], [0, 'DecodeError'], f.toString('hex'))
    await peer.closed()
  }
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})

test('a troupe client\'s put of an array with holes fails alone with DecodeError; the puts issued with it land', async () => {
  const { m, q } = await servedWithItems()
  const c = await connectToManager(m.address, 'k')
  cleanup.push(() => c.shutdown())
  const cq = await c.create('Queue')
  const results = await Promise.allSettled([cq.put(1), cq.put([1, , 3]), cq.put(2)]) // eslint-disable-line no-sparse-arrays
  assert.equal(results[0].status, 'fulfilled')
  assert.ok(results[1].status === 'rejected' && results[1].reason instanceof DecodeError, String((results[1] as PromiseRejectedResult).reason))
  assert.equal(results[2].status, 'fulfilled')
  assert.deepEqual(await cq.getMany(10), [1, 2])
  assert.equal(await q.qsize(), 3)
})

test('a burst of puts bigger than one frame may hold is split into frames the server accepts; a single request too big for any frame fails alone, unsent', async () => {
  const m = await new Manager({ authkey: 'k', log: false, maxFrameValues: 5_000, maxDepth: 10 }).serve()
  cleanup.push(() => m.shutdown())
  const q = await m.Queue<number>()
  const puts = Array.from({ length: 12_000 }, (_, i) => q.put(i))
  const deep = (() => { let d: unknown = 0; for (let i = 0; i < 20; i++) d = [d]; return d })()
  const [tooBig, tooDeep] = await Promise.allSettled([q.putMany(Array.from({ length: 6_000 }, (_, i) => i)), q.put(deep as number)])
  await Promise.all(puts)
  assert.ok(tooBig.status === 'rejected' && tooBig.reason instanceof DecodeError && /'putMany' was not sent: .*more than 5000 values/.test(tooBig.reason.message), String((tooBig as PromiseRejectedResult).reason))
  assert.ok(tooDeep.status === 'rejected' && tooDeep.reason instanceof DecodeError && /'put' was not sent: .*nesting deeper than 10 /.test(tooDeep.reason.message), String((tooDeep as PromiseRejectedResult).reason))
  assert.equal(await q.qsize(), 12_000)
  const got = await q.getMany(20_000)
  assert.deepEqual(got, Array.from({ length: 12_000 }, (_, i) => i))
})

test('when the server refuses a whole frame, every call pending on that connection fails with the server\'s named error', async () => {
  // A server with a smaller per-frame limit than its client: the client's frame is refused as a whole.
  const m = await new Manager({ authkey: 'k', log: false, maxFrameValues: 2000 }).serve()
  cleanup.push(() => m.shutdown())
  const c = await connectToManager(m.address, 'k')
  cleanup.push(() => c.shutdown())
  const cq = await c.create('Queue')
  const waiting = cq.get()
  const big = cq.put(Array.from({ length: 5000 }, (_, i) => i))
  for (const p of [waiting, big]) {
    await assert.rejects(p, (err: Error & { origin?: string }) => err instanceof DecodeError && /more than 2000 values/.test(err.message) && /manager/.test(err.origin ?? ''))
  }
})

test('wrong argument types and counts are refused by name before they reach a shared object', async () => {
  const { m } = await servedWithItems()
  const jq = await m.JoinableQueue<number>()
  await jq.put(1)
  await assert.rejects(jq.taskDone('x' as never), (err: Error) => err.name === 'TypeError' && /JoinableQueue.taskDone\(\) argument 1: expected an integer/.test(err.message))
  await assert.rejects(jq.taskDone(-1), (err: Error) => err.name === 'RangeError')
  assert.equal(await jq.unfinishedTasks(), 1)
  await assert.rejects((jq.put as (...a: unknown[]) => Promise<void>)(1, 2, 3), (err: Error) => err.name === 'TypeError' && /takes 1 to 2 arguments but 3 were given/.test(err.message))
  await assert.rejects(jq.get({ timeout: 'soon' as never }), (err: Error) => err.name === 'TypeError' && /timeout must be a number/.test(err.message))
  await assert.rejects(m.create('Array', 'i', 2 ** 32 - 1), (err: Error) => err.name === 'RangeError' && /exceeds the limit of 1000000/.test(err.message))
  await assert.rejects(m.create('Semaphore', 'many'), (err: Error) => err.name === 'TypeError')
  const sem = await m.Semaphore(1)
  await assert.rejects(sem.release('x' as never), TypeError)
  assert.equal(await sem.getValue(), 1)
  assert.equal(await jq.qsize(), 1)
})

test('a client cannot release an object it holds no reference to; the owners keep it', async () => {
  const { q, ident, peer } = await servedWithItems()
  const reply = await peer.call(2, '', 'decref', [ident])
  assert.equal(errorName(reply), 'ProtocolError')
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
  void ProtocolError
})

test('a connection may have 65,536 calls waiting at once; more are refused with ProtocolError, and the waiting ones are cancelled when it closes, taking no item', async () => {
  const { m, q, peer } = await servedWithItems()
  const empty = proxyInfo(await m.Queue())!.ident
  const gets = Array.from({ length: MAX_IN_FLIGHT + 2 }, (_, i) => [i + 1, empty, 'get', []])
  // Two frames, each within the per-frame value limit.
  peer.send(gets.slice(0, 40_000))
  peer.send(gets.slice(40_000))
  const replies = await peer.replies()
  assert.deepEqual(replies.map((r) => [r[0], errorName(r)]), [[MAX_IN_FLIGHT + 1, 'ProtocolError'], [MAX_IN_FLIGHT + 2, 'ProtocolError']])
  assert.match((replies[0]![2] as { message: string }).message, /more than 65536 calls are waiting on this connection/)
  peer.close()
  await peer.closed()
  const other = await connectToManager(m.address, 'k')
  cleanup.push(() => other.shutdown())
  const e = await other.create('Queue')
  void e
  assert.deepEqual(await q.getMany(2 ** 32 - 1), [1, 2, 3])
})

test('30,000 gets parked on one queue are woken by 30,000 puts in order, and a client that closes with thousands parked takes no item', async () => {
  const { m } = await servedWithItems()
  const q = await m.Queue<number>()
  const ident = proxyInfo(q)!.ident
  const gone = await RawPeer.open(m.address, 'k')
  // It also holds an object, so the server's noticing the close can be watched (the object goes).
  await gone.call(9_999, '', 'create', ['Lock'])
  gone.send(Array.from({ length: 5000 }, (_, i) => [i + 1, ident, 'get', []]))
  const waiting = await RawPeer.open(m.address, 'k')
  cleanup.push(() => waiting.close())
  waiting.send(Array.from({ length: 30_000 }, (_, i) => [i + 1, ident, 'get', []]))
  await waiting.call(40_000, '', 'dummy', [])
  const before = await m.numberOfObjects()
  gone.close()
  await until(async () => (await m.numberOfObjects()) < before, 30_000)
  await q.putMany(Array.from({ length: 30_000 }, (_, i) => i))
  const got = new Map<number, unknown>()
  while (got.size < 30_000) for (const [id, , v] of await waiting.replies()) got.set(id, v)
  assert.deepEqual([...got.keys()].sort((a, b) => a - b).map((id) => got.get(id)), Array.from({ length: 30_000 }, (_, i) => i))
  assert.equal(await q.qsize(), 0)
})

test('a getMany whose reply would not fit in a frame fails with ProtocolError and puts every item back, in order', async () => {
  const m = await new Manager({ authkey: 'k', log: false, maxFrameSize: 1 << 20 }).serve()
  cleanup.push(() => m.shutdown())
  const q = await m.Queue<Buffer>()
  for (let i = 0; i < 4; i++) await q.put(Buffer.alloc(400_000, i))
  await assert.rejects(q.getMany(10), (err: Error) => err instanceof ProtocolError && /exceeds the frame limit of 1048576 bytes .*what it took was put back/.test(err.message))
  assert.equal(await q.qsize(), 4)
  for (let i = 0; i < 4; i++) assert.equal((await q.get())[0], i)
})

test('the worst frame of every costly kind the limits let through is decoded and answered while another client keeps being answered; just past the limit it is refused; the queue keeps its items', async () => {
  const { m, q } = await servedWithItems()
  const other = await connectToManager(m.address, 'k')
  cleanup.push(() => other.shutdown())
  let pings = 0
  let pinging = true
  const pinger = (async () => { while (pinging) { await other.numberOfObjects(); pings++; await new Promise((r) => setTimeout(r, 2)) } })()
  for (const [scale, fits] of [[0.95, true], [1.05, false]] as const) {
    for (const { label, dialect, bytes } of worstFrames(scale)) {
      if (dialect === 'python' || label.includes('60 MiB')) continue
      const peer = await RawPeer.open(m.address, 'k')
      peer.send(bytes)
      const [reply] = await peer.replies(60_000)
      if (fits) assert.deepEqual([reply![0], errorName(reply)], [1, 'UnknownMethodError'], label)
      else assert.deepEqual([reply![0], errorName(reply)], [0, 'DecodeError'], label)
      peer.close()
    }
  }
  pinging = false
  await pinger
  assert.ok(pings > 0)
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})
