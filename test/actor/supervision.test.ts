import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { publish, supervise, watch, type StopReason } from '../../src/actor/index.ts'
import { ActorStoppedError, SupervisorGaveUpError } from '../../src/errors.ts'
import { Counter, Crasher, FailsAtStart, Life, Quitter, lifeLog } from './fixtures.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('one-for-one: a child that throws is restarted under the same ref; its siblings are untouched', async () => {
  lifeLog.length = 0
  const sup = supervise([
    { actor: Life, args: ['a'], name: 'a' },
    { actor: Life, args: ['b'], name: 'b' },
  ])
  const [a, b] = sup.children
  await assert.rejects(a!.ask('boom'), /a exploded/)
  assert.equal(await a!.ask('ping'), 'a pong')
  assert.equal(await b!.ask('ping'), 'b pong')
  assert.deepEqual(lifeLog, ['a start', 'b start', 'a stop restart', 'a start'])
  await sup.stop()
  assert.deepEqual(lifeLog.slice(-2), ['b stop stopped', 'a stop stopped'])
})

test('one-for-all: one failure restarts every child', async () => {
  lifeLog.length = 0
  const sup = supervise([
    { actor: Life, args: ['a'] },
    { actor: Life, args: ['b'] },
    { actor: Life, args: ['c'] },
  ], { strategy: 'one-for-all' })
  const [, b] = sup.children
  await assert.rejects(b!.ask('boom'))
  for (const c of sup.children) assert.match(await c.ask('ping') as string, /pong/)
  assert.deepEqual(lifeLog.filter((l) => / start$/.test(l)).sort(), ['a start', 'a start', 'b start', 'b start', 'c start', 'c start'])
  await sup.stop()
})

test('rest-for-one: a failure restarts that child and those started after it', async () => {
  lifeLog.length = 0
  const sup = supervise([
    { actor: Life, args: ['a'] },
    { actor: Life, args: ['b'] },
    { actor: Life, args: ['c'] },
  ], { strategy: 'rest-for-one' })
  const [, b] = sup.children
  await assert.rejects(b!.ask('boom'))
  for (const c of sup.children) await c.ask('ping')
  const starts = lifeLog.filter((l) => / start$/.test(l))
  assert.deepEqual(starts, ['a start', 'b start', 'c start', 'b start', 'c start'])
  await sup.stop()
})

test('restart intensity: a child failing faster than allowed stops the supervisor with a reason', async () => {
  const sup = supervise([{ actor: FailsAtStart, name: 'flaky' }, { actor: Counter, name: 'bystander' }], { maxRestarts: 3, withinMs: 10_000 })
  const reasons: StopReason[] = []
  watch(sup.ref, (r) => reasons.push(r))
  await assert.rejects(sup.join({ timeout: 5000 }), (err: Error & { child?: string }) => {
    assert.ok(err instanceof SupervisorGaveUpError)
    assert.match(err.message, /more than 3 restarts within 10000 ms/)
    assert.match(err.message, /'flaky': Error: cannot start/)
    assert.equal((err as { child?: string }).child, 'flaky')
    assert.equal((err.cause as Error).message, 'cannot start')
    return true
  })
  assert.equal(sup.isAlive, false)
  assert.ok(sup.children.every((c) => !c.isAlive), 'the supervisor stops its children when it gives up')
  await sleep(1)
  assert.ok(reasons[0] instanceof SupervisorGaveUpError, 'death watch reports the reason')
})

test('a nested supervisor that gives up is a failure for its parent, which restarts it until its own intensity is spent', async () => {
  let ends = 0
  const outer = supervise([
    { supervise: [{ actor: FailsAtStart, name: 'inner-child' }], options: { maxRestarts: 1, withinMs: 10_000 }, name: 'inner' },
  ], { maxRestarts: 2, withinMs: 10_000, name: 'outer' })
  const inner = outer.children[0]!
  watch(inner, () => { ends++ })
  await assert.rejects(outer.join({ timeout: 5000 }), (err: Error) => {
    assert.ok(err instanceof SupervisorGaveUpError)
    assert.match(err.message, /supervisor 'outer' gave up.*'inner'.*SupervisorGaveUpError: supervisor 'inner' gave up/)
    return true
  })
  assert.equal(inner.isAlive, false)
  assert.equal(ends, 1, 'the inner supervisor ends once, when the outer one gives up (restarts keep it alive)')
})

