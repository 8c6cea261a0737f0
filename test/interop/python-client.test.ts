import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { BaseManager, Manager, SharedQueue, SharedJoinableQueue, connect } from '../../src/manager/index.ts'
import { tuple, float, isTuple, unmarshal, PyObject } from '../../src/codec/index.ts'
import { existsSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { runScript, startPython, finished, stopPython, type PyLabel } from './python.ts'

// One troupe manager serves every test here; Python clients of each version connect to it.
const logs: string[] = []
const queue = new SharedQueue()
const joinable = new SharedJoinableQueue()
const tasks = new SharedJoinableQueue()
const results = new SharedQueue()
const back = new SharedQueue()
let manager: BaseManager
let host: string
let port: string

before(async () => {
  manager = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: (l) => logs.push(l) })
    .register('get_queue', () => queue)
    .register('get_joinable', () => joinable)
    .register('get_tasks', () => tasks)
    .register('get_results', () => results)
    .register('get_back', () => back)
  await manager.serve()
  ;[host, port] = manager.address.split(':') as [string, string]
})

after(async () => {
  await manager.shutdown()
})

for (const label of ['3.11', '3.12', '3.13', '2.7'] as PyLabel[]) {
  test(`a Python ${label} client puts, gets, gets queue.Empty on timeout, counts and joins on a troupe manager; values keep their Python types`, async () => {
    const r = await runScript(label, 'client.py', [host, port, 'abc'])
    assert.equal(r.stderr, '')
    assert.equal(r.stdout.trim(), 'ok')
    assert.equal(r.code, 0)
  })
}

test('a Python client with a wrong authkey is refused on both sides and the manager keeps serving', async () => {
  const before = logs.length
  const r = await runScript('3.12', 'client.py', [host, port, 'wrong', 'badkey'])
  assert.match(r.stdout, /AuthenticationError: digest sent was rejected/)
  assert.ok(logs.slice(before).some((l) => /refused connection .*AuthenticationError: digest received was wrong/.test(l)), logs.join('\n'))
  const ok = await runScript('3.12', 'client.py', [host, port, 'abc'])
  assert.equal(ok.stdout.trim(), 'ok', ok.stderr)
})

for (const label of ['2.7', '3.13'] as PyLabel[]) {
  test(`a value whose unpickling would run os.system (Python ${label}) is relayed as an opaque PyObject, never run by troupe`, async () => {
    const marker = join(tmpdir(), `troupe-pwned-${label}-${process.pid}`)
    const r = await runScript(label, 'client.py', [host, port, 'abc', 'forbidden', marker])
    assert.equal(r.stdout.trim(), 'ok', r.stderr)
    // A JS reader sees the call as data: the global it names and its arguments.
    const m = await connect({ address: `${host}:${port}`, authkey: 'abc' })
    try {
      const q = await m.create<SharedQueue<unknown>>('get_queue')
      const evil = await q.get({ timeout: 5000 }) as PyObject
      assert.ok(evil instanceof PyObject, String(evil))
      assert.equal(evil.type, 'posix.system')
      assert.deepEqual([...evil.args], [`touch ${marker}`])
      assert.equal(existsSync(marker), false)
    } finally {
      await m.shutdown()
    }
  })
}

test('a troupe client and a Python client exchange values through one queue, each side seeing its own types', async () => {
  const m = await connect({ address: `${host}:${port}`, authkey: 'abc' })
  try {
    const fromPy = await m.create<SharedQueue<unknown>>('get_queue')
    const back = await m.create<SharedQueue<unknown>>('get_back')
    const py = runScript('3.13', 'client.py', [host, port, 'abc', 'exchange'])
    const v = (await fromPy.get({ timeout: 30_000 })) as unknown[]
    // A Python tuple stays a Tuple through troupe's own (v8) dialect too.
    assert.ok(isTuple(v))
    assert.deepEqual(v.slice(0, 4), [1, 'a', null, 2.5])
    assert.equal(Buffer.from(v[4] as Uint8Array).toString(), 'x')
    assert.deepEqual(v[6], new Map([['k', true]]))
    assert.equal(v[7], 2n ** 70n)
    assert.deepEqual(v[9], new Set([1, 2]))
    assert.equal(v[10], 'é☃😀')
    // A Tuple put by a troupe client arrives in Python as a tuple, a PyFloat as a float.
    await back.put(tuple('hello', 1, float(2), [1], new Map([['k', null]]), { plain: 'object' }))
    const r = await py
    assert.equal(r.stdout.trim(), 'ok', r.stderr)
  } finally {
    await m.shutdown()
  }
})

