// Every Redis feature on a Redis Cluster of three masters started by this file (test/redis/cluster.ts).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis, Cluster } from 'ioredis'
import { RedisQueue, RedisJoinableQueue, parseClusterUrl } from '../../src/backends/index.ts'
import { RedisPool } from '../../src/pool/redis.ts'
import { Pool } from '../../src/pool/index.ts'
import { RedisActorSystem } from '../../src/actor/redis.ts'
import { Collector, redisSource, startReporting, WorkerActivity } from '../../src/cli/dashboard/index.ts'
import { marshal, unmarshal } from '../../src/codec/index.ts'
import { Empty } from '../../src/errors.ts'
import { RedisCluster } from './cluster.ts'
import { waitFor } from './helpers.ts'
import { square, add, fails } from './fixtures/tasks.ts'
import { Greeter, Tally } from './fixtures/actors.ts'
import { putInto } from './fixtures/core-task.ts'

const cluster = new RedisCluster({ masters: 3 })
const prefix = `tc-${randomBytes(3).toString('hex')}`
const closers: (() => Promise<unknown> | unknown)[] = []
const children: ChildProcess[] = []
let ports: number[] = []

before(async () => {
  await cluster.start()
  ports = await cluster.masters()
}, { timeout: 120_000 })

after(async () => {
  for (const c of children) c.kill('SIGKILL')
  for (const close of closers.reverse()) await Promise.resolve().then(close).catch(() => {})
  await cluster.stop()
})

function queue<T>(name: string, opts: ConstructorParameters<typeof RedisQueue>[1] = {}): RedisQueue<T> {
  const q = new RedisQueue<T>(name, { redis: cluster.url, prefix, ...opts })
  closers.push(() => q.close())
  return q
}

function joinable<T>(name: string, opts: ConstructorParameters<typeof RedisQueue>[1] = {}): RedisJoinableQueue<T> {
  const q = new RedisJoinableQueue<T>(name, { redis: cluster.url, prefix, ...opts })
  closers.push(() => q.close())
  return q
}

/** One name per master: `label-N` whose key `key(name)` lands on that master. */
async function onEveryMaster(label: string, key: (name: string) => string): Promise<Map<number, string>> {
  const found = new Map<number, string>()
  for (let i = 0; found.size < ports.length; i++) {
    const name = `${label}-${i}`
    const port = await cluster.masterOf(key(name))
    if (!found.has(port)) found.set(port, name)
  }
  return found
}

const queueKey = (name: string) => `${prefix}:{${name}}:q`

const nodes = new Map<number, Redis>()
/** A plain connection to one cluster node (for what a test checks there). */
function node(port: number): Redis {
  let r = nodes.get(port)
  if (!r) {
    nodes.set(port, r = new Redis({ host: '127.0.0.1', port }))
    r.on('error', () => {})
    closers.push(() => r!.disconnect())
  }
  return r
}