test('backoff delays restarts', async () => {
  lifeLog.length = 0
  const sup = supervise([{ actor: Life, args: ['x'] }], { backoff: { minMs: 400, maxMs: 1000 } })
  const [x] = sup.children
  await assert.rejects(x!.ask('boom'))
  await sleep(5)
  assert.deepEqual(lifeLog, ['x start', 'x stop restart'].slice(0, 1), 'not restarted yet')
  assert.equal(await x!.ask('ping', { timeout: 5000 }), 'x pong')
  assert.deepEqual(lifeLog, ['x start', 'x stop restart', 'x start'])
  await sup.stop()
})

for (const on of ['thread', 'process'] as const) {
  test(`a supervised ${on} actor whose ${on} dies is restarted in a new one, under the same ref`, async () => {
    const sup = supervise([{ actor: Crasher, on, name: `crasher-${on}` }], { maxRestarts: 3, withinMs: 30_000 })
    try {
      const [c] = sup.children
      assert.equal(await c!.ask('ping', { timeout: 10_000 }), 'pong')
      await assert.rejects(c!.ask('die', { timeout: 10_000 }), ActorStoppedError)
      assert.equal(await c!.ask('ping', { timeout: 10_000 }), 'pong')
      assert.ok(c!.isAlive)
    } finally {
      await sup.stop()
    }
  })

  test(`a supervised ${on} actor that throws is restarted in place`, async () => {
    const sup = supervise([{ actor: Counter, on, args: [5] }])
    try {
      const [c] = sup.children
      await c!.ask({ type: 'add', n: 1 }, { timeout: 10_000 })
      const where1 = await c!.ask({ type: 'where' }) as { threadId: number; pid: number }
      await assert.rejects(c!.ask({ type: 'boom' }), RangeError)
      assert.equal(await c!.ask({ type: 'get' }, { timeout: 10_000 }), 5, 'a fresh instance from the same args')
      const where2 = await c!.ask({ type: 'where' }) as { threadId: number; pid: number }
      assert.deepEqual(where2, where1)
    } finally {
      await sup.stop()
    }
  })
}

test('a permanent child is started again even after it ends normally; a transient one is not', async () => {
  lifeLog.length = 0
  const sup = supervise([
    { actor: Life, args: ['perm'], restart: 'permanent', name: 'perm' },
    { actor: Life, args: ['trans'], name: 'trans' },
  ])
  const [perm, trans] = sup.children
  perm!.close()
  trans!.close()
  for (let i = 0; i < 200 && lifeLog.filter((l) => l === 'perm start').length < 2; i++) await sleep(5)
  assert.equal(await perm!.ask('ping', { timeout: 1000 }), 'perm pong')
  assert.equal(trans!.isAlive, false)
  assert.deepEqual(lifeLog.filter((l) => / start$/.test(l)), ['perm start', 'trans start', 'perm start'])
  await sup.stop()
})

test('a supervisor whose children have all ended for good ends normally, so `await sup.join()` returns (nested ones too)', async () => {
  const sup = supervise([
    { actor: Quitter, args: ['local'], name: 'local' },
    { actor: Quitter, args: ['thread'], name: 'thread', on: 'thread' },
    { supervise: [{ actor: Quitter, args: ['inner'], name: 'inner' }], name: 'nested' },
  ], { name: 'game' })
  const [local, thread, nested] = sup.children
  assert.equal(await thread!.ask('ping', { timeout: 10_000 }), 'thread pong')
  const reasons: StopReason[] = []
  watch(nested!, (r) => reasons.push(r))
  publish('quit.local', 'quit')
  publish('quit.thread', 'quit')
  await local!.join({ timeout: 5000 })
  await thread!.join({ timeout: 5000 })
  assert.equal(sup.isAlive, true, 'the nested supervisor still has a live child')
  publish('quit.inner', 'quit')
  await sup.join({ timeout: 5000 })
  assert.equal(sup.isAlive, false)
  assert.deepEqual(reasons, ['normal'])
})

