// Every `troupe` failure is one line `troupe <command>: <message>` with a documented exit code
// (2: the command line cannot work as given; 1: a runtime failure; 3: a worker lost its manager).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:net'
import { Manager, SharedJoinableQueue, SharedQueue } from '../../src/manager/index.ts'
import { run, killAll } from './spawn.ts'
import { until } from '../manager/helpers.ts'

after(killAll)
const cli = 'src/cli/main.ts'
const tasksModule = 'test/cli/fixtures/tasks.ts'
const noKey = { TROUPE_AUTHKEY: '' }

/** The first line on stderr, and no stack frames unless asked for. */
function firstLine(r: { stderr: string }): string {
  return r.stderr.split('\n')[0]!
}

function assertNoStack(r: { stderr: string }): void {
  assert.doesNotMatch(r.stderr, /^\s+at /m, `no stack without --debug:\n${r.stderr}`)
}

async function occupiedPort(): Promise<{ server: Server; port: number }> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

async function freePort(): Promise<number> {
  const { server, port } = await occupiedPort()
  await new Promise((r) => server.close(r))
  return port
}

async function serving(): Promise<{ manager: Manager; tasks: SharedJoinableQueue<number | null>; results: SharedQueue<unknown> }> {
  const tasks = new SharedJoinableQueue<number | null>()
  const results = new SharedQueue<unknown>()
  const manager = new Manager({ address: '127.0.0.1:0', authkey: 'right', log: false })
  manager.register('tasks', () => tasks)
  manager.register('results', () => results)
  await manager.serve()
  return { manager, tasks, results }
}

const worker = (address: string, authkey: string, extra: string[] = []) =>
  [cli, 'worker', '--connect', address, '--authkey', authkey, '--tasks', 'tasks', '--results', 'results', '--module', tasksModule, '--export', 'square', '--no-progress', ...extra]

test('troupe manager without an authkey says how to give one (exit 2)', async () => {
  const r = await run([cli, 'manager', '--address', '127.0.0.1:0'], noKey)
  assert.equal(firstLine(r), 'troupe manager: give --authkey KEY or set TROUPE_AUTHKEY')
  assert.equal(r.code, 2)
  assertNoStack(r)
})

test('troupe manager on a port in use names the address and the flag to change (exit 2)', async () => {
  const { server, port } = await occupiedPort()
  try {
    const r = await run([cli, 'manager', '--address', `127.0.0.1:${port}`, '--authkey', 'k'])
    assert.equal(firstLine(r), `troupe manager: 127.0.0.1:${port} is in use (choose another --address, or port 0 for any free one)`)
    assert.equal(r.code, 2)
    assertNoStack(r)
  } finally {
    server.close()
  }
})

test('troupe manager refuses a malformed queue spec (exit 2)', async () => {
  const r = await run([cli, 'manager', '--address', '127.0.0.1:0', '--authkey', 'k', '--queue', 'a:b:c'])
  assert.equal(firstLine(r), "troupe manager: --queue takes NAME or NAME:MAXSIZE, not 'a:b:c'")
  assert.equal(r.code, 2)
})

test('troupe manager refuses --address together with --socket (exit 2)', async () => {
  const r = await run([cli, 'manager', '--address', '127.0.0.1:0', '--socket', '/tmp/troupe-never.sock', '--authkey', 'k'])
  assert.equal(firstLine(r), 'troupe manager: give either --address or --socket, not both')
  assert.equal(r.code, 2)
})

test('troupe manager --address reads addresses as the library does: a port past 65535 and a path are refused (exit 2)', async () => {
  for (const bad of ['127.0.0.1:70000', './m.sock']) {
    const r = await run([cli, 'manager', '--address', bad, '--authkey', 'k'])
    assert.equal(firstLine(r), `troupe manager: --address must be HOST:PORT or [IPV6]:PORT (a Unix socket is --socket PATH), not '${bad}'`)
    assert.equal(r.code, 2)
  }
})

