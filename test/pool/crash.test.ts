import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Pool } from '../../src/pool/index.ts'
import { AbortError, TimeoutError, WorkerCrashedError } from '../../src/errors.ts'
import { square, sleep, spin, exitWith, crashOnce, whoami } from './tasks.ts'
import { unreachable } from './exits-on-import.ts'

for (const kind of ['thread', 'process'] as const) {
  test(`${kind}: a worker that exits mid-task rejects that task with WorkerCrashedError and is replaced`, async () => {
    const p = new Pool({ workers: 2, kind })
    try {
      const others = Array.from({ length: 6 }, (_, i) => p.applyAsync(sleep, [20, i]))
      const doomed = p.applyAsync(exitWith, [3])
      await assert.rejects(doomed.get({ timeout: 10_000 }), (err: any) => {
        assert.ok(err instanceof WorkerCrashedError)
        assert.equal(err.exitCode, 3)
        assert.equal(typeof err.workerId, 'number')
        return true
      })
      assert.deepEqual(await Promise.all(others), [0, 1, 2, 3, 4, 5])
      assert.equal(await p.apply(square, [9]), 81)
      const s = p.stats()
      assert.equal(s.workers, 2)
      assert.equal(s.crashes, 1)
    } finally { await p.terminate() }
  })

  test(`${kind}: a worker killed with SIGKILL mid-task rejects that task and is replaced`, async () => {
    const p = new Pool({ workers: 1, kind })
    try {
      const { pid, threadId } = await p.apply(whoami)
      const victim = p.applyAsync(spin, [5_000])
      const queued = p.applyAsync(square, [4])
      await sleep(100, 0)
      const slot = p.stats().perWorker[0]!
      if (kind === 'process') process.kill(slot.pid, 'SIGKILL')
      else {
        // A thread cannot be signalled alone; a terminate() from outside is its SIGKILL.
        ;(p as any).workers[0].endpoint.kill()
      }
      await assert.rejects(victim.get({ timeout: 10_000 }), (err: any) => {
        assert.ok(err instanceof WorkerCrashedError)
        assert.equal(err.signal, 'SIGKILL')
        assert.equal(err.exitCode, -9)
        return true
      })
      assert.equal(await queued.get({ timeout: 10_000 }), 16)
      const after = await p.apply(whoami)
      assert.ok(kind === 'process' ? after.pid !== pid : after.threadId !== threadId)
      assert.equal(p.stats().workers, 1)
    } finally { await p.terminate() }
  })

  test(`${kind}: with retries, a task whose worker died runs again elsewhere`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-pool-'))
    const p = new Pool({ workers: 1, kind, retries: 1 })
    try {
      assert.equal(await p.apply(crashOnce, [join(dir, 'marker')]), 'second try')
      assert.equal(p.stats().crashes, 1)
    } finally { await p.terminate(); rmSync(dir, { recursive: true, force: true }) }
  })

  test(`${kind}: timeout counts from the start of the task and replaces the stuck worker`, async () => {
    const p = new Pool({ workers: 1, kind })
    try {
      const first = p.applyAsync(sleep, [300, 'first'])
      // Queued behind `first` for ~300 ms: a timeout counted from submission would fire.
      const timed = p.applyAsync(sleep, [50, 'on time'], { timeout: 250 })
      assert.equal(await first, 'first')
      assert.equal(await timed, 'on time')
      const stuck = p.applyAsync(spin, [10_000], { timeout: 100 })
      await assert.rejects(stuck.get({ timeout: 10_000 }), TimeoutError)
      assert.equal(await p.apply(square, [5]), 25)
      assert.equal(p.stats().workers, 1)
    } finally { await p.terminate() }
  })

  test(`${kind}: aborting removes a queued task at once and stops a running one`, async () => {
    const p = new Pool({ workers: 1, kind })
    try {
      const running = new AbortController()
      const queued = new AbortController()
      const a = p.applyAsync(spin, [10_000], { signal: running.signal })
      const b = p.applyAsync(square, [3], { signal: queued.signal })
      queued.abort()
      await assert.rejects(b.get({ timeout: 1000 }), AbortError)
      assert.equal(p.stats().queued, 0)
      await sleep(100, 0)
      running.abort(new Error('user gave up'))
      await assert.rejects(a.get({ timeout: 10_000 }), (err: Error) => err instanceof AbortError && /user gave up/.test(err.message))
      assert.equal(await p.apply(square, [6]), 36)
      const pre = new AbortController()
      pre.abort()
      await assert.rejects(p.apply(square, [1], { signal: pre.signal }), AbortError)
    } finally { await p.terminate() }
  })

  test(`${kind}: maxTasksPerChild replaces a worker after that many tasks`, async () => {
    const p = new Pool({ workers: 1, kind, maxTasksPerChild: 2 })
    try {
      const who: { pid: number; threadId: number }[] = []
      for (let i = 0; i < 6; i++) who.push(await p.apply(whoami))
      const ids = who.map((w) => (kind === 'process' ? w.pid : w.threadId))
      assert.equal(new Set(ids).size, 3)
      assert.equal(ids[0], ids[1])
      assert.notEqual(ids[1], ids[2])
      const burst = await p.map(square, [1, 2, 3, 4, 5, 6], { chunksize: 1 })
      assert.deepEqual(burst, [1, 4, 9, 16, 25, 36])
      assert.equal(p.stats().crashes, 0)
    } finally { await p.terminate() }
  })
}

test('workers that die on import fail the tasks instead of being respawned forever', async () => {
  const p = new Pool({ workers: 1, kind: 'thread' })
  try {
    const rs = Array.from({ length: 3 }, () => p.applyAsync(unreachable))
    const settled = await Promise.allSettled(rs.map((r) => r.get({ timeout: 20_000 })))
    for (const s of settled) {
      assert.equal(s.status, 'rejected')
      assert.ok((s as PromiseRejectedResult).reason instanceof WorkerCrashedError)
    }
  } finally { await p.terminate() }
})
