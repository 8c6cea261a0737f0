// Every public name is a decision: the API reports in api/ (one per entry point
// in package.json `exports`) must match the code, so a change to the public
// surface fails here until its report changes with it, in the same commit.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { root } from './packed.ts'

test('the public surface of every entry point matches its report in api/', () => {
  const r = spawnSync(process.execPath, ['scripts/api-report.mjs'], { cwd: root, encoding: 'utf8', timeout: 300_000 })
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}\n(when the change is meant: node scripts/api-report.mjs --update, and commit api/)`)
})
