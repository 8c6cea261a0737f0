import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Manager, builtinSpecs, proxyInfo } from '../../src/manager/index.ts'
import { snakeCase } from '../../src/manager/python/index.ts'
import { connectTo, type FrameConnection } from '../../src/net/index.ts'
import { decodePickle, encodePickle, tuple, tupleFrom, float, FrozenSet, ByteArray, Tuple } from '../../src/codec/index.ts'

const cleanup: (() => Promise<unknown> | unknown)[] = []
after(async () => { for (const f of cleanup.reverse()) await f() })

/** A Python-dialect proxy connection, as a CPython client opens one (`accept_connection`). */
async function pythonPeer(address: string): Promise<FrameConnection> {
  const conn = await connectTo(address, { authkey: 'k' })
  conn.send(encodePickle(tuple(null, 'accept_connection', tuple('hostile'), new Map()), { protocol: 2 }))
  assert.equal((decodePickle(await conn.readFrame({ timeoutMs: 10_000 })) as Tuple)[0], '#RETURN')
  return conn
}

const MARK = 'HOSTILE-ARGUMENT-MARK'

/** A request `(ident, method, (<raw>,), kwds)` with `raw` pickle opcodes (pushing one value) as its only argument. */
function rawRequest(ident: string, method: string, raw: Buffer, kwds = new Map()): Buffer {
  const plain = encodePickle(tuple(ident, method, tuple(MARK), kwds), { protocol: 2 })
  const at = plain.indexOf(Buffer.from(MARK, 'latin1'))
  // The marker is written with a 1-byte length (SHORT_BINSTRING U, as Python 2's str) or a 4-byte one (BINUNICODE X), then maybe BINPUT n.
  const start = plain[at - 2] === 0x55 ? at - 2 : at - 5
  const end = at + MARK.length + (plain[at + MARK.length] === 0x71 ? 2 : 0)
  return Buffer.concat([plain.subarray(0, start), raw, plain.subarray(end)])
}

const latin1 = (s: string) => Buffer.from(s, 'latin1')
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b }

/** Pickle fragments a hostile peer sends as an argument: each pushes one value, or is refused while decoding. */
const HOSTILE_PICKLES: [string, Buffer][] = [
  ['int of 4,301 digits', latin1(`I${'9'.repeat(4301)}\n`)],
  ['int of 4,300 digits', latin1(`I${'9'.repeat(4300)}\n`)],
  ['long of 200,000 digits', latin1(`L${'1'.repeat(200_000)}L\n`)],
  ['LONG4 of 65,537 bytes', Buffer.concat([Buffer.from([0x8b]), u32(65_537), Buffer.alloc(65_537, 0x11)])],
  ['LONG4 claiming 2 GiB', Buffer.concat([Buffer.from([0x8b]), u32(0x7fffffff)])],
  ['BINUNICODE claiming 4 GiB', Buffer.concat([Buffer.from([0x58]), u32(0xffffffff), latin1('abc')])],
  ['lists nested 1,001 deep', latin1(`${'('.repeat(1001)}${'l'.repeat(1001)}`)],
  ['lists nested 900 deep', latin1(`${'('.repeat(900)}${'l'.repeat(900)}`)],
  ['one list shared 2,000 times', Buffer.concat([latin1('(]q\xe8('), Buffer.alloc(2000, Buffer.from([0x4b, 0x01])), latin1('e'), Buffer.alloc(1999 * 2, Buffer.from([0x68, 0xe8])), latin1('l')])],
  ['a list that contains itself', latin1(']q\xe9h\xe9a')],
  ['memo index never stored', latin1('h\xf0')],
  ['os.system', latin1('cos\nsystem\n')],
  ['builtins.eval applied', latin1('cbuiltins\neval\n(V1\ntR')],
  ['a set of a million', Buffer.concat([latin1('cbuiltins\nset\n(('), Buffer.alloc(2_000_000, Buffer.from([0x4b, 0x07])), latin1('ltR')])],
  ['a dict with a list for a key', latin1('(]Vv\nd')],
  ['truncated', latin1('(K\x01')],
  ['stack underflow', latin1('e')],
  ['FRAME claiming more than is there', Buffer.concat([Buffer.from([0x95]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), latin1('N')])],
]

