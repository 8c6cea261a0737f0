import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { armWait, cancel, heldCount, schedule, scheduledCount, sleep, withTimeout, type Timed } from '../src/timers.ts'
import { Actor, spawn, pendingAsks, supervise, Worker } from '../src/actor/index.ts'
import { BaseManager, Manager } from '../src/manager/index.ts'
import { Queue, JoinableQueue, Pipe, Lock, RLock, Semaphore, Event, Condition, Barrier } from '../src/sync/index.ts'
import { Process } from '../src/process/index.ts'
import { Pool } from '../src/pool/index.ts'
import { square } from './fixtures/tasks.ts'
import { AbortError, TimeoutError } from '../src/errors.ts'

const root = fileURLToPath(new URL('../', import.meta.url))

function entry(onFire: () => void): Timed {
  return { slot: -1, at: 0, fire: onFire }
}

test('a coarse timeout never fires before its deadline', async () => {
  const starts: number[] = []
  const fired = await Promise.all([60, 100, 45].map((ms) => new Promise<number>((resolve) => {
    const t0 = performance.now()
    starts.push(t0)
    schedule(entry(() => resolve(performance.now() - t0)), ms)
  })))
  assert.ok(fired[0]! >= 60 && fired[1]! >= 100 && fired[2]! >= 45, `fired after ${fired.map((x) => x.toFixed(1)).join(', ')} ms`)
})

test('a wait longer than a Node timer can hold (30 days) stays pending, and the timer is not re-armed every millisecond', async () => {
  const overflows: string[] = []
  const onWarning = (w: Error) => { if (w.name === 'TimeoutOverflowWarning') overflows.push(w.message) }
  process.on('warning', onWarning)
  const ac = new AbortController()
  const outcome = sleep(30 * 24 * 3600_000, ac.signal).then(() => 'fired', () => 'aborted')
  try {
    await new Promise((r) => setTimeout(r, 100))
  } finally {
    ac.abort()
    process.off('warning', onWarning)
  }
  assert.equal(await outcome, 'aborted')
  assert.deepEqual(overflows, [], 'a delay past 2^31-1 ms makes Node fire after 1 ms, with a warning each time')
})

test('a cancelled deadline never fires and releases what it held', async () => {
  const held = heldCount()
  let fired = 0
  const es = Array.from({ length: 1000 }, () => entry(() => { fired++ }))
  for (const e of es) schedule(e, 50)
  for (const e of es) schedule(e, 60) // moved, not doubled
  assert.equal(scheduledCount(), 1000)
  for (const e of es) cancel(e)
  assert.equal(scheduledCount(), 0)
  assert.equal(heldCount(), held)
  await sleep(150)
  assert.equal(fired, 0)
})

test('armWait: the timeout or the abort runs once, never after disarm; an already-aborted signal fails on the next microtask', async () => {
  const seen: string[] = []
  armWait({ signal: AbortSignal.abort() }, () => seen.push('timeout'), () => seen.push('abort'))
  assert.equal(seen.length, 0)
  await Promise.resolve()
  assert.deepEqual([...seen], ['abort'])
  const disarm = armWait({ timeout: 1 }, () => seen.push('late'), () => seen.push('late abort'))
  disarm()
  await sleep(30)
  assert.deepEqual([...seen], ['abort'])
  await assert.rejects(withTimeout(new Promise(() => {}), { timeout: 5 }, () => new TimeoutError('t')), TimeoutError)
  const ctl = new AbortController()
  const w = withTimeout(new Promise(() => {}), { signal: ctl.signal }, () => new TimeoutError('t'))
  ctl.abort()
  await assert.rejects(w, AbortError)
})

/** Answers every ask with 1. */
export class One extends Actor<number> {
  receive(): number { return 1 }
}

test('100,000 asks with a timeout leave no deadline, no hold and no pending ask behind', async () => {
  const held = heldCount()
  const one = spawn(One)
  for (let i = 0; i < 100_000; i++) await one.ask(i, { timeout: 5000 })
  await one.stop()
  assert.equal(pendingAsks(), 0)
  assert.equal(scheduledCount(), 0)
  assert.equal(heldCount(), held)
})