test('troupe manager --address nonsense is refused, not taken as a socket path (exit 2)', async () => {
  const r = await run([cli, 'manager', '--address', 'nonsense', '--authkey', 'k'])
  assert.equal(firstLine(r), "troupe manager: --address must be HOST:PORT or [IPV6]:PORT (a Unix socket is --socket PATH), not 'nonsense'")
  assert.equal(r.code, 2)
  assert.doesNotMatch(r.stdout, /listening/)
})

test('troupe manager --dashboard abc is refused before anything listens (exit 2)', async () => {
  const r = await run([cli, 'manager', '--address', '127.0.0.1:0', '--authkey', 'k', '--dashboard', 'abc'])
  assert.equal(firstLine(r), 'troupe manager: --dashboard must be an integer from 0 to 65535')
  assert.equal(r.code, 2)
  assert.doesNotMatch(r.stdout, /listening/)
})

test('troupe manager --dashboard on a port in use says so and does not keep serving (exit 2)', async () => {
  const { server, port } = await occupiedPort()
  try {
    const r = await run([cli, 'manager', '--address', '127.0.0.1:0', '--authkey', 'k', '--dashboard', String(port)])
    assert.equal(firstLine(r), `troupe manager: dashboard port ${port} is in use (choose another with --dashboard PORT, or 0 for any free one)`)
    assert.equal(r.code, 2)
  } finally {
    server.close()
  }
})

test('troupe worker with a wrong authkey says the manager refused it (exit 1)', async () => {
  const { manager } = await serving()
  try {
    const r = await run(worker(manager.address, 'wrong'))
    assert.equal(firstLine(r), `troupe worker: the manager at ${manager.address} refused the authkey (check --authkey or $TROUPE_AUTHKEY)`)
    assert.equal(r.code, 1)
    assertNoStack(r)
  } finally {
    await manager.shutdown()
  }
})

test('troupe worker pointed where nothing listens says so in one line (exit 1)', async () => {
  const port = await freePort()
  const r = await run(worker(`127.0.0.1:${port}`, 'k'))
  assert.equal(firstLine(r), `troupe worker: cannot reach the manager at 127.0.0.1:${port}: connection refused (is a manager listening there?)`)
  assert.equal(r.code, 1)
  assertNoStack(r)
  assert.doesNotMatch(r.stderr, /cause/)
})

test('troupe worker naming a queue the manager does not serve lists what it serves (exit 1)', async () => {
  const { manager } = await serving()
  try {
    const r = await run([...worker(manager.address, 'right'), '--tasks', 'nope'])
    assert.match(firstLine(r), new RegExp(`^troupe worker: the manager at ${manager.address} serves no queue 'nope' \\(it serves: .*tasks, results\\)$`))
    assert.equal(r.code, 1)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  } finally {
    await manager.shutdown()
  }
})

