import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { node, killAll } from './spawn.ts'

// Three network namespaces stand for three hosts: the manager's, joined by a veth pair to each worker's.
// Addresses are in 10.200.x.0/24 and exist only inside these namespaces.
const tag = String(process.pid % 100000)
const ns = { mgr: `trp-m-${tag}`, w1: `trp-a-${tag}`, w2: `trp-b-${tag}` }
const created: string[] = []

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' })
}

after(() => {
  killAll()
  for (const n of created) try { ip('netns', 'del', n) } catch { /* already gone */ }
})

function setUpHosts(): void {
  for (const n of Object.values(ns)) {
    try {
      ip('netns', 'add', n)
    } catch (err) {
      throw new Error(`ip netns is not permitted here (${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? err}); this test needs root and network namespaces`)
    }
    created.push(n)
    ip('-n', n, 'link', 'set', 'lo', 'up')
  }
  for (const [i, w] of [[1, ns.w1], [2, ns.w2]] as const) {
    const a = `trm${i}-${tag}`.slice(0, 15)
    const b = `trw${i}-${tag}`.slice(0, 15)
    ip('link', 'add', a, 'netns', ns.mgr, 'type', 'veth', 'peer', 'name', b, 'netns', w)
    ip('-n', ns.mgr, 'addr', 'add', `10.200.${i}.1/24`, 'dev', a)
    ip('-n', w, 'addr', 'add', `10.200.${i}.2/24`, 'dev', b)
    ip('-n', ns.mgr, 'link', 'set', a, 'up')
    ip('-n', w, 'link', 'set', b, 'up')
  }
}

test('across hosts: the seed 004 manager in one network namespace, workers in two others over veth links, every task done', async () => {
  setUpHosts()
  const inNs = (n: string) => ['ip', 'netns', 'exec', n]
  const manager = node(['examples/manager-taskmanager.ts', '--host', '0.0.0.0', '--port', '0', '--tasks', '20', '--timeout', '60'], {}, inNs(ns.mgr))
  const port = /listening on \S+:(\d+)/.exec(await manager.line(/listening on/))![1]!
  await manager.line(/Try get results/)
  const w1 = node(['examples/manager-taskworker.ts', '--address', `10.200.1.1:${port}`, '--count', '10'], {}, inNs(ns.w1))
  const w2 = node(['examples/manager-taskworker.ts', '--address', `10.200.2.1:${port}`, '--count', '10'], {}, inNs(ns.w2))
  assert.equal(await manager.exit(90_000), 0, manager.out() + w1.out() + w2.out())
  await w1.exit(); await w2.exit()
  const results = manager.out().split('\n').filter((l) => l.startsWith('Result: '))
  assert.equal(results.length, 20)
  // Each worker can take at most 10 tasks, so both links carried work.
  assert.equal(w1.out().match(/run task/g)?.length, 10, w1.out())
  assert.equal(w2.out().match(/run task/g)?.length, 10, w2.out())
  // The namespaces really are separate hosts: a worker has a route to its manager link only, none to the other worker.
  execFileSync('ip', ['-n', ns.w1, 'route', 'get', '10.200.1.1'], { stdio: 'pipe' })
  assert.throws(() => execFileSync('ip', ['-n', ns.w1, 'route', 'get', '10.200.2.2'], { stdio: 'pipe' }), /unreachable/i)
})

test('across hosts: a proxy created on one host and sent through the manager works on another host that reaches the manager by a different address', async () => {
  if (!created.length) setUpHosts()
  const inNs = (n: string) => ['ip', 'netns', 'exec', n]
  const server = node(['test/cli/fixtures/relay.ts', 'serve'], {}, inNs(ns.mgr))
  const port = /listening on \S+:(\d+)/.exec(await server.line(/listening on/))![1]!
  const sender = node(['test/cli/fixtures/relay.ts', 'send', `10.200.1.1:${port}`], {}, inNs(ns.w1))
  await sender.line(/sent a queue proxy/)
  const receiver = node(['test/cli/fixtures/relay.ts', 'recv', `10.200.2.1:${port}`], {}, inNs(ns.w2))
  assert.equal(await receiver.exit(), 0, receiver.out())
  assert.equal(await sender.exit(), 0, sender.out())
  assert.match(sender.out(), /got back: hello from the host that reached the manager at 10\.200\.2\.1/)
  server.child.kill('SIGTERM')
  await server.exit()
})
