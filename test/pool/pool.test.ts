import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { Pool, AsyncResult } from '../../src/pool/index.ts'
import { PoolClosedError, TimeoutError, UnlocatableFunctionError, UnsendableValueError, Full } from '../../src/errors.ts'
import { square, add, asyncSquare, sleep, failWithQuota, returnsFunction, init, initialisedWith, failingInit, length, noArgs, identity, describeNumber, describeLater, bigText, bigMixed, sameAndCyclic } from './tasks.ts'

const pool = new Pool({ workers: 2 })
after(() => pool.terminate())

test('applyAsync returns an AsyncResult that can be awaited, get() and checked', async () => {
  const r = pool.applyAsync(square, [7])
  assert.ok(r instanceof AsyncResult)
  assert.equal(await r, 49)
  assert.equal(r.ready(), true)
  assert.equal(r.successful(), true)
  assert.equal(await r.get({ timeout: 1000 }), 49)
})

test('apply resolves with the result; functions with no arguments need no args', async () => {
  assert.equal(await pool.apply(add, [2, 3]), 5)
  assert.equal(await pool.apply(noArgs), 'none')
  assert.equal(await pool.apply(asyncSquare, [6]), 36)
})

test("Python's positional map(f, xs, 4), imap(f, xs, 4) and applyAsync(f, args, kwds) written in JavaScript throw TypeError saying how to write them", async () => {
  // Each was ignored: a map chunked another way, a task run without the options meant for it.
  const js = pool as unknown as Record<string, (...args: unknown[]) => unknown>
  assert.throws(() => js.applyAsync!(square, [3], 1000), /applyAsync\(\) argument 3: expected options \{.*\}, got number 1000/)
  assert.throws(() => js.mapAsync!(square, [1, 2], 4), /map\(\) argument 3: .*got number 4 \(Python's map\(f, xs, 4\) is map\(f, xs, \{ chunksize: 4 \}\)\)/)
  await assert.rejects(js.map!(square, [1, 2], 4) as Promise<unknown>, TypeError)
  await assert.rejects(js.starmap!(add, [[1, 2]], 4) as Promise<unknown>, /starmap\(\) argument 3/)
  assert.throws(() => js.imap!(square, [1, 2], 4), /imap\(\) argument 3: .*imap\(f, xs, \{ chunksize: 4 \}\)/)
  assert.throws(() => js.imapUnordered!(square, [1, 2], 4), /imapUnordered\(\) argument 3/)
  assert.deepEqual(await pool.map(square, [1, 2], { chunksize: 1 }), [1, 4])
})

test('a task timeout must be a positive number of ms: 0 and null are refused at the call', () => {
  for (const timeout of [0, null]) {
    assert.throws(() => pool.applyAsync(square, [2], { timeout: timeout as number }), /timeout must be a positive number of ms/, String(timeout))
  }
})

test('many tasks submitted at once all come back, each with its own result', async () => {
  const rs = Array.from({ length: 5000 }, (_, i) => pool.applyAsync(add, [i, 1]))
  const values = await Promise.all(rs)
  assert.deepEqual(values, Array.from({ length: 5000 }, (_, i) => i + 1))
})

test('callback and errorCallback are called', async () => {
  let got: number | undefined
  let failed: Error | undefined
  const a = pool.applyAsync(square, [3], { callback: (v) => { got = v } })
  const b = pool.applyAsync(failWithQuota, [1], { errorCallback: (e) => { failed = e } })
  await a.wait()
  await b.wait()
  assert.equal(got, 9)
  assert.equal(failed?.name, 'QuotaError')
  assert.equal(b.successful(), false)
})

test('a task error keeps its class name, message, own properties, remote stack and origin', async () => {
  await assert.rejects(pool.apply(failWithQuota, [42]), (err: any) => {
    assert.equal(err.name, 'QuotaError')
    assert.equal(err.message, 'over quota 42')
    assert.equal(err.quota, 42)
    assert.match(err.remoteStack, /failWithQuota/)
    assert.match(err.origin, /pool-worker-\d+ \(thread \d+/)
    return true
  })
})

test('get({ timeout }) rejects with TimeoutError while the task goes on', async () => {
  const r = pool.applyAsync(sleep, [200, 'late'])
  await assert.rejects(r.get({ timeout: 10 }), TimeoutError)
  assert.equal(await r, 'late')
})

test('wait({ timeout }) resolves without a result when time runs out', async () => {
  const r = pool.applyAsync(sleep, [200, 'x'])
  await r.wait({ timeout: 5 })
  assert.equal(r.ready(), false)
  assert.throws(() => r.successful(), /not ready|before the result is ready/)
  await r
})

test('map, starmap and their async forms keep input order across chunks', async () => {
  const xs = Array.from({ length: 1000 }, (_, i) => i)
  assert.deepEqual(await pool.map(square, xs, { chunksize: 7 }), xs.map((x) => x * x))
  assert.deepEqual(await pool.map(square, new Set([1, 2, 3])), [1, 4, 9])
  assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7])
  assert.deepEqual(await pool.mapAsync(square, []).get(), [])
  let all: number[] = []
  await pool.starmapAsync(add, [[5, 5]], { callback: (v) => { all = v } }).wait()
  assert.deepEqual(all, [10])
})

test('map rejects with the error of a failing item', async () => {
  await assert.rejects(pool.map(failWithQuota, [1, 2, 3]), { name: 'QuotaError' })
})

test('imap yields in order, imapUnordered yields everything, both from async inputs too', async () => {
  const ys: number[] = []
  for await (const y of pool.imap(square, [1, 2, 3, 4, 5], { chunksize: 2 })) ys.push(y)
  assert.deepEqual(ys, [1, 4, 9, 16, 25])
  async function* gen() { for (let i = 0; i < 20; i++) yield i }
  const zs: number[] = []
  for await (const z of pool.imapUnordered(square, gen(), { chunksize: 3 })) zs.push(z)
  assert.deepEqual(zs.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i * i))
})

