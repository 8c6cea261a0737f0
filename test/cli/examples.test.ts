import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { node, killAll } from './spawn.ts'

after(killAll)

test('seed 002: producer and consumer in separate processes share a JoinableQueue over a Unix socket (10,000 items, taskDone, terminator)', async () => {
  const socket = `/tmp/troupe-seed002-${process.pid}.sock`
  const server = node(['examples/manager-producer-consumer.ts', 'serve', '--socket', socket])
  await server.line(/listening on/)
  const consumer = node(['examples/manager-producer-consumer.ts', 'consume', '--socket', socket])
  const producer = node(['examples/manager-producer-consumer.ts', 'produce', '--socket', socket])
  assert.equal(await producer.exit(), 0, producer.out())
  assert.equal(await consumer.exit(), 0, consumer.out())
  assert.match(consumer.out(), /got 10000 items, sum 49995000/)
  assert.match(producer.out(), /every item was processed/)
  assert.notEqual(consumer.child.pid, producer.child.pid)
  server.child.kill('SIGTERM')
  assert.equal(await server.exit(), 0)
})

test('seed 002 runs end to end with no arguments', async () => {
  const all = node(['examples/manager-producer-consumer.ts', '--items', '2000'])
  assert.equal(await all.exit(), 0, all.out())
  assert.match(all.out(), /got 2000 items/)
})

test('seed 004: taskmanager on TCP 127.0.0.1 with authkey abc, two taskworkers compute n * n', async () => {
  const manager = node(['examples/manager-taskmanager.ts', '--port', '0', '--tasks', '10'])
  const address = /listening on (\S+)/.exec(await manager.line(/listening on/))![1]!
  const w1 = node(['examples/manager-taskworker.ts', '--address', address, '--count', '5'])
  const w2 = node(['examples/manager-taskworker.ts', '--address', address, '--count', '5'])
  assert.equal(await manager.exit(), 0, manager.out())
  await w1.exit(); await w2.exit()
  const results = manager.out().split('\n').filter((l) => l.startsWith('Result: '))
  assert.equal(results.length, 10)
  for (const r of results) {
    const [, a, b, c] = /Result: (\d+) \* (\d+) = (\d+)/.exec(r)!
    assert.equal(Number(a) * Number(b), Number(c))
  }
  assert.match(w1.out() + w2.out(), /run task \d+ \* \d+/)
})

test('npm start: the distributed demo squares 10,000 numbers on worker processes over TCP and prints a summary', async () => {
  const demo = node(['examples/distributed-demo.ts', '--workers', '2'])
  assert.equal(await demo.exit(120_000), 0, demo.out())
  const out = demo.out()
  assert.match(out, /manager listening on 127\.0\.0\.1:\d+/)
  assert.match(out, /done: 10,000 results in [\d.]+ s, worker start-up included = [\d,]+ tasks\/s/)
  assert.match(out, /sum of squares checks out/)
  const perWorker = [...out.matchAll(/worker pid \d+: ([\d,]+) tasks/g)].map((m) => Number(m[1]!.replace(/,/g, '')))
  assert.equal(perWorker.length, 2)
  assert.equal(perWorker.reduce((a, b) => a + b, 0), 10_000)
})
