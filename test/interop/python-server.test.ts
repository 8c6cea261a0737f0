import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from '../../src/manager/index.ts'
import { tuple, float, isTuple, PyFloat, py2Int, py2Unicode } from '../../src/codec/index.ts'
import { AuthenticationError, Empty } from '../../src/errors.ts'
import { startPython, stopPython, runScript, finished, type PyLabel } from './python.ts'

const children: ChildProcess[] = []
after(() => { for (const c of children) stopPython(c) })

/** The environment for a child node process, without the test runner's markers (they change how a child behaves). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  return env
}

/** Start test/interop/py/server.py and wait for its port. */
async function pythonServer(label: PyLabel, key = 'abc', kind: 'base' | 'sync' = 'base'): Promise<{ child: ChildProcess; port: number }> {
  const child = startPython(label, 'server.py', kind === 'sync' ? [key, '0', 'sync'] : [key])
  children.push(child)
  let out = ''
  let err = ''
  child.stderr!.on('data', (d) => { err += d })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Python ${label} server did not start: ${err}`)), 30_000)
    child.stdout!.on('data', (d) => {
      out += d
      const m = /ready (\d+)/.exec(out)
      if (m) { clearTimeout(timer); resolve(Number(m[1])) }
    })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`Python ${label} server exited (${code}): ${err}`)) })
  })
  return { child, port }
}

for (const label of ['3.11', '3.13'] as PyLabel[]) {
  test(`a troupe client uses queues and objects on a Python ${label} BaseManager server`, async () => {
    const { child, port } = await pythonServer(label)
    const m = await connect({ address: `127.0.0.1:${port}`, authkey: 'abc', dialect: 'python' })
    try {
      const q = await m.create('get_tasks')
      await q.put(tuple('a', 1))
      await q.put(float(2))
      await q.put(2n ** 70n)
      assert.equal(await q.qsize(), 3)
      const t = await q.get()
      assert.ok(isTuple(t))
      assert.deepEqual([...t], ['a', 1])
      assert.ok((await q.get()) instanceof PyFloat)
      assert.equal(await q.get(), 2n ** 70n)
      await assert.rejects(q.get({ timeout: 200 }), (err: Error) => err instanceof Empty && /Python manager/.test((err as Empty).origin ?? ''))
      await assert.rejects(q.getNowait(), Empty)
      // A get parked on one connection does not hold up a put on another.
      const parked = q.get({ timeout: 20_000 })
      await q.put('wake')
      assert.equal(await parked, 'wake')
      // Many calls at once share a bounded pool of connections; every put lands.
      await Promise.all(Array.from({ length: 100 }, (_, i) => q.put(i)))
      assert.equal(await q.qsize(), 100)
      const drained = await Promise.all(Array.from({ length: 100 }, () => q.get()))
      assert.deepEqual([...drained].sort((a, b) => Number(a) - Number(b)), Array.from({ length: 100 }, (_, i) => i))

      const box = await m.create('Box')
      await box.set(tuple(1, 2))
      assert.equal(await box.kind(), 'tuple')
      await box.set('text')
      assert.equal(await box.kind(), 'str')
      await box.set(new Map([[1, 'one']]))
      assert.equal(await box.kind(), 'dict')
      const child2 = (await box.child()) as { set(v: unknown): Promise<void>; kind(): Promise<string> }
      await child2.set(float(3))
      assert.equal(await child2.kind(), 'float')
      await assert.rejects(box.fail(), (err: Error) => err.name === 'KeyError' && /missing/.test(err.message))
      assert.ok(await m.numberOfObjects() >= 3)
    } finally {
      await m.shutdown()
      stopPython(child)
    }
  })

  test(`troupe worker --dialect python drains a Python ${label} manager's task queue; strings arrive as str, Tuples as tuple`, async () => {
    const { child, port } = await pythonServer(label)
    const worker = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--dialect', 'python',
      '--connect', `127.0.0.1:${port}`, '--authkey', 'abc', '--tasks', 'get_tasks', '--results', 'get_results',
      '--module', 'test/interop/fixtures/tasks.ts', '--export', 'describe', '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() })
    children.push(worker)
    const workerDone = finished(worker, 90_000)
    try {
      const driver = await runScript(label, 'driver.py', ['127.0.0.1', String(port), 'abc', '60'])
      assert.equal(driver.stdout.trim(), 'ok 60', driver.stderr)
      const w = await workerDone
      assert.equal(w.code, 0, w.stderr)
      assert.match(w.stdout, /done 60 tasks/)
    } finally {
      stopPython(worker)
      stopPython(child)
    }
  })
}

