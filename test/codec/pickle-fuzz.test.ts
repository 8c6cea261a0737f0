import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fuzz } from '../../scripts/fuzz-pickle.ts'

test('120,000 random and mutated pickles only ever give DecodeError or ForbiddenGlobalError', () => {
  const report = fuzz(120_000, 20261121)
  assert.equal(report.runs, 120_000)
  assert.deepEqual(report.failures, [])
  // The generator must reach every outcome, or it is not testing much.
  assert.ok(report.decoded > 1000, `decoded ${report.decoded}`)
  assert.ok(report.decodeErrors > 10000, `DecodeError ${report.decodeErrors}`)
  assert.ok(report.forbidden > 100, `ForbiddenGlobalError ${report.forbidden}`)
  assert.equal(report.reencoded, report.decoded)
})