test('a redis-cluster:// URL, an ioredis Cluster, { cluster: [...] } and TROUPE_REDIS all reach the cluster', async () => {
  assert.deepEqual(parseClusterUrl('redis-cluster://u:p%40ss@10.0.0.1:7000,[::1]:7001'), {
    cluster: [{ host: '10.0.0.1', port: 7000 }, { host: '::1', port: 7001 }], options: { redisOptions: { username: 'u', password: 'p@ss' } },
  })
  assert.throws(() => parseClusterUrl('redis-cluster://'), TypeError)
  assert.throws(() => parseClusterUrl('redis-cluster://h:x'), TypeError)

  const mine = new Cluster([{ host: '127.0.0.1', port: ports[0]! }], { lazyConnect: true })
  mine.on('error', () => {})
  closers.push(() => mine.disconnect())
  const saved = process.env.TROUPE_REDIS
  process.env.TROUPE_REDIS = cluster.url
  let fromEnv: RedisQueue<string>
  try {
    fromEnv = new RedisQueue<string>('forms-env', { prefix })
    closers.push(() => fromEnv.close())
  } finally {
    if (saved === undefined) delete process.env.TROUPE_REDIS; else process.env.TROUPE_REDIS = saved
  }
  const forms: [string, RedisQueue<string>][] = [
    ['url', queue('forms-url')],
    ['Cluster client', queue('forms-client', { redis: mine })],
    ['{ cluster }', queue('forms-object', { redis: { cluster: [{ host: '127.0.0.1', port: ports[1]! }] } })],
    ['TROUPE_REDIS', fromEnv],
  ]
  for (const [how, q] of forms) {
    await q.put(how)
    // The item is in the cluster, on the master of its slot (not in some other Redis).
    const port = await cluster.masterOf(q.keys.stream)
    assert.equal(await node(port).exists(q.keys.stream), 1, how)
    assert.equal(await q.get({ timeout: 5000 }), how)
  }
  // What cannot travel is refused by name, rather than workers connecting without it.
  const mapped = new Cluster([{ host: '127.0.0.1', port: ports[0]! }], { lazyConnect: true, natMap: (key: string) => ({ host: key.split(':')[0]!, port: Number(key.split(':')[1]) }) })
  mapped.on('error', () => {})
  closers.push(() => mapped.disconnect())
  assert.throws(() => new RedisPool({ redis: mapped, prefix, name: 'never', workers: 1 }), (err: Error) => err instanceof TypeError && /natMap/.test(err.message))
  // A handle made from a Cluster client travels as the cluster's startup nodes.
  const { q: copy } = unmarshal(structuredClone(marshal({ q: forms[1]![1] }).value)) as { q: RedisQueue<string> }
  closers.push(() => copy.close())
  await forms[1]![1].put('copied')
  assert.equal(await copy.get({ timeout: 5000 }), 'copied')
})

test('queues on every master: put, get, getMany, join, delays and dead letters', async () => {
  const names = await onEveryMaster('jobs', queueKey)
  for (const name of names.values()) {
    const q = joinable<number>(name, { leaseMs: 500, maxRetries: 1, delayPollMs: 20 })
    await q.put(1)
    await q.put(2, { delay: 100 })
    await q.putMany([3, 4])
    assert.deepEqual(await q.getMany(2, { timeout: 5000 }), [1, 3])
    assert.equal(await q.get({ timeout: 5000 }), 4)
    assert.equal(await q.get({ timeout: 5000 }), 2, 'the delayed item came once due')
    for (let i = 0; i < 4; i++) await q.taskDone()
    await q.join({ timeout: 5000 })
    await assert.rejects(q.getNowait(), Empty)
    // An item that keeps failing ends in the dead letters, with its runs counted.
    await q.put(99)
    for (let run = 1; run <= 2; run++) {
      const t = await q.receive({ timeout: 5000 })
      assert.equal(t.attempt, run)
      await t.retry()
    }
    await waitFor('the dead letter', async () => (await q.deadLetters()).length === 1, 10_000)
    const [dead] = await q.deadLetters()
    assert.equal(dead!.value, 99)
    assert.equal(dead!.attempts, 2)
    await q.join({ timeout: 5000 })
  }
})

test('a blocked get waits on the master of its queue\'s slot and is woken there, never by CLIENT UNBLOCK on another node', async () => {
  const names = await onEveryMaster('block', queueKey)
  const reads = new Map<number, string[]>()
  const monitors = await Promise.all(ports.map(async (port) => {
    const m = await node(port).monitor()
    m.on('error', () => {})
    closers.push(() => m.disconnect())
    reads.set(port, [])
    m.on('monitor', (_t: string, args: string[]) => {
      const cmd = args.map(String).join(' ')
      if (/^xreadgroup .* block /i.test(cmd)) reads.get(port)!.push(cmd)
    })
    return m
  }))
  // MONITOR does not show admin commands such as CLIENT UNBLOCK: count them per node instead.
  const unblocks = async () => new Map(await Promise.all(ports.map(async (port) =>
    [port, Number(/cmdstat_client\|unblock:calls=(\d+)/.exec(await node(port).info('commandstats'))?.[1] ?? 0)] as const)))
  try {
    for (const [port, name] of names) {
      // Promotion polls are rare here, so the read blocks for its whole slice (2 s) unless woken.
      const q = queue<number>(name, { delayPollMs: 60_000 })
      await q.ready()
      for (const list of reads.values()) list.length = 0
      const before = await unblocks()
      // Nothing comes: the get times out, and the blocked read is woken so it does not hold the connection.
      await assert.rejects(q.get({ timeout: 300 }), Empty)
      await waitFor(`CLIENT UNBLOCK on ${port}`, async () => (await unblocks()).get(port)! > before.get(port)!, 10_000)
      const after = await unblocks()
      for (const other of ports) {
        const mine = reads.get(other)!.filter((c) => c.includes(q.keys.stream))
        if (other === port) assert.ok(mine.length > 0, `the blocking read went to ${port}`)
        else {
          assert.deepEqual(mine, [], `no read of queue ${name} reached ${other}`)
          assert.equal(after.get(other), before.get(other), `no CLIENT UNBLOCK reached ${other}`)
        }
      }
      // The connection is free again: an item put now is got at once.
      await q.put(7)
      assert.equal(await q.get({ timeout: 5000 }), 7)
    }
  } finally {
    for (const m of monitors) m.disconnect()
  }
})

