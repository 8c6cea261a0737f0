import { test } from 'node:test'
import assert from 'node:assert/strict'
import { supervise } from '../../src/actor/index.ts'
import { actorsReporter, Collector, type Source } from '../../src/cli/dashboard/index.ts'

import { Slow } from './fixtures/actors.ts'

test('a supervision tree is shown with each actor and its mailbox', async () => {
  await using sup = supervise([{ actor: Slow, name: 'slow' }, { actor: Slow, name: 'idle' }], { name: 'root' })
  const slow = sup.child<number>('slow')!
  slow.send(200)
  for (let i = 0; i < 5; i++) slow.send(0)
  const report = actorsReporter([sup], 'system-1')
  const source: Source = { name: 'local', async sample() { return { reports: [report()] } } }
  const snap = await new Collector([source]).tick()
  assert.equal(snap.actors.length, 1)
  const root = snap.actors[0]!.roots[0]!
  assert.equal(root.path, '/root')
  assert.equal(root.type, 'Supervisor')
  assert.deepEqual(root.children.map((c) => c.path), ['/root/slow', '/root/idle'])
  assert.ok(root.children[0]!.mailbox >= 4, `mailbox ${root.children[0]!.mailbox}`)
  assert.equal(root.children[1]!.mailbox, 0)
  assert.equal(root.children[0]!.state, 'running')
})

test('an actor system offering tree() reports its restart counts', async () => {
  const report = actorsReporter([{ tree: () => ({ name: 'root', type: 'Supervisor', children: [{ name: 'pinger', restarts: 2, mailbox: 1, place: 'process', pid: 42 }] }) }], 'system-2')
  const r = report()
  assert.equal(r.roots[0]!.children[0]!.restarts, 2)
  assert.equal(r.roots[0]!.children[0]!.path, '/root/pinger')
  assert.equal(r.seq, 1)
  assert.equal(report().seq, 2)
})