test('imap reads its input lazily: an endless input is fine when the consumer stops', async () => {
  let read = 0
  function* endless() { for (let i = 0; ; i++) { read++; yield i } }
  const got: number[] = []
  for await (const y of pool.imap(square, endless(), { chunksize: 4, inflight: 2 })) {
    got.push(y)
    if (got.length === 10) break
  }
  assert.deepEqual(got, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
  assert.ok(read <= 10 + 4 * 3, `read ${read} items for 10 results`)
})

test('a function that is not exported fails with UnlocatableFunctionError', async () => {
  const local = (n: number) => n + 1
  await assert.rejects(pool.apply(local, [1]), UnlocatableFunctionError)
})

test('arguments that cannot be sent fail with UnsendableValueError naming the path', async () => {
  await assert.rejects(pool.apply(add, [1, { cb: () => 1 } as any]), (err: any) => {
    assert.ok(err instanceof UnsendableValueError)
    assert.equal(err.path, 'args[1].cb')
    return true
  })
})

test('a result that cannot be sent back fails that task only', async () => {
  const [bad, good] = await Promise.allSettled([pool.apply(returnsFunction), pool.apply(square, [2])])
  assert.equal(bad.status, 'rejected')
  assert.equal((bad as PromiseRejectedResult).reason.name, 'UnsendableValueError')
  assert.deepEqual(good, { status: 'fulfilled', value: 4 })
})

test('binary payloads arrive intact, copied or transferred', async () => {
  const buf = new Uint8Array(64 * 1024).fill(7)
  assert.equal(await pool.apply(length, [buf]), 65536)
  assert.equal(buf.byteLength, 65536)
  const moved = new Uint8Array(1024)
  assert.equal(await pool.apply(length, [moved], { transfer: [moved.buffer] }), 1024)
  assert.equal(moved.byteLength, 0)
})

test('stats() counts tasks and reports per-worker utilisation and percentiles', async () => {
  await pool.map(square, [1, 2, 3, 4])
  const s = pool.stats()
  assert.equal(s.kind, 'thread')
  assert.equal(s.workers, 2)
  assert.ok(s.completed > 0)
  assert.ok(s.failed > 0)
  assert.equal(s.queued, 0)
  assert.equal(s.perWorker.length, 2)
  for (const w of s.perWorker) assert.ok(w.utilisation >= 0 && w.utilisation <= 1)
  assert.ok(s.runTime.samples > 0 && s.runTime.p99 >= s.runTime.p50)
  assert.ok(s.waitTime.samples > 0)
})

test('two slow tasks run side by side on the two workers', async () => {
  const busy = await Promise.all([pool.apply(sleep, [50, 'a']), pool.apply(sleep, [50, 'b'])])
  assert.deepEqual(busy, ['a', 'b'])
  assert.equal(new Set(pool.stats().perWorker.filter((w) => w.tasks > 0).map((w) => w.id)).size, 2)
})

test('an initializer runs in each worker before its tasks', async () => {
  const p = new Pool({ workers: 1, initializer: init, initargs: ['ready'] })
  try {
    assert.equal(await p.apply(initialisedWith), 'ready')
  } finally { await p.terminate() }
})

test('a failing initializer fails the queued tasks with its error instead of hanging', async () => {
  const p = new Pool({ workers: 1, initializer: failingInit })
  try {
    await assert.rejects(p.apply(square, [2]), (err: Error) => err.name === 'RangeError' && /bad init/.test(err.message))
  } finally { await p.terminate() }
})

test('maxQueue makes further submissions fail with Full', async () => {
  const p = new Pool({ workers: 1, maxQueue: 2 })
  try {
    const rs = Array.from({ length: 5 }, () => p.applyAsync(sleep, [20, 1]))
    const settled = await Promise.allSettled(rs)
    const full = settled.filter((s) => s.status === 'rejected')
    assert.ok(full.length >= 1)
    for (const f of full) assert.ok((f as PromiseRejectedResult).reason instanceof Full)
  } finally { await p.terminate() }
})

test('close() then join() waits for all submitted work; new tasks are refused', async () => {
  const p = new Pool({ workers: 2 })
  const rs = Array.from({ length: 6 }, (_, i) => p.applyAsync(sleep, [30, i]))
  p.close()
  assert.throws(() => p.applyAsync(square, [1]), PoolClosedError)
  await p.join()
  assert.deepEqual(rs.map((r) => r.ready()), [true, true, true, true, true, true])
  assert.deepEqual(await Promise.all(rs), [0, 1, 2, 3, 4, 5])
  assert.equal(p.stats().workers, 0)
})

test('join() before close() is refused', async () => {
  const p = new Pool({ workers: 1 })
  try { await assert.rejects(p.join(), /close\(\) or terminate\(\) first/) } finally { await p.terminate() }
})

test('terminate() rejects pending tasks with PoolClosedError', async () => {
  const p = new Pool({ workers: 1 })
  const running = p.applyAsync(sleep, [5000, 'never'])
  const queued = p.applyAsync(square, [3])
  await sleep(50, 0)
  await p.terminate()
  await assert.rejects(running.get(), PoolClosedError)
  await assert.rejects(queued.get(), PoolClosedError)
})

test('await using closes the pool and waits for its work', async () => {
  let r: AsyncResult<unknown>
  {
    await using p = new Pool({ workers: 1 })
    r = p.applyAsync(sleep, [20, 5])
  }
  assert.equal(r.ready(), true)
  assert.equal(await r, 5)
})

test('bad options are refused with a clear error', () => {
  assert.throws(() => new Pool({ workers: 0 }), RangeError)
  assert.throws(() => new Pool({ maxTasksPerChild: -1 }), RangeError)
})

test('idleTimeout lets idle workers exit; they come back when work arrives', async () => {
  const p = new Pool({ workers: 2, idleTimeout: 50 })
  try {
    assert.deepEqual(await p.map(square, [1, 2, 3, 4]), [1, 4, 9, 16])
    for (let i = 0; i < 100 && p.stats().workers > 0; i++) await sleep(20, 0)
    assert.equal(p.stats().workers, 0)
    assert.equal(await p.apply(square, [5]), 25)
    assert.ok(p.stats().workers >= 1)
  } finally { await p.terminate() }
})

test('an idleTimeout longer than a Node timer can hold (2**31 ms) keeps idle workers, without overflow warnings', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error) => warnings.push(w.name)
  process.on('warning', onWarning)
  const p = new Pool({ workers: 2, idleTimeout: 30 * 24 * 3600 * 1000 })
  try {
    assert.deepEqual(await p.map(square, [1, 2, 3, 4]), [1, 4, 9, 16])
    await sleep(200, 0)
    assert.equal(p.stats().workers, 2)
    assert.ok(!warnings.includes('TimeoutOverflowWarning'), warnings.join())
  } finally { process.off('warning', onWarning); await p.terminate() }
})