test('a queue whose slot moves to another master keeps being served: blocking reads follow ASK during the move, MOVED after', async () => {
  const q = queue<number>('moving', { delayPollMs: 60_000 })
  const producer = queue<number>('moving')
  await q.ready()
  const from = await cluster.masterOf(q.keys.stream)
  const to = ports.find((p) => p !== from)!
  const slot = Number(await node(from).call('CLUSTER', 'KEYSLOT', q.keys.stream))
  const [fromId, toId] = await Promise.all([node(from).call('CLUSTER', 'MYID'), node(to).call('CLUSTER', 'MYID')]) as string[]
  // Blocking reads of this queue seen by each of the two masters.
  const reads = new Map<number, number>([[from, 0], [to, 0]])
  const monitors = await Promise.all([from, to].map(async (port) => {
    const m = await node(port).monitor()
    m.on('error', () => {})
    closers.push(() => m.disconnect())
    m.on('monitor', (_t: string, args: string[]) => { if (/^xreadgroup .* block .*moving/i.test(args.map(String).join(' '))) reads.set(port, reads.get(port)! + 1) })
    return m
  }))
  // Multi-key scripts meet TRYAGAIN while a slot is half moved and some of their keys are not there yet (retried by
  // ioredis; a reshard finishes in milliseconds, this test holds the slot half moved): make the keys a put touches exist.
  await producer.put(0)
  assert.equal(await q.get({ timeout: 10_000 }), 0)
  const waiting = q.get({ timeout: 30_000 })
  await waitFor('the blocking read on the old master', () => reads.get(from)! > 0, 10_000)
  // The move, as redis-cli --cluster reshard does it: importing, migrating, the keys, then the slot's new owner.
  await node(to).call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId)
  await node(from).call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId)
  const keys = await node(from).call('CLUSTER', 'GETKEYSINSLOT', slot, 1000) as string[]
  await node(from).call('MIGRATE', '127.0.0.1', to, '', 0, 5000, 'KEYS', ...keys)
  // The read that was blocked on the old master learns the stream left; the next one goes there, gets ASK, and follows.
  await producer.put(1)
  assert.equal(await waiting, 1)
  await producer.put(2)
  assert.equal(await q.get({ timeout: 10_000 }), 2)
  assert.ok(reads.get(to)! > 0, 'a blocking read reached the importing master (through ASK)')
  for (const port of ports) await node(port).call('CLUSTER', 'SETSLOT', slot, 'NODE', toId)
  await producer.put(3)
  assert.equal(await q.get({ timeout: 10_000 }), 3)
  assert.equal(await cluster.masterOf(q.keys.stream), to)
  for (const m of monitors) m.disconnect()
})

test('a queue handle given to a pool task works in a worker thread against the same cluster', async () => {
  const q = queue<string>('to-thread')
  const pool = new Pool({ workers: 1 })
  try {
    assert.equal(await pool.apply(putInto, [q, 'from a thread']), 'put')
  } finally {
    pool.close()
    await pool.join()
  }
  assert.equal(await q.get({ timeout: 5000 }), 'from a thread')
})

