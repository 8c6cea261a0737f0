/**
 * Seed 004 across Python versions through a troupe manager: the task worker
 * on Python 2.7, the producer on Python 3, each as written
 * (examples/python/taskmanager.py, taskworker.py). The 2.7 worker's results
 * are Python 2 `str`s; the Python 3 producer must read them as `str`, as
 * CPython 3 reads a Python 2 str, and pass its own check.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { BaseManager, SharedQueue } from '../../src/manager/index.ts'
import { startPython, finished, stopPython, type PyLabel } from './python.ts'

const example = (name: string) => fileURLToPath(new URL(`../../examples/python/${name}`, import.meta.url))

for (const [producer, worker] of [['3.12', '2.7'], ['3.8', '2.7'], ['2.7', '3.13']] as [PyLabel, PyLabel][]) {
  test(`seed 004: a Python ${worker} worker and a Python ${producer} producer through a troupe manager; the producer's own check passes`, async () => {
    const tasks = new SharedQueue()
    const results = new SharedQueue()
    const m = new BaseManager({ address: '127.0.0.1:0', authkey: 'abc', log: false })
      .register('get_task_queue', () => tasks)
      .register('get_result_queue', () => results)
    await m.serve()
    const p = startPython(producer, example('taskmanager.py'), [m.address, '20'])
    const w = startPython(worker, example('taskworker.py'), [m.address, '20'])
    try {
      const [pr, wr] = await Promise.all([finished(p, 60_000), finished(w, 60_000)])
      assert.equal(wr.code, 0, wr.stderr)
      assert.equal(pr.code, 0, `${pr.stdout}\n${pr.stderr}`)
      assert.match(pr.stdout, /master exit\./)
      assert.equal((pr.stdout.match(/^Result: /gm) ?? []).length, 20)
    } finally {
      stopPython(p)
      stopPython(w)
      await m.shutdown()
    }
  })
}
