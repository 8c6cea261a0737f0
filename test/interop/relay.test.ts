/**
 * The opaque relay: values troupe cannot construct (datetime, Decimal, a
 * client's own classes, ...) pass through a troupe manager between Python
 * clients unchanged. troupe keeps each as the pickle's own opcode tree
 * (PyGlobal / PyObject), never imports or calls what it names, and writes it
 * back as the same tree.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BaseManager, SharedQueue, SharedDict, connect } from '../../src/manager/index.ts'
import { PyObject, PyGlobal, encodePickle } from '../../src/codec/index.ts'
import { runScript, runPython, type PyLabel } from './python.ts'

async function relayManager() {
  const queue = new SharedQueue()
  const dict = new SharedDict()
  const m = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
    .register('get_queue', () => queue)
    .register('get_dict', () => dict)
  await m.serve()
  return m
}

for (const label of ['2.7', '3.8', '3.13'] as PyLabel[]) {
  test(`Python ${label}: 20+ kinds of values troupe cannot construct go Python -> troupe manager -> Python unchanged (type, value, and the bytes Python pickles them to)`, async () => {
    const m = await relayManager()
    try {
      const put = await runScript(label, 'relay.py', ['put', m.address])
      assert.match(put.stdout, /^ok \d+/, put.stderr)
      const n = Number(/ok (\d+)/.exec(put.stdout)![1])
      assert.ok(n >= 20, `only ${n} kinds`)
      const got = await runScript(label, 'relay.py', ['get', m.address])
      assert.equal(got.stdout.trim(), `ok ${n}`, got.stderr)
    } finally {
      await m.shutdown()
    }
  })
}

for (const [from, to] of [['2.7', '3.12'], ['3.12', '2.7']] as [PyLabel, PyLabel][]) {
  test(`values relayed from Python ${from} reach Python ${to} as the same type and value (datetime, Decimal, UUID, deque, a class instance, ...)`, async () => {
    const m = await relayManager()
    try {
      const put = await runScript(from, 'relay.py', ['xput', m.address])
      assert.match(put.stdout, /^ok \d+/, put.stderr)
      const got = await runScript(to, 'relay.py', ['xget', m.address])
      assert.equal(got.stdout.trim(), put.stdout.trim(), got.stderr)
    } finally {
      await m.shutdown()
    }
  })
}

test('a JS reader of a relayed value sees a PyObject naming its global, and puts it back unchanged for Python', async () => {
  const m = await relayManager()
  try {
    assert.equal((await runScript('3.12', 'relay.py', ['one', m.address])).stdout.trim(), 'ok')
    const client = await connect({ address: m.address, authkey: 'abc' })
    try {
      const q = await client.create<SharedQueue<unknown>>('get_queue')
      const when = await q.get({ timeout: 5000 }) as PyObject
      assert.ok(when instanceof PyObject)
      assert.equal(when.type, 'datetime.datetime')
      assert.ok(when.callable instanceof PyGlobal)
      // What troupe writes back is what Python wrote: Python reads the same datetime.
      const text = runPython('3.12', ['-c', 'import pickle,sys; print(repr(pickle.loads(sys.stdin.buffer.read())))'], encodePickle(when)).toString().trim()
      assert.equal(text, 'datetime.datetime(2020, 1, 2, 3, 4, 5)')
    } finally {
      await client.shutdown()
    }
  } finally {
    await m.shutdown()
  }
})
