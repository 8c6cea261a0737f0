import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { BaseManager, typed, SharedQueue } from '../../src/manager/index.ts'
import { node, killAll } from './spawn.ts'

after(killAll)
const cli = 'src/cli/main.ts'
const tasksModule = 'test/cli/fixtures/tasks.ts'

async function startManager(extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  const m = node([cli, 'manager', '--address', '127.0.0.1:0', '--queue', 'tasks', '--queue', 'results', ...extra], env)
  const line = await m.line(/listening on/)
  const address = /listening on (\S+)/.exec(line)![1]!
  return { m, address }
}

async function clientOf(address: string, authkey: string) {
  const c = await new BaseManager({ address, authkey })
    .register('tasks', typed<SharedQueue<number | null>>())
    .register('results', typed<SharedQueue<number>>())
    .connect()
  return { c, tasks: await c.tasks(), results: await c.results() }
}

test('troupe manager serves named queues; troupe worker --processes 2 squares every task; SIGTERM shuts the manager down cleanly', async () => {
  const { m, address } = await startManager(['--authkey', 'clikey'])
  const { c, tasks, results } = await clientOf(address, 'clikey')
  const n = 300
  await tasks.putMany(Array.from({ length: n }, (_, i) => i))
  await tasks.putMany([null, null])
  const w = node([cli, 'worker', '--connect', address, '--authkey', 'clikey', '--tasks', 'tasks', '--results', 'results',
    '--module', tasksModule, '--export', 'square', '--processes', '2', '--idle-exit', '10'])
  assert.equal(await w.exit(), 0, w.out())
  assert.match(w.out(), /2 processes done 300 tasks/)
  const got = await results.getMany(1000)
  assert.equal(got.length, n)
  assert.equal(got.reduce((a, b) => a + b, 0), Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0))
  await c.shutdown()
  m.child.kill('SIGTERM')
  assert.equal(await m.exit(), 0, m.out())
  assert.match(m.out(), /shutting down/)
})

test('troupe worker with an async function, --concurrency and --idle-exit exits 0 once the queue stays empty; authkey from TROUPE_AUTHKEY', async () => {
  const { m, address } = await startManager([], { TROUPE_AUTHKEY: 'envkey' })
  const { c, tasks, results } = await clientOf(address, 'envkey')
  await tasks.putMany([1, 2, 3, 4, 5])
  const w = node([cli, 'worker', '--connect', address, '--tasks', 'tasks', '--results', 'results',
    '--module', tasksModule, '--export', 'slowSquare', '--concurrency', '4', '--idle-exit', '0.5'], { TROUPE_AUTHKEY: 'envkey' })
  assert.equal(await w.exit(), 0, w.out())
  const got = (await results.getMany(10)).sort((a, b) => a - b)
  assert.deepEqual(got, [1, 4, 9, 16, 25])
  await c.shutdown()
  m.child.kill('SIGINT')
  assert.equal(await m.exit(), 0)
})

test('troupe manager on a Unix socket with a joinable queue; a wrong authkey fails the worker, naming the socket', async () => {
  const path = `/tmp/troupe-cli-${process.pid}.sock`
  const m = node([cli, 'manager', '--socket', path, '--authkey', 'right', '--joinable-queue', 'jobs:100', '--queue', 'out'])
  await m.line(new RegExp(`listening on ${path}`))
  const w = node([cli, 'worker', '--connect', path, '--authkey', 'wrong', '--tasks', 'jobs', '--results', 'out', '--module', tasksModule, '--export', 'square'])
  assert.equal(await w.exit(), 1)
  assert.match(w.out(), new RegExp(`troupe worker: the manager at ${path} refused the authkey`))
  m.child.kill('SIGTERM')
  assert.equal(await m.exit(), 0)
})

test('missing flags are clear errors', async () => {
  const noKey = node([cli, 'manager', '--address', '127.0.0.1:0'], { TROUPE_AUTHKEY: '' })
  assert.equal(await noKey.exit(), 2)
  assert.match(noKey.out(), /authkey/)
  const noModule = node([cli, 'worker', '--connect', '127.0.0.1:1', '--authkey', 'k', '--tasks', 't', '--results', 'r', '--export', 'x'])
  assert.equal(await noModule.exit(), 2)
  assert.match(noModule.out(), /--module/)
})
