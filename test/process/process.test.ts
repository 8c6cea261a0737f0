import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Process, serve, connect, parentProcess, cpuCount, type ObjectAddress } from '../../src/process/index.ts'
import { availableParallelism } from 'node:os'
import { UnlocatableFunctionError, UnsendableValueError, ConnectionClosedError } from '../../src/errors.ts'
import * as targets from './fixtures/targets.ts'

const started: Process<any>[] = []
after(async () => { await Promise.all(started.map((p) => p.kill())) })

function track<A extends unknown[]>(p: Process<A>): Process<A> {
  started.push(p)
  return p
}

/** A collector served from the test's place: targets push records to it. */
function collector(): { address: ObjectAddress; items: any[]; next(): Promise<any>; close(): void } {
  const items: any[] = []
  let wake: (() => void) | undefined
  const s = serve((method, args) => {
    if (method !== 'push') throw new Error(`unknown ${method}`)
    items.push(args[0])
    wake?.()
  })
  return {
    address: s.address,
    items,
    close: s.close,
    async next() {
      const deadline = Date.now() + 20_000
      while (items.length === 0) {
        if (Date.now() > deadline) throw new Error('nothing arrived')
        await new Promise<void>((r) => { wake = r; setTimeout(r, 200) })
      }
      return items.shift()
    },
  }
}