/** Ordinary values in every slot a method has, and keyword arguments no method takes the way they come. */
const HOSTILE_VALUES: unknown[] = [null, true, -1, 2n ** 1000n, float(Number.NaN), 'x'.repeat(10_000), ByteArray.fromBytes(Buffer.from('ba')), tuple(), [], new FrozenSet([2]), [[[['deep']]]], new Map([[tuple(1, 2), [3]]])]
const HOSTILE_KWDS: Map<string, unknown>[] = [new Map([['timeout', -1]]), new Map([['timeout', 'soon']]), new Map([['block', 'no']]), new Map([['timeout', float(Number.NaN)]]), new Map([['nosuch', 1]]), new Map([['timeout', 2n ** 70n]])]

/** Send one request; its reply kind, or 'parked' when none came (the connection is then replaced, which cancels the call). */
async function ask(state: { conn: FrameConnection; address: string }, frame: Buffer): Promise<string> {
  state.conn.send(frame)
  try {
    const reply = decodePickle(await state.conn.readFrame({ timeoutMs: 50 })) as Tuple
    return String(reply[0])
  } catch {
    state.conn.close()
    state.conn = await pythonPeer(state.address)
    return 'parked'
  }
}

async function servedWithQueue() {
  const m = await new Manager({ authkey: 'k', log: false }).serve()
  cleanup.push(() => m.shutdown())
  const q = await m.Queue<number>()
  await q.putMany([1, 2, 3])
  return { m, q, ident: proxyInfo(q)!.ident }
}

test('a Python peer sending 20 ints of 196,000 digits in one frame is refused at once with CPython\'s int-digits error; other clients are answered meanwhile and the queue keeps its items', async () => {
  const { m, q, ident } = await servedWithQueue()
  const conn = await pythonPeer(m.address)
  cleanup.push(() => conn.close())
  const twenty = Buffer.concat([latin1('('), ...Array.from({ length: 20 }, () => latin1(`I${'9'.repeat(196_000)}\n`)), latin1('l')])
  const frame = rawRequest(ident, 'put', twenty)
  assert.ok(frame.length > 3_900_000)
  const other = await new Manager({ address: m.address, authkey: 'k' }).connect()
  cleanup.push(() => other.shutdown())
  conn.send(frame)
  const pings = await Promise.all(Array.from({ length: 5 }, () => other.numberOfObjects()))
  assert.ok(pings.every((n) => typeof n === 'number'))
  const reply = decodePickle(await conn.readFrame({ timeoutMs: 30_000 })) as Tuple
  assert.equal(reply[0], '#TRACEBACK')
  assert.match(String(reply[1]), /Exceeds the limit \(4300 digits\) for integer string conversion: value has 196000 digits/)
  // The connection stays usable, as CPython's does after a bad request.
  conn.send(encodePickle(tuple(ident, 'qsize', tuple(), new Map()), { protocol: 2 }))
  assert.deepEqual(decodePickle(await conn.readFrame({ timeoutMs: 10_000 })), tuple('#RETURN', 3))
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})

test('a Python peer\'s pickle of 600,000 values is decoded a slice at a time: it is stored whole, and other clients were answered', async () => {
  const { m, q, ident } = await servedWithQueue()
  const conn = await pythonPeer(m.address)
  cleanup.push(() => conn.close())
  const other = await new Manager({ address: m.address, authkey: 'k' }).connect()
  cleanup.push(() => other.shutdown())
  const big = Buffer.concat([latin1('('), Buffer.alloc(600_000 * 2, Buffer.from([0x4b, 0x05])), latin1('l')])
  conn.send(rawRequest(ident, 'put', big))
  const answered = await other.numberOfObjects()
  assert.equal(typeof answered, 'number')
  assert.deepEqual(decodePickle(await conn.readFrame({ timeoutMs: 60_000 })), tuple('#RETURN', null))
  const items = await q.getMany(10)
  assert.equal(items.length, 4)
  assert.equal((items[3] as unknown as number[]).length, 600_000)
})