test('RedisPool apply, map and imap run on its worker processes against the cluster', async () => {
  const pool = new RedisPool({ redis: cluster.url, prefix, name: 'pool', workers: 2 })
  closers.push(() => pool.terminate())
  assert.equal(await pool.apply(square, [7]), 49)
  const xs = Array.from({ length: 200 }, (_, i) => i)
  assert.deepEqual(await pool.map(square, xs, { chunksize: 9 }), xs.map((x) => x * x))
  assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7])
  const out: number[] = []
  for await (const y of pool.imap(square, xs.slice(0, 30), { chunksize: 4 })) out.push(y)
  assert.deepEqual(out, xs.slice(0, 30).map((x) => x * x))
  await assert.rejects(pool.apply(fails, [3]), RangeError)
  pool.close()
  await pool.join()
})

test('troupe worker --redis redis-cluster://... serves a queue from another process', async () => {
  const tasks = queue<number>('cli-tasks')
  const results = queue<number>('cli-results')
  await tasks.putMany([2, 3, 4])
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', '--redis', cluster.url, '--prefix', prefix,
    '--tasks', 'cli-tasks', '--results', 'cli-results', '--module', 'test/redis/fixtures/tasks.ts', '--export', 'square', '--idle-exit', '1'],
  { encoding: 'utf8', timeout: 90_000 })
  assert.equal(run.status, 0, run.stderr)
  const got = [await results.get({ timeout: 5000 }), await results.get({ timeout: 5000 }), await results.get({ timeout: 5000 })]
  assert.deepEqual(got.sort((a, b) => a - b), [4, 9, 16])
})

test('actors spawn, send, ask, publish and subscribe across every master, hosted in another process', async () => {
  const host = spawn(process.execPath, ['--import', 'tsx', 'test/redis/fixtures/actor-node.ts', cluster.url, prefix, '2000'], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(host)
  await new Promise<void>((resolve, reject) => {
    host.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() })
    host.once('exit', (code) => reject(new Error(`the actor node exited with ${code}`)))
  })
  const system = new RedisActorSystem({ redis: cluster.url, prefix, host: false, leaseMs: 2000 })
  closers.push(() => system.close())
  const names = await onEveryMaster('tally', (n) => `${prefix}:{actor:${n}}:q`)
  const tallies = await Promise.all([...names.values()].map((name) => system.spawn(Tally, { name })))
  const greeter = await system.spawn(Greeter, { name: 'greeter' })
  assert.equal(await greeter.ask('Ada', { timeout: 20_000 }), 'hello Ada')
  for (const t of tallies) {
    t.send({ direct: t.name })
    await system.subscribe('evt.*', t)
  }
  await system.subscribe('other.>', tallies[0]!)
  assert.equal(await system.publish('evt.ping', 'ping'), tallies.length)
  assert.equal(await system.publish('other.x.y', 'deep'), 1)
  // A ref inside a message reaches the same actor.
  const { t: copy } = unmarshal(structuredClone(marshal({ t: tallies[1]! }).value)) as { t: typeof tallies[number] }
  copy.send('via copy')
  for (const [i, t] of tallies.entries()) {
    const seen = await t.ask('seen', { timeout: 20_000 })
    const want: unknown[] = [{ direct: t.name }, 'ping', ...(i === 0 ? ['deep'] : []), ...(i === 1 ? ['via copy'] : [])]
    assert.deepEqual(seen, want, t.name)
  }
  await greeter.stop()
  await assert.doesNotReject(greeter.join({ timeout: 20_000 }))
})

test('Lua scripts gone from every master (a promoted replica starts without them) are loaded again where they run', async () => {
  const system = new RedisActorSystem({ redis: cluster.url, prefix: `${prefix}-s`, leaseMs: 2000 })
  closers.push(() => system.close())
  const names = await onEveryMaster('g', (n) => `${prefix}-s:{actor:${n}}:q`)
  const refs = await Promise.all([...names.values()].map((name) => system.spawn(Greeter, { name })))
  assert.deepEqual(await Promise.all(refs.map((r) => r.ask('one', { timeout: 20_000 }))), refs.map(() => 'hello one'))
  for (const port of ports) await node(port).call('SCRIPT', 'FLUSH')
  // Replies go out as EVALSHA in pipelines (one per node): a NOSCRIPT there loads the scripts on every master.
  assert.deepEqual(await Promise.all(refs.map((r) => r.ask('two', { timeout: 20_000 }))), refs.map(() => 'hello two'))
  for (const port of ports) await node(port).call('SCRIPT', 'FLUSH')
  for (const name of (await onEveryMaster('after-flush', queueKey)).values()) {
    const q = queue<number>(name)
    await q.put(1)
    assert.equal(await q.get({ timeout: 5000 }), 1)
  }
})