test('a Python worker and a troupe worker drain the same troupe-served queue; every task is done exactly once', async () => {
  const N = 200
  for (let i = 0; i < N / 2; i++) tasks.put(i)
  const py = startPython('3.11', 'client.py', [host, port, 'abc', 'worker', 'py'])
  try {
    const pyDone = finished(py, 90_000)
    // Phase 1 is Python's alone, so it certainly takes part; phase 2 is raced by both workers.
    const seen: [string, number][] = []
    // The server-side queue holds values in marshalled form (as a troupe client would send them).
    const next = async () => unmarshal(await results.get({ timeout: 30_000 })) as [string, number]
    while (seen.length < 1) seen.push(await next())
    const m = await connect({ address: `${host}:${port}`, authkey: 'abc' })
    try {
      const t = await m.create<SharedJoinableQueue<number | null>>('get_tasks')
      const res = await m.create<SharedQueue<unknown>>('get_results')
      const troupeWorker = (async () => {
        let n = 0
        for (;;) {
          const item = await t.get({ timeout: 30_000 })
          if (item === null) { await t.taskDone(); return n }
          await res.put(['troupe', item])
          await t.taskDone()
          n++
        }
      })()
      await new Promise((r) => setTimeout(r, 200))
      for (let i = N / 2; i < N; i++) tasks.put(i)
      tasks.put(null)
      tasks.put(null)
      while (seen.length < N) seen.push(await next())
      await tasks.join({ timeout: 30_000 })
      const nTroupe = await troupeWorker
      const out = await pyDone
      assert.equal(out.code, 0, out.stderr)
      const done = seen.map(([, t]) => Number(t)).sort((a, b) => a - b)
      assert.deepEqual(done, Array.from({ length: N }, (_, i) => i))
      const byPy = seen.filter(([w]) => String(w) === 'py').length
      assert.equal(byPy + nTroupe, N)
      assert.ok(byPy > 0 && nTroupe > 0, `python did ${byPy}, troupe did ${nTroupe}`)
      assert.match(out.stdout, new RegExp(`done ${byPy}`))
    } finally {
      await m.shutdown()
    }
  } finally {
    stopPython(py)
  }
})

for (const label of ['3.13', '2.7'] as PyLabel[]) {
  test(`Python ${label}'s SyncManager uses Queue, JoinableQueue, Event, Lock and dict on a troupe Manager`, async () => {
    const m = new Manager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
    await m.serve()
    try {
      const [h, p] = m.address.split(':') as [string, string]
      const r = await runScript(label, 'client.py', [h, p, 'abc', 'sync'])
      assert.equal(r.stdout.trim(), 'ok', r.stderr)
    } finally {
      await m.shutdown()
    }
  })
}

test('seed 004 migrated halfway: a Python producer, a troupe manager and a `troupe worker` process; results reach Python as str and tuple', async () => {
  const tq = new SharedJoinableQueue()
  const rq = new SharedQueue()
  const m = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
    .register('get_tasks', () => tq)
    .register('get_results', () => rq)
  await m.serve()
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  const worker = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--connect', m.address, '--authkey', 'abc',
    '--tasks', 'get_tasks', '--results', 'get_results', '--module', 'test/interop/fixtures/tasks.ts', '--export', 'describe', '--no-progress'],
  { stdio: ['ignore', 'pipe', 'pipe'], env })
  const workerDone = finished(worker, 90_000)
  try {
    const [h, p] = m.address.split(':') as [string, string]
    const driver = await runScript('3.11', 'driver.py', [h, p, 'abc', '60'])
    assert.equal(driver.stdout.trim(), 'ok 60', driver.stderr)
    const w = await workerDone
    assert.equal(w.code, 0, w.stderr)
  } finally {
    stopPython(worker)
    await m.shutdown()
  }
})

test('a Python client reaches a troupe manager on a Unix socket path (seed 003 style)', async () => {
  const path = join(tmpdir(), `troupe-interop-${process.pid}.sock`)
  const m = new BaseManager({ address: path, authkey: 'abc', log: false })
    .register('get_queue', () => new SharedQueue())
    .register('get_joinable', () => new SharedJoinableQueue())
  await m.serve()
  try {
    const r = await runScript('3.12', 'client.py', [path, '-', 'abc'])
    assert.equal(r.stdout.trim(), 'ok', r.stderr)
  } finally {
    await m.shutdown()
  }
})