test('every method of every served type, called by a Python peer with hostile pickles, values in every slot and keyword arguments: each answered, and the server still answers and accounts for every item', async () => {
  const m = await new Manager({ authkey: 'k', log: false }).serve()
  cleanup.push(() => m.shutdown())
  const creators: Record<string, unknown[]> = { Barrier: [2], Value: ['i', 7], Array: ['i', [1, 2, 3]], dict: [[['a', 1]]], list: [[1, 2, 3]], Namespace: [{ a: 1 }] }
  const objects: { typeid: string; ident: string; proxy: unknown }[] = []
  for (const typeid of Object.keys(builtinSpecs)) {
    const p = await m.create(typeid, ...(creators[typeid] ?? []))
    objects.push({ typeid, ident: proxyInfo(p)!.ident, proxy: p })
    if (typeid.endsWith('Queue')) await (p as unknown as { putMany(x: unknown[]): Promise<void> }).putMany(Array.from({ length: 300 }, (_, i) => i))
  }
  const state = { conn: await pythonPeer(m.address), address: m.address }
  cleanup.push(() => state.conn.close())
  const kinds = new Map<string, number>()
  const count = (k: string) => kinds.set(k, (kinds.get(k) ?? 0) + 1)
  let returned = 0
  for (const o of objects) {
    const methods = [...Object.keys(builtinSpecs[o.typeid]!.signatures!).map(snakeCase), '__getitem__', '__reduce__']
    for (const method of methods) {
      // Fragments the decoder refuses never reach a method: those are sent to the first method only.
      for (const [, raw] of HOSTILE_PICKLES) {
        let value: unknown
        try { value = decodePickle(Buffer.concat([raw, latin1('.')])) } catch { if (method !== methods[0]) continue }
        const kind = await ask(state, rawRequest(o.ident, method, raw))
        if (method === 'return_items' && kind === '#RETURN' && o.typeid.endsWith('Queue')) returned += (value as unknown[]).length
        count(kind)
      }
      for (const v of HOSTILE_VALUES) {
        let frame: Buffer
        try { frame = encodePickle(tuple(o.ident, method, tuple(v), new Map()), { protocol: 2 }) } catch { continue }
        const kind = await ask(state, frame)
        if (method === 'return_items' && kind === '#RETURN' && o.typeid.endsWith('Queue')) returned += (v as unknown[]).length
        count(kind)
      }
      for (const kw of HOSTILE_KWDS) count(await ask(state, encodePickle(tuple(o.ident, method, tuple(), kw), { protocol: 2 })))
      count(await ask(state, encodePickle(tuple(o.ident, method, tuple(1, 2, 3, 4, 5, 6, 7), new Map()), { protocol: 2 })))
    }
  }
  assert.ok((kinds.get("#TRACEBACK") ?? 0) > 100 && (kinds.get('#ERROR') ?? 0) > 100 && (kinds.get('#RETURN') ?? 0) > 100, JSON.stringify([...kinds]))
  // The server answers, and every item of the queues is still there or was handed to a caller.
  const other = await new Manager({ address: m.address, authkey: 'k' }).connect()
  cleanup.push(() => other.shutdown())
  assert.equal(typeof await other.numberOfObjects(), 'number')
  for (const o of objects.filter((x) => x.typeid.endsWith('Queue'))) {
    const s = await (o.proxy as { stats(): Promise<{ qsize: number; put: number; got: number; unfinished?: number }> }).stats()
    if (s.unfinished !== undefined) assert.ok(Number.isInteger(s.unfinished) && s.unfinished >= 0, `unfinished ${s.unfinished}`)
  }
  const held = await Promise.all(objects.filter((x) => x.typeid.endsWith('Queue')).map((o) => (o.proxy as { stats(): Promise<{ qsize: number; put: number; got: number }> }).stats()))
  assert.equal(held.reduce((n, s) => n + s.qsize, 0), held.reduce((n, s) => n + s.put - s.got, 0) + returned)
})

