import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fuzzManager, fuzzCheck } from '../../scripts/fuzz-v8.ts'

test('1,000 mutated request frames, pickles and transport abuses against a live manager: every one answered, no crash, every held item accounted for, pings answered throughout', async () => {
  const report = await fuzzManager({ inputs: 1000, seed: 20261121, connections: 2 })
  assert.equal(report.serverCrashed, undefined)
  assert.deepEqual(report.unanswered, [])
  assert.deepEqual(report.driverErrors, [])
  assert.equal(report.inputs, 1000)
  assert.equal(report.lostItems, 0, JSON.stringify(report.held))
  assert.ok(report.held.every((h) => h.qsize === h.expected), JSON.stringify(report.held))
  assert.ok(report.aliveAfter, 'a fresh client can still put and get')
  assert.ok(report.pings.sent > 0)
  assert.equal(report.pings.answered, report.pings.sent)
  // The generator must reach every outcome, or it is not testing much.
  assert.ok(report.replies.values > 100, `values ${report.replies.values}`)
  assert.ok(report.replies.errors > 100, `errors ${report.replies.errors}`)
  assert.ok(report.replies.frameRefusals > 30, `frame refusals ${report.replies.frameRefusals}`)
  for (const kind of ['v8', 'json', 'python']) assert.ok((report.kinds[kind] ?? 0) > 10, `${kind}: ${JSON.stringify(report.kinds)}`)
})

test('10,000 random and mutated v8 and JSON payloads: whatever the checkers let through decodes without holes, within the depth and size limits', () => {
  const report = fuzzCheck(10_000, 20261121)
  assert.deepEqual(report.failures, [])
  assert.ok(report.accepted > 1000, `decoded ${report.accepted}`)
  assert.ok(report.itemsRefused > 1000, `items refused ${report.itemsRefused}`)
  assert.ok(report.framesRefused > 1000, `frames refused ${report.framesRefused}`)
})