test('a program that never closes its pool still exits once its work is done', () => {
  const code = `
    import { Pool } from './src/pool/index.ts'
    import { square } from './test/pool/tasks.ts'
    const pool = new Pool({ workers: 2 })
    console.log(await pool.apply(square, [12]))
  `
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.signal, null, 'the program had to be killed: the pool kept it alive')
  assert.equal(r.stdout.trim(), '144')
  assert.equal(r.status, 0, r.stderr)
})

test('a process pool reports its workers and runs async tasks', async () => {
  const p = new Pool({ workers: 2, kind: 'process' })
  try {
    assert.deepEqual(await Promise.all([p.apply(asyncSquare, [3]), p.apply(add, [1, 2])]), [9, 3])
    const s = p.stats()
    assert.equal(s.kind, 'process')
    assert.equal(s.workers, 2)
    for (const w of s.perWorker) { assert.notEqual(w.pid, process.pid); assert.equal(w.threadId, undefined) }
    await assert.rejects(p.apply(failWithQuota, [7]), (err: any) => err.name === 'QuotaError' && err.quota === 7 && /pid \d+/.test(err.origin))
  } finally { await p.terminate() }
})

test('tasks carrying and returning large strings in plain objects all arrive intact, on threads and processes', async () => {
  const KIB64 = 64 * 1024
  const strs = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i).repeat(KIB64))
  const p = new Pool({ workers: 2, kind: 'process' })
  try {
    for (const target of [pool, p]) {
      // Far more than one message's worth: the pool cuts batches by size, and async tasks read their argument late.
      const n = target === pool ? 600 : 200
      const got = await Promise.all(Array.from({ length: n }, (_, i) => target.applyAsync(describeLater, [{ id: i, s: strs[i % 26]! }])))
      assert.deepEqual(got, Array.from({ length: n }, (_, i) => `${i}:${KIB64}:${String.fromCharCode(97 + (i % 26))}`))
      const back = await Promise.all(Array.from({ length: n }, (_, i) => target.applyAsync(bigText, [i, KIB64])))
      for (let i = 0; i < n; i++) assert.ok(back[i]!.length === KIB64 && back[i]![0] === String.fromCharCode(65 + (i % 26)), `result ${i}`)
    }
  } finally { await p.terminate() }
})