test('publish re-reads the subscriptions only when they changed, and sees a change made elsewhere at once', async () => {
  const p = `${prefix}-subs`
  const a = new RedisActorSystem({ redis: cluster.url, prefix: p, leaseMs: 2000 })
  const b = new RedisActorSystem({ redis: cluster.url, prefix: p, leaseMs: 2000, host: false })
  closers.push(() => a.close(), () => b.close())
  const one = await a.spawn(Tally, { name: 'one' })
  const two = await a.spawn(Tally, { name: 'two' })
  await a.subscribe('news', one)
  // Reads of this set, also those made by Lua (MONITOR shows them with source 'lua').
  const key = `${p}:{${p}:subjects}:subs`
  let reads = 0
  const marks = new Set<string>()
  const port = await cluster.masterOf(key)
  const m = await node(port).monitor()
  m.on('error', () => {})
  closers.push(() => m.disconnect())
  m.on('monitor', (_t: string, args: string[]) => {
    const cmd = String(args[0]).toLowerCase()
    if (cmd === 'smembers' && args[1] === key) reads++
    if (cmd === 'echo') marks.add(String(args[1]))
  })
  // MONITOR reports in order: once a marker sent after the publishes is seen, so is every read they made.
  const settled = async (mark: string) => { await node(port).call('ECHO', mark); await waitFor(`monitor mark ${mark}`, () => marks.has(mark), 5000) }
  assert.equal(await b.publish('news', 0), 1)
  await waitFor('the first read of the set', () => reads > 0, 5000)
  const before = reads
  for (let i = 1; i <= 20; i++) assert.equal(await b.publish('news', i), 1)
  await settled(`after-${p}`)
  assert.equal(reads, before, 'an unchanged set is not read again')
  await a.subscribe('news', two)
  assert.equal(await b.publish('news', 21), 2, 'a subscription made on another node counts at once')
  assert.deepEqual(await two.ask('seen', { timeout: 20_000 }), [21])
  assert.equal((await one.ask('seen', { timeout: 20_000 }) as unknown[]).length, 22)
  m.disconnect()
})

test('the dashboard\'s Redis source finds the queues on every master, with their counts, and reports from the cluster', async () => {
  const p = `${prefix}-dash`
  const names = await onEveryMaster('shown', (n) => `${p}:{${n}}:q`)
  let k = 0
  for (const name of names.values()) {
    const q = new RedisJoinableQueue<number>(name, { redis: cluster.url, prefix: p })
    closers.push(() => q.close())
    k++
    await q.putMany(Array.from({ length: k + 1 }, (_, i) => i))
    await q.put(99, { delay: 60_000 })
    await q.get({ timeout: 5000 })
  }
  const activity = new WorkerActivity({ id: 'cluster-worker' })
  activity.begin('job')
  activity.end(true)
  const reporting = startReporting({ redis: cluster.url, prefix: p }, () => activity.report(), { intervalMs: 50 })
  closers.push(() => reporting.stop({ withdraw: true }))
  await reporting.flush()
  const collector = new Collector([redisSource({ url: cluster.url, prefix: p })])
  closers.push(() => collector.stop())
  const snap = await collector.tick()
  assert.deepEqual(snap.sources.map((s) => s.ok), [true], JSON.stringify(snap.sources))
  assert.deepEqual(snap.queues.map((q) => q.name).sort(), [...names.values()].sort())
  k = 0
  for (const name of names.values()) {
    k++
    const s = snap.queues.find((q) => q.name === name)!
    assert.equal(s.put, k + 1, name)
    assert.equal(s.depth, k, name)
    assert.equal(s.pending, 1, name)
    assert.equal(s.delayed, 1, name)
  }
  assert.deepEqual(snap.workers.map((w) => [w.id, w.done]), [['cluster-worker', 1]])
})
