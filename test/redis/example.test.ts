import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { requireRedis } from './helpers.ts'

before(() => requireRedis())

test('examples/redis-tasks.ts runs tasks on Redis workers and prints their results', () => {
  const run = spawnSync(process.execPath, ['--conditions=troupe-source', '--import', 'tsx', 'examples/redis-tasks.ts'], { encoding: 'utf8', timeout: 90_000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(run.stdout.trim().split('\n'), [
    '[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]',
    'sum of 10,000 squares: 333283335000',
    'done',
  ])
})

test('examples/redis-actors.ts hosts a counter on Redis, asks it, and sees it end', () => {
  const run = spawnSync(process.execPath, ['--conditions=troupe-source', '--import', 'tsx', 'examples/redis-actors.ts'], { encoding: 'utf8', timeout: 90_000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(run.stdout.trim().split('\n'), ['total: 55', 'ended: normal'])
})