test('large results of every shape come back exact, each in its place, with failures among them (packed result batches)', async () => {
  const n = 400
  const got = await Promise.allSettled(Array.from({ length: n }, (_, i) => pool.applyAsync(bigMixed, [i])))
  for (let i = 0; i < n; i++) {
    const r = got[i]!
    if (i % 4 === 3) {
      assert.equal(r.status, 'rejected', `task ${i}`)
      assert.equal((r as PromiseRejectedResult).reason.name, 'RangeError')
      assert.equal((r as PromiseRejectedResult).reason.message, `no ${i}`)
    } else {
      assert.equal(r.status, 'fulfilled', `task ${i}`)
      assert.deepEqual((r as PromiseFulfilledResult<unknown>).value, bigMixed(i), `task ${i}`)
    }
  }
})

for (const kind of ['thread', 'process'] as const) {
  test(`a ${kind} pool keeps identities in arguments that hold a large string (one object twice, a cycle)`, async () => {
    const p = new Pool({ workers: 1, kind })
    try {
      const o: { s: string; self?: unknown } = { s: 'w'.repeat(65536) }
      o.self = o
      assert.deepEqual(await p.apply(sameAndCyclic, [o, o]), [true, true, 65536])
    } finally {
      await p.terminate()
    }
  })
}

test('map over plain numbers keeps every value exactly (-0, NaN, Infinity, big integers)', async () => {
  const special = [-0, NaN, Infinity, -Infinity, Number.MAX_SAFE_INTEGER, 0.1, -1e-300]
  const xs = Array.from({ length: 200 }, (_, i) => special[i % special.length]!)
  const ys = await pool.map(identity, xs, { chunksize: 100 })
  assert.equal(ys.length, xs.length)
  for (let i = 0; i < xs.length; i++) assert.ok(Object.is(ys[i], xs[i]), `item ${i}: ${ys[i]} vs ${xs[i]}`)
  const mixed = await pool.map(describeNumber, Array.from({ length: 100 }, (_, i) => i), { chunksize: 100 })
  assert.equal(mixed[2], 2)
  assert.equal(mixed[3], 'odd 3')
  const got: number[] = []
  for await (const y of pool.imap(square, Array.from({ length: 300 }, (_, i) => i), { chunksize: 100 })) got.push(y)
  assert.deepEqual(got, Array.from({ length: 300 }, (_, i) => i * i))
})

test('callbacks never run before applyAsync returns, and may submit more tasks', async () => {
  for (let i = 0; i < 50; i++) await pool.apply(add, [i, 1]) // the pool now expects tiny tasks
  let called = false
  let inner: AsyncResult<number> | undefined
  const r = pool.applyAsync(square, [2], { callback: (v) => { called = true; inner = pool.applyAsync(square, [v]) } })
  assert.equal(called, false)
  assert.equal(await r, 4)
  assert.equal(called, true)
  assert.equal(await inner, 16)
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.apply(add, [i, i])))
  assert.deepEqual(many, Array.from({ length: 200 }, (_, i) => 2 * i))
})