test('troupe worker without --connect or --redis says to give one, and its help says it is required (exit 2)', async () => {
  const r = await run([cli, 'worker', '--authkey', 'k', '--tasks', 't', '--results', 'r', '--module', tasksModule, '--export', 'square'])
  assert.equal(firstLine(r), 'troupe worker: give --connect HOST:PORT (or --redis URL)')
  assert.equal(r.code, 2)
  const help = await run([cli, 'worker', '--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout.replace(/\s+/g, ' '), /--connect <host:port> .*\(required unless --redis\)/)
})

test('troupe worker --connect nonsense is refused as an address (exit 2)', async () => {
  const r = await run([cli, 'worker', '--connect', 'nonsense', '--authkey', 'k', '--tasks', 't', '--results', 'r', '--module', tasksModule, '--export', 'square'])
  assert.equal(firstLine(r), "troupe worker: --connect must be HOST:PORT, [IPV6]:PORT or a Unix socket path such as ./manager.sock, not 'nonsense'")
  assert.equal(r.code, 2)
})

test('a missing required flag is a usage error in the same form (exit 2)', async () => {
  const r = await run([cli, 'worker', '--connect', '127.0.0.1:1', '--authkey', 'k', '--tasks', 't', '--results', 'r', '--module', tasksModule])
  assert.equal(firstLine(r), "troupe worker: required option '--export <name>' not specified")
  assert.equal(r.code, 2)
  assert.equal(r.stderr.split('\n')[1], '(troupe worker --help lists the options)')
})

test('--debug adds the stack under the same first line', async () => {
  const port = await freePort()
  const r = await run([...worker(`127.0.0.1:${port}`, 'k'), '--debug'])
  assert.equal(firstLine(r), `troupe worker: cannot reach the manager at 127.0.0.1:${port}: connection refused (is a manager listening there?)`)
  assert.equal(r.code, 1)
  assert.match(r.stderr, /^\s+at /m)
  assert.match(r.stderr, /caused by: ConnectionClosedError/)
})

test('troupe dashboard on a port in use says so (exit 2)', async () => {
  const { server, port } = await occupiedPort()
  try {
    const r = await run([cli, 'dashboard', '--redis', 'redis://127.0.0.1:1', '--port', String(port)])
    assert.equal(firstLine(r), `troupe dashboard: port ${port} is in use (choose another with --port)`)
    assert.equal(r.code, 2)
  } finally {
    server.close()
  }
})

test('troupe dashboard with nothing to watch says what to give (exit 2)', async () => {
  const r = await run([cli, 'dashboard'])
  assert.equal(firstLine(r), 'troupe dashboard: nothing to watch: give --connect HOST:PORT (a manager) and/or --redis URL')
  assert.equal(r.code, 2)
})

test('a worker whose manager stops says how many tasks it finished and how many it held, and exits 3', async () => {
  const { manager, tasks, results } = await serving()
  const address = manager.address
  await tasks.putMany(Array.from({ length: 400 }, (_, i) => i))
  const w = run([...worker(address, 'right'), '--export', 'slow'])
  await until(() => results.qsize() >= 20, 60_000)
  await manager.shutdown()
  const r = await w
  const m = /^troupe worker: lost the manager at (\S+) after (\d+) tasks \((\d+) taken, unfinished\)$/.exec(firstLine(r))
  assert.ok(m, r.stderr)
  assert.equal(m[1], address)
  assert.equal(r.code, 3)
  assertNoStack(r)
  // What it counts as finished is what reached the results queue; results sent as the connection dropped may be there too.
  const finished = Number(m[2])
  const held = Number(m[3])
  assert.ok(finished >= 20 && finished <= results.qsize() && results.qsize() <= finished + held, `${finished} + ${held} vs ${results.qsize()} results`)
})

test('a worker with --reconnect waits for its manager to come back, delivers the results it kept, and goes on', async () => {
  const a = await serving()
  const address = a.manager.address
  await a.tasks.putMany(Array.from({ length: 400 }, (_, i) => i))
  const w = run([...worker(address, 'right'), '--export', 'slow', '--reconnect'])
  await until(() => a.results.qsize() >= 20, 60_000)
  await a.manager.shutdown()
  const taken = 400 - a.tasks.qsize()
  // A new manager on the same address, with ten more tasks and the terminator.
  const tasks = new SharedJoinableQueue<number | null>()
  const results = new SharedQueue<number>()
  const b = new Manager({ address, authkey: 'right', log: false })
  b.register('tasks', () => tasks)
  b.register('results', () => results)
  await b.serve()
  try {
    await tasks.putMany([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, null])
    const r = await w
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`lost the manager at ${address.replace(/\./g, '\\.')} after \\d+ tasks \\(\\d+ taken, kept\\); reconnecting`))
    assert.match(r.stderr, /reconnected to /)
    // Every task taken from the first manager has its result on one of the two; the new tasks on the new one.
    const all = new Set([...(a.results as SharedQueue<number>).getMany(10_000) as number[], ...results.getMany(10_000) as number[]])
    for (let i = 0; i < taken; i++) assert.ok(all.has(i * i), `no result for task ${i} of ${taken} taken`)
    for (let i = 1000; i < 1010; i++) assert.ok(all.has(i * i), `no result for task ${i}`)
  } finally {
    await b.shutdown()
  }
})