for (const what of ['ask', 'get']) {
  test(`awaiting ${what === 'ask' ? 'an ask' : 'a queue get'} at the top level keeps the program alive until an unref'd source settles it`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/keepalive-main.ts', what], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, `exit ${r.status}; stderr: ${r.stderr}`)
    assert.equal(r.stdout.trim(), what === 'ask' ? 'answer 42' : 'got late item')
  })
}

test("Python's positional wait arguments written in JavaScript (get(true, 1), join(1), acquire(false), ask(msg, 100)) reject with TypeError instead of waiting forever", async () => {
  // What a JavaScript caller can write untyped: each was ignored, and the call waited with no limit.
  const js = (x: object) => x as Record<string, (...args: unknown[]) => Promise<unknown>>
  const refused = (err: Error) => err instanceof TypeError && /argument \d: expected options \{.*\}, got (number|boolean) .*milliseconds/.test(err.message)
  const q = new Queue<number>(1)
  await q.put(1)
  const jq = new JoinableQueue<number>()
  await jq.put(1)
  const [a] = Pipe<number>()
  const held = [new Lock(), new RLock(), new Semaphore(1)]
  for (const l of held) await l.acquire()
  const cond = new Condition()
  await cond.acquire()
  const actor = spawn(Sleeper)
  const sup = supervise([{ actor: Sleeper }])
  const pool = new Pool({ workers: 1 })
  const calls: [string, () => Promise<unknown>][] = [
    ['new Queue().get(true, 1)', () => js(new Queue()).get!(true, 1)],
    ['queue.get(1000)', () => js(new Queue()).get!(1000)],
    ['full queue.put(2, 1000)', () => js(q).put!(2, 1000)],
    ['joinableQueue.join(1)', () => js(jq).join!(1)],
    ['connection.recv(1)', () => js(a).recv!(1)],
    ...held.map((l): [string, () => Promise<unknown>] => [`${l.constructor.name}.acquire(false)`, () => js(l).acquire!(false)]),
    ['event.wait(1)', () => js(new Event()).wait!(1)],
    ['condition.wait(1)', () => js(cond).wait!(1)],
    ['condition.waitFor(pred, 1)', () => js(cond).waitFor!(() => false, 1)],
    ['barrier.wait(1)', () => js(new Barrier(2)).wait!(1)],
    ['process.join(1)', () => js(new Process({ target: square, args: [2] })).join!(1)],
    ['asyncResult.get(1)', () => js(pool.applyAsync(square, [3])).get!(1)],
    ['asyncResult.wait(1)', () => js(pool.applyAsync(square, [3])).wait!(1)],
    ['ref.ask(msg, 100)', () => js(actor).ask!('nap', 100)],
    ['ref.join(1)', () => js(actor).join!(1)],
    ['supervisor.join(1)', () => js(sup).join!(1)],
  ]
  try {
    for (const [what, call] of calls) await assert.rejects(withTimeout(Promise.resolve().then(call), { timeout: 5000 }, () => new Error(`${what} still waits`)), refused, what)
  } finally {
    await pool.terminate()
    await actor.stop()
    await sup.stop()
  }
})