test('a Python peer that pipelines requests behind a parked get is read only as fast as it is served: every request is answered in order once the get returns, and others are served meanwhile', async () => {
  const { m, q, ident } = await servedWithQueue()
  const empty = await m.Queue<number>()
  const emptyIdent = proxyInfo(empty)!.ident
  const conn = await pythonPeer(m.address)
  cleanup.push(() => conn.close())
  const replies: Tuple[] = []
  conn.onFrame((f) => replies.push(decodePickle(f) as Tuple))
  conn.send(encodePickle(tuple(emptyIdent, 'get', tuple(), new Map()), { protocol: 2 }))
  const qsize = encodePickle(tuple(ident, 'qsize', tuple(), new Map()), { protocol: 2 })
  for (let i = 0; i < 5000; i++) conn.send(qsize)
  // Others are served while that connection waits.
  assert.equal(await q.qsize(), 3)
  await empty.put(42)
  while (replies.length < 5001) await new Promise((r) => setTimeout(r, 10))
  assert.deepEqual(replies[0], tuple('#RETURN', 42))
  assert.ok(replies.slice(1).every((r) => r[0] === '#RETURN' && r[1] === 3))
})

test('a few bytes of `range(5_000_000)` or `l * 1_000_000` from a Python peer are refused with MemoryError instead of building more than a frame may carry', async () => {
  const { m } = await servedWithQueue()
  const range = latin1('cbuiltins\nrange\n(K\x00J\x40\x4b\x4c\x00K\x01tR')
  const control = await connectTo(m.address, { authkey: 'k' })
  cleanup.push(() => control.close())
  const create = encodePickle(tuple(null, 'create', tuple('list', 'RANGE-MARK'), new Map()), { protocol: 2 })
  const at = create.indexOf(Buffer.from('RANGE-MARK'))
  const start = create[at - 2] === 0x55 ? at - 2 : at - 5
  const end = at + 10 + (create[at + 10] === 0x71 ? 2 : 0)
  control.send(Buffer.concat([create.subarray(0, start), range, create.subarray(end)]))
  const reply = decodePickle(await control.readFrame({ timeoutMs: 30_000 })) as Tuple
  assert.match(String(reply[1]), /MemoryError/)
  const l = await m.list([1, 2, 3])
  const conn = await pythonPeer(m.address)
  cleanup.push(() => conn.close())
  conn.send(encodePickle(tuple(proxyInfo(l)!.ident, '__mul__', tuple(1_000_000), new Map()), { protocol: 2 }))
  const mul = decodePickle(await conn.readFrame({ timeoutMs: 30_000 })) as Tuple
  assert.match(JSON.stringify(mul, (_k, v) => (typeof v === 'bigint' ? String(v) : v)), /MemoryError/)
  assert.equal(await l.length(), 3)
})

test('every control function a Python peer may call (create, incref, decref, get_methods, debug_info, number_of_objects, dummy), with hostile arguments: each answered on its own connection, and the objects others hold stay', async () => {
  const { m, q, ident } = await servedWithQueue()
  const args: unknown[][] = [[], [null], [ident], ['Queue', -1], ['Array', 'i', 2 ** 32 - 1], ['list', 'x'.repeat(10_000)], [tuple(ident)], [new Map([[1, 2]])], [ident, ident, ident], [2n ** 100n], ['nosuch'], [[[[[]]]]]]
  const kinds = new Map<string, number>()
  for (const fn of ['create', 'incref', 'decref', 'get_methods', 'debug_info', 'number_of_objects', 'dummy', 'nosuch']) {
    for (const a of args) {
      if (fn === 'decref' && a[0] === ident) continue // a Python peer may decref what it never held (CPython's refcounts are global)
      const conn = await connectTo(m.address, { authkey: 'k' })
      conn.send(encodePickle(tuple(null, fn, tupleFrom(a), new Map()), { protocol: 2 }))
      const reply = decodePickle(await conn.readFrame({ timeoutMs: 30_000 })) as Tuple
      kinds.set(String(reply[0]), (kinds.get(String(reply[0])) ?? 0) + 1)
      await conn.closed
    }
  }
  assert.ok((kinds.get('#RETURN') ?? 0) > 5 && (kinds.get('#TRACEBACK') ?? 0) > 20, JSON.stringify([...kinds]))
  assert.deepEqual(await q.getMany(10), [1, 2, 3])
})