for (const kind of ['thread', 'process'] as const) {
  test(`a ${kind} target reports its name, pid and parent pid`, async () => {
    const c = collector()
    const p = track(new Process({ target: targets.reportInfo, args: [c.address, 'info'], kind, name: `info-${kind}` }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 0)
    const rec = c.items[0]
    assert.equal(rec.name, `info-${kind}`)
    assert.equal(rec.kind, kind)
    assert.equal(rec.parentPid, process.pid)
    // Python's parent_process() and cpu_count().
    assert.deepEqual(rec.parent, { name: 'MainProcess', pid: process.pid })
    assert.equal(rec.cpus, availableParallelism())
    if (kind === 'process') { assert.notEqual(rec.pid, process.pid); assert.equal(rec.pid, p.pid) } else assert.equal(rec.pid, process.pid)
    assert.equal(p.isAlive, false)
    c.close()
  })

  test(`a ${kind} target that throws exits non-zero and its error arrives with class, message and remote stack`, async () => {
    const p = track(new Process({ target: targets.throwsRangeError, args: [42], kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 1)
    assert.ok(p.error instanceof RangeError)
    assert.equal(p.error.message, 'bad value 42')
    assert.match((p.error as any).remoteStack, /throwsRangeError/)
    assert.match((p.error as any).origin, new RegExp(p.name))
  })

  test(`an async ${kind} target is awaited and its rejection is reported`, async () => {
    const p = track(new Process({ target: targets.throwsLater, kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 1)
    assert.equal(p.error?.name, 'TypeError')
    assert.equal(p.error?.message, 'async failure')
  })

  test(`an error thrown from a callback in a ${kind} ends it with exit code 1 and is reported`, async () => {
    const p = track(new Process({ target: targets.throwsFromATimer, kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 1)
    assert.equal(p.error?.name, 'SyntaxError')
    assert.equal(p.error?.message, 'thrown from a timer')
  })

  test(`terminate() ends a ${kind} stuck in a busy loop`, async () => {
    const p = track(new Process({ target: targets.busyLoop, kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 300 }), null)
    assert.equal(p.isAlive, true)
    await p.terminate()
    assert.equal(await p.join({ timeout: 5_000 }), -15)
    assert.equal(p.isAlive, false)
  })

  test(`a ${kind} target's own exit code is its exitCode`, async () => {
    const p = track(new Process({ target: targets.exitWith, args: [7], kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 7)
  })

  test(`a ${kind} grandchild reaches the main thread through its parent, and the child waits for it`, async () => {
    const c = collector()
    const p = track(new Process({ target: targets.spawnGrandchild, args: [c.address, kind], kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 30_000 }), 0)
    const tags = c.items.map((r) => r.tag).sort()
    assert.deepEqual(tags, ['child', 'grandchild'])
    const g = c.items.find((r) => r.tag === 'grandchild')
    assert.equal(g.name, 'grandchild')
    assert.equal(g.parent.name, c.items.find((r) => r.tag === 'child').name)
    c.close()
  })
}

for (const kind of ['thread', 'process'] as const) {
  test(`a Process subclass whose run() is overridden runs run() in a ${kind}, with its own fields (Python's class P(Process))`, async () => {
    const c = collector()
    const p = track(new targets.Greeter(c.address, 'hello', kind))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 0, p.error?.stack)
    const rec = await c.next()
    assert.deepEqual(rec.greetings, ['hello', 'hello again'])
    assert.equal(rec.name, `greeter-${kind}`)
    assert.equal(rec.where, `greeter-${kind}`)
    assert.equal(rec.kind, kind)
    assert.equal(rec.isGreeter, true)
    if (kind === 'process') assert.equal(rec.pid, p.pid)
    c.close()
  })

  test(`a Process subclass whose run() throws exits 1 in a ${kind}, the error kept`, async () => {
    const p = track(new targets.Failing({ kind }))
    await p.start()
    assert.equal(await p.join({ timeout: 20_000 }), 1)
    assert.equal(p.error?.name, 'RangeError')
    assert.equal(p.error?.message, 'run failed')
  })
}

test('a Process subclass that is not exported, or carries a function in its fields, is refused at start() with what to change', async () => {
  class Hidden extends Process { override run(): void {} }
  await assert.rejects(new Hidden().start(), UnlocatableFunctionError)
  const g = new targets.Greeter({ place: '', id: 0 }, 'x', 'thread')
  ;(g as unknown as { callback: () => void }).callback = () => {}
  await assert.rejects(g.start(), (err: Error) => err instanceof UnsendableValueError && (err as UnsendableValueError).path === 'this.callback')
  assert.throws(() => new Process({} as never), TypeError)
})

test('in the main process parentProcess() is null and cpuCount() is the CPUs this process may use', () => {
  assert.equal(parentProcess(), null)
  assert.equal(cpuCount(), availableParallelism())
})

test('a child process killed with SIGKILL: join returns and exitCode is -9', async () => {
  const p = track(new Process({ target: targets.sleepForever, kind: 'process' }))
  await p.start()
  process.kill(p.pid!, 'SIGKILL')
  assert.equal(await p.join({ timeout: 10_000 }), -9)
  assert.equal(p.isAlive, false)
})

test('kill() of a thread reports -9 like a SIGKILLed process', async () => {
  const p = track(new Process({ target: targets.sleepForever }))
  await p.start()
  await p.kill()
  assert.equal(p.exitCode, -9)
})

for (const kind of ['thread', 'process'] as const) {
  test(`a request pending in a ${kind} that dies rejects with ConnectionClosedError instead of hanging`, async () => {
    const c = collector()
    const p = track(new Process({ target: targets.serveNeverAnswering, args: [c.address], kind }))
    await p.start()
    const ready = await c.next()
    assert.equal(ready.tag, 'ready')
    const pending = connect(ready.address).request('anything', [])
    await p.kill()
    await assert.rejects(pending, ConnectionClosedError)
    // Later calls to the dead place reject at once too.
    await assert.rejects(connect(ready.address).request('anything', []), ConnectionClosedError)
    c.close()
  })
}

test('a closure cannot be a target: start() rejects naming it', async () => {
  const local = () => 1
  const p = new Process({ target: local })
  await assert.rejects(p.start(), (err: Error) => err instanceof UnlocatableFunctionError && /'local'/.test(err.message))
})

test('an unsendable argument fails at start() with its path', async () => {
  const p = new Process({ target: targets.reportInfo, args: [{ place: '', id: 0 }, { callback: () => 1 } as any] })
  await assert.rejects(p.start(), (err: Error) => err instanceof UnsendableValueError && (err as UnsendableValueError).path === 'args[1].callback')
})

test('shared memory passed to a child process fails at start() saying to use a manager', async () => {
  const sab = new SharedArrayBuffer(8)
  const p = new Process({ target: targets.reportInfo, args: [{ place: '', id: 0 }, { counts: new Int32Array(sab) } as any], kind: 'process' })
  await assert.rejects(p.start(), (err: Error) => err instanceof UnsendableValueError && /args\[1\]\.counts/.test(err.message) && /manager/.test(err.message))
})

test('compiled JS: a .mjs program using dist/ runs .mjs targets in a thread and a process', { skip: !existsSync(new URL('../../dist/index.js', import.meta.url)) && 'run npm run build first' }, () => {
  const main = fileURLToPath(new URL('./fixtures/compiled-main.mjs', import.meta.url))
  const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, r.stderr)
  assert.match(r.stdout, /hi from js-thread kind=thread parent=\d+/)
  assert.match(r.stdout, /joined thread exitCode=0/)
  assert.match(r.stdout, /hi from js-process kind=process parent=\d+/)
  assert.match(r.stdout, /joined process exitCode=0/)
})

test('p.start() not awaited, then join(): the join waits for the start, as in Python', async () => {
  const p = track(new Process({ target: targets.returnsAtOnce }))
  void p.start()
  assert.equal(await p.join({ timeout: 30_000 }), 0)
})

test('terminate() right after a start() still locating its target stops that Process instead of being overtaken', async () => {
  const p = track(new Process({ target: targets.idleForever, kind: 'process' }))
  void p.start()
  await p.terminate()
  assert.equal(p.isAlive, false)
  assert.equal(p.exitCode, -15)
})