test('a wrong authkey against a Python server fails cleanly on both sides; the server keeps serving', async () => {
  const { child, port } = await pythonServer('3.12')
  try {
    await assert.rejects(connect({ address: `127.0.0.1:${port}`, authkey: 'wrong', dialect: 'python' }), (err: Error) => {
      assert.ok(err instanceof AuthenticationError, String(err))
      assert.match(err.message, /authkey/)
      return true
    })
    const m = await connect({ address: `127.0.0.1:${port}`, authkey: 'abc', dialect: 'python' })
    const q = await m.create('get_results')
    await q.put('still serving')
    assert.equal(await q.get(), 'still serving')
    await m.shutdown()
    assert.equal(child.exitCode, null)
  } finally {
    stopPython(child)
  }
})

test("troupe's Manager methods reach a Python SyncManager server: Queue, JoinableQueue, Event, Lock, dict, list", async () => {
  const { child, port } = await pythonServer('3.12', 'abc', 'sync')
  const m = await connect({ address: `127.0.0.1:${port}`, authkey: 'abc', dialect: 'python' })
  try {
    const q = await m.Queue()
    await q.put(tuple('job', 1))
    assert.deepEqual([...(await q.get({ timeout: 5000 })) as unknown[]], ['job', 1])
    const jq = await m.JoinableQueue()
    await jq.put(1)
    await jq.get()
    await jq.taskDone()
    await jq.join()
    const ev = await m.Event()
    assert.equal(await ev.wait({ timeout: 50 }), false)
    await ev.set()
    assert.equal(await ev.isSet(), true)
    const lock = await m.Lock()
    assert.equal(await lock.acquire(), true)
    assert.equal(await lock.acquire({ block: false }), false)
    await lock.release()
    // Python's dict and list proxies answer to troupe's container names too.
    const d = await m.dict()
    await d.set('a', tuple(1, 2))
    assert.equal(await d.has('a'), true)
    assert.equal(await d.size(), 1)
    assert.ok(isTuple(await d.get('a')))
    const l = await m.list()
    await l.append('x')
    assert.equal(await l.length(), 1)
    assert.equal(await l.get(0), 'x')
  } finally {
    await m.shutdown()
    stopPython(child)
  }
})

test('a troupe client on a Python 2.7 server keeps int and long, str and unicode apart, both ways', async () => {
  const { child, port } = await pythonServer('2.7')
  const m = await connect({ address: `127.0.0.1:${port}`, authkey: 'abc', dialect: 'python' })
  try {
    const box = await m.create('Box')
    const kinds: [unknown, string][] = [
      [7, 'int'], [2 ** 40, 'int'], [py2Int(2n ** 60n), 'int'], [5n, 'long'], [2n ** 40n, 'long'], [2n ** 70n, 'long'],
      ['abc', 'str'], [py2Unicode('abc'), 'unicode'], ['é', 'unicode'], [Buffer.from([0xe9]), 'str'],
    ]
    for (const [v, kind] of kinds) {
      await box.set(v)
      assert.equal(await box.kind(), kind, `${String(v)} arrived as ${await box.kind()}`)
      const back = await box.get()
      // What came back is what went: a long stays a bigint, an int a number (or a BigInt object past 2**53).
      assert.equal(typeof back, typeof v, `${String(v)} came back as ${typeof back}`)
      assert.equal(String(back), String(v))
    }
  } finally {
    await m.shutdown()
    stopPython(child)
  }
})
