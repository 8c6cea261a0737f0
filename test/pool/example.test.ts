import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'

for (const flag of [[], ['--processes']]) {
  test(`the seed 004 program (Pool(4), applyAsync, close, join) prints the squares${flag.length ? ' with processes' : ''}`, () => {
    const r = spawnSync(process.execPath, ['--conditions=troupe-source', '--import', 'tsx', 'examples/pool-apply-async.ts', ...flag], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stdout, [
      '[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]',
      '[100, 121, 144]',
      'We lacked patience and got a TimeoutError',
      'rested',
      'pool joined',
      '',
    ].join('\n'))
  })
}
