import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BaseManager, SharedQueue } from '../../src/manager/index.ts'
import { connectTo } from '../../src/net/index.ts'
import { decodePickle, encodePickle, tuple, Tuple } from '../../src/codec/index.ts'
import { runScript } from './python.ts'

function rng(seed: number): () => number {
  let s = seed
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 0x100000000 }
}

function mutate(b: Buffer, r: () => number): Buffer {
  const out = Array.from(b)
  for (let e = 0; e < 1 + Math.floor(r() * 3); e++) {
    const at = 2 + Math.floor(r() * (out.length - 2))
    const k = r()
    if (k < 0.5) out[at] = Math.floor(r() * 256)
    else if (k < 0.75) out.splice(at, 1)
    else out.splice(at, 0, Math.floor(r() * 256))
  }
  return Buffer.from(out)
}

test('2,000 mangled requests from a Python-dialect peer each get a reply; the manager keeps serving Python clients', async () => {
  const logs: string[] = []
  const queue = new SharedQueue()
  const m = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: (l) => logs.push(l) }).register('get_queue', () => queue).register('get_back', () => new SharedQueue())
  await m.serve()
  const conn = await connectTo(m.address, { authkey: 'abc' })
  try {
    conn.send(encodePickle(tuple(null, 'accept_connection', tuple('fuzz'), new Map())))
    assert.equal((decodePickle(await conn.readFrame({ timeoutMs: 10_000 })) as Tuple)[0], '#RETURN')
    // Valid shapes to start from; no object exists, so no call can block.
    const seeds = [
      encodePickle(tuple('1', 'put', tuple(tuple(1, 'a', 2.5)), new Map())),
      encodePickle(tuple('1', 'get', tuple(), new Map([['timeout', 0.1]]))),
      encodePickle(tuple(null, 'create', tuple('get_queue'), new Map()), { protocol: 2 }),
    ]
    const r = rng(4242)
    const kinds = new Map<string, number>()
    for (let i = 0; i < 2000 && conn.isOpen; i++) {
      conn.send(mutate(seeds[i % seeds.length]!, r))
      const reply = decodePickle(await conn.readFrame({ timeoutMs: 10_000 })) as Tuple
      const kind = String(reply[0])
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    }
    assert.ok(conn.isOpen, 'the proxy connection stays open through bad requests')
    assert.ok([...kinds.keys()].every((k) => ['#RETURN', '#ERROR', '#TRACEBACK', '#UNSERIALIZABLE'].includes(k)), [...kinds.keys()].join(', '))
    assert.ok((kinds.get('#TRACEBACK') ?? 0) > 100)
    const [host, port] = m.address.split(':') as [string, string]
    const ok = await runScript('3.13', 'client.py', [host, port, 'abc', 'forbidden', `/tmp/troupe-fuzz-marker-${process.pid}`])
    assert.equal(ok.stdout.trim(), 'ok', ok.stderr)
  } finally {
    conn.close()
    await m.shutdown()
  }
})