test("a temporary child that fails is not restarted: it ends with its error, its siblings go on, and the supervisor ends once they have too", async () => {
  lifeLog.length = 0
  const sup = supervise([
    { actor: Life, args: ['temp'], name: 'temp', restart: 'temporary' },
    { actor: Life, args: ['thread-temp'], name: 'thread-temp', restart: 'temporary', on: 'thread' },
    { actor: Quitter, args: ['sibling'], name: 'sibling' },
  ], { log: false })
  const [temp, threadTemp, sibling] = sup.children
  await assert.rejects(temp!.ask('boom'), /temp exploded/)
  await assert.rejects(temp!.join({ timeout: 5000 }), /temp exploded/)
  await assert.rejects(threadTemp!.ask('boom', { timeout: 20_000 }), /thread-temp exploded/)
  await assert.rejects(threadTemp!.join({ timeout: 5000 }), /thread-temp exploded/)
  assert.equal(await sibling!.ask('ping'), 'sibling pong')
  assert.deepEqual(lifeLog.filter((l) => / start$/.test(l)), ['temp start'], 'started once, never again (the thread one logs in its thread)')
  assert.equal(sup.isAlive, true)
  publish('quit.sibling', 'quit')
  await sup.join({ timeout: 5000 })
})

test('tree() describes the supervision tree: classes, places, states and restart counts', async () => {
  const sup = supervise([
    { actor: Life, args: ['a'], name: 'a' },
    { supervise: [{ actor: Counter, on: 'thread', name: 'counter' }], name: 'inner' },
  ], { name: 'root' })
  try {
    const [a, inner] = sup.children
    await assert.rejects(a!.ask('boom'))
    await a!.ask('ping')
    const tree = sup.tree()
    assert.equal(tree.name, 'root')
    assert.equal(tree.type, 'Supervisor')
    assert.equal(tree.children[0]!.name, 'a')
    assert.equal(tree.children[0]!.type, 'Life')
    assert.equal(tree.children[0]!.restarts, 1)
    assert.equal(tree.children[0]!.state, 'running')
    assert.equal(tree.children[1]!.name, 'inner')
    assert.equal(tree.children[1]!.children[0]!.place, 'thread')
    assert.equal(tree.children[1]!.children[0]!.type, 'Counter')
    assert.ok(inner!.isAlive)
  } finally {
    await sup.stop()
  }
})

for (const on of ['local', 'thread'] as const) {
  test(`a supervised ${on} actor's crash is logged once per failure: name, class, message type, error with its stack, and the restart`, async () => {
    const lines: string[] = []
    const sup = supervise([{ actor: Counter, on, name: `logged-${on}` }], { name: 'logging-sup', log: (l) => lines.push(l) })
    try {
      const [c] = sup.children
      c!.send({ type: 'boom' })
      c!.send({ type: 'boom' })
      // Both failures have been handled once the restarted instance answers after them.
      assert.equal(await c!.ask({ type: 'get' }, { timeout: 10_000 }), 0)
      assert.equal(lines.length, 2, lines.join('\n---\n'))
      for (const l of lines) {
        assert.match(l, new RegExp(`actor 'logged-${on}' \\(Counter, ${on}`))
        assert.match(l, /handling message of type 'boom'/)
        assert.match(l, /supervisor 'logging-sup' is restarting it/)
        assert.match(l, /RangeError: boom\n\s+at Counter\.receive/)
      }
    } finally {
      await sup.stop()
    }
  })
}

test('supervisor crash reports go to stderr by default and nowhere with log: false (nested supervisors inherit it)', () => {
  const run = (mode: string) => spawnSync(process.execPath, ['--import', 'tsx', 'test/actor/programs/crash-report.ts', mode], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  const loud = run('default')
  assert.equal(loud.status, 0, loud.stderr)
  assert.equal(loud.stdout.trim(), 'restarted')
  assert.equal(loud.stderr.match(/crash report: actor 'flaky'/g)?.length, 1, loud.stderr)
  assert.match(loud.stderr, /\(Flaky, local\) failed handling message "boom"; supervisor 'inner' is restarting it/)
  assert.match(loud.stderr, /Error: flaky exploded\n\s+at Flaky\.receive/)
  const quiet = run('silent')
  assert.equal(quiet.status, 0, quiet.stderr)
  assert.equal(quiet.stdout.trim(), 'restarted')
  assert.doesNotMatch(quiet.stderr, /crash report/)
})