test("Python's positional constructor arguments written in JavaScript (new Pool(4), new Process(fn, args), spawn(A, 'thread'), new BaseManager(address, authkey)) throw TypeError saying how to write them", () => {
  // Each was ignored: a pool of another size, an actor or task on another place, a manager on a random port with a random key.
  const untyped = (C: unknown) => C as new (...args: unknown[]) => unknown
  const cases: [string, () => unknown, RegExp][] = [
    ['new Pool(4)', () => new (untyped(Pool))(4), /new Pool\(\) argument 1: expected options .*got number 4.*new Pool\(\{ workers: 4 \}\)/],
    ["new Pool({ processes: 4 })", () => new (untyped(Pool))({ processes: 4 }), /'processes' is Python's name; here it is 'workers': new Pool\(\{ workers: 4 \}\)/],
    ["new Pool({ maxtasksperchild: 10 })", () => new (untyped(Pool))({ maxtasksperchild: 10 }), /here it is 'maxTasksPerChild': new Pool\(\{ maxTasksPerChild: 10 \}\)/],
    ["new Process({ target, kwargs })", () => new (untyped(Process))({ target: square, kwargs: { n: 2 } }), /no kwargs .*pass an object in args/],
    ['new Process(square, [2])', () => new (untyped(Process))(square, [2]), /new Process\(\) argument 1: expected options .*got function square \(write new Process\(\{ target: fn, args: \[\.\.\.\] \}\)\)$/],
    ["new Worker('process')", () => new (untyped(Worker))('process'), /new Worker\(\) argument 1: .*got string "process".*new Worker\(\{ on: 'process' \}\)/],
    ["spawn(Sleeper, 'thread')", () => (spawn as (...a: unknown[]) => unknown)(Sleeper, 'thread'), /spawn\(\) argument 2: .*spawn\(Sleeper, \{ on: 'thread' \}\)/],
    ["new BaseManager('127.0.0.1:0', 'abc')", () => new (untyped(BaseManager))('127.0.0.1:0', 'abc'), /new BaseManager\(\) argument 1: .*new BaseManager\(\{ address, authkey \}\)/],
    ["new Manager('127.0.0.1:0')", () => new (untyped(Manager))('127.0.0.1:0'), /new Manager\(\) argument 1/],
  ]
  for (const [what, make, message] of cases) assert.throws(make, (err: Error) => err instanceof TypeError && message.test(err.message), what)
})

test("a timeout that is not a non-negative number of ms (-1, NaN, '1000') is refused at the call, as a manager's queue and CPython refuse it, instead of counting as 0 or as no limit", async () => {
  const bad = (timeout: unknown) => ({ timeout }) as { timeout: number }
  const q = new Queue<number>()
  const held = new Lock()
  await held.acquire()
  const actor = spawn(Sleeper)
  const pool = new Pool({ workers: 1 })
  const calls: [string, () => Promise<unknown>, new (...a: any[]) => Error][] = [
    ['queue.get({ timeout: -1 })', () => q.get(bad(-1)), RangeError],
    ['queue.get({ timeout: NaN })', () => q.get(bad(NaN)), TypeError],
    ["queue.get({ timeout: '1000' })", () => q.get(bad('1000')), TypeError],
    ['lock.acquire({ timeout: -1 })', () => held.acquire(bad(-1)), RangeError],
    ['event.wait({ timeout: NaN })', () => new Event().wait(bad(NaN)), TypeError],
    ["ref.ask(msg, { timeout: '100' })", () => actor.ask('nap', bad('100')), TypeError],
    ['ref.ask(msg, { timeout: -5 })', () => actor.ask('nap', bad(-5)), RangeError],
    ["asyncResult.get({ timeout: '100' })", () => pool.applyAsync(square, [2]).get(bad('100')), TypeError],
  ]
  try {
    for (const [what, call, kind] of calls) {
      await assert.rejects(withTimeout(Promise.resolve().then(call), { timeout: 5000 }, () => new Error(`${what} still waits`)),
        (err: Error) => err instanceof kind && /argument \d: timeout must be a (non-negative number|number of milliseconds)/.test(err.message), what)
    }
    assert.equal(await q.get({ timeout: 0 }).catch((err: Error) => err.name), 'Empty', 'a timeout of 0 is a try')
  } finally {
    await pool.terminate()
    await actor.stop()
  }
})

test('a timeout of null is no limit, as the options check and a manager take it: an ask and a queue get wait for their answer', async () => {
  const none = { timeout: null } as unknown as { timeout: number }
  const actor = spawn(Late)
  const q = new Queue<number>()
  try {
    assert.equal(await actor.ask('hi', none), 'late hi')
    setTimeout(() => void q.put(3), 50)
    assert.equal(await q.get(none), 3)
  } finally {
    await actor.stop()
  }
})

/** Answers 50 ms after it is asked. */
export class Late extends Actor<string> {
  receive(msg: string): Promise<string> {
    return new Promise((resolve) => setTimeout(() => resolve(`late ${msg}`), 50))
  }
}

/** Never answers (the waits above must not depend on it). */
export class Sleeper extends Actor<string> {
  receive(): Promise<never> {
    return new Promise(() => {})
  }
}
