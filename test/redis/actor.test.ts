import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisActorSystem, RedisActorRef } from '../../src/actor/redis.ts'
import { marshal, unmarshal } from '../../src/codec/index.ts'
import { TimeoutError } from '../../src/errors.ts'
import { REDIS_URL, requireRedis, waitFor } from './helpers.ts'
import { Recorder, Greeter, Idler, closeFixtureRedis } from './fixtures/actors.ts'

const prefix = `test-actors-${randomBytes(4).toString('hex')}`
const systems: RedisActorSystem[] = []
const children: ChildProcess[] = []
let redis: Redis

function system(opts: ConstructorParameters<typeof RedisActorSystem>[0] = {}): RedisActorSystem {
  const s = new RedisActorSystem({ redis: REDIS_URL, prefix, leaseMs: 1000, ...opts })
  systems.push(s)
  return s
}

before(async () => {
  await requireRedis()
  redis = new Redis(REDIS_URL)
})
after(async () => {
  for (const c of children) c.kill('SIGKILL')
  await Promise.all(systems.map((s) => s.close()))
  closeFixtureRedis()
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length) await redis.del(...keys)
  } while (cursor !== '0')
  redis.disconnect()
})

test('a Redis actor answers asks, and its errors come back with class, message and properties', async () => {
  const s = system()
  const greeter = await s.spawn(Greeter, { name: 'greeter' })
  assert.equal(await greeter.ask('Ada', { timeout: 10_000 }), 'hello Ada')
  const log = `${prefix}:log:errors`
  const rec = await s.spawn(Recorder, { name: 'rec-errors', args: [log] })
  await assert.rejects(rec.ask('boom', { timeout: 10_000 }), (err: RangeError & { detail: string; origin: string }) => {
    assert.ok(err instanceof RangeError)
    assert.equal(err.message, 'boom')
    assert.equal(err.detail, 'on purpose')
    assert.match(err.origin, /redis actor node/)
    return true
  })
  // The actor was restarted and goes on.
  assert.equal(await rec.ask({ n: 1 }, { timeout: 10_000 }), 1)
})

test('a Redis actor with receiveTimeout gets onTimeout when no message comes', async () => {
  const s = system()
  const log = `${prefix}:log:idle`
  const idler = await s.spawn(Idler, { name: 'idler', args: [log] })
  assert.equal(await idler.ask('hi', { timeout: 10_000 }), 'hi')
  await waitFor('two receive timeouts', async () => (await redis.llen(log)) >= 2)
  assert.ok((await redis.lrange(log, 0, -1)).every((x) => x === 'timeout'))
})

test('an ask nobody answers rejects with TimeoutError', async () => {
  const client = system({ host: false })
  await assert.rejects(client.ref('nobody-hosts-this').ask('hi', { timeout: 100 }), TimeoutError)
})

test('an actor lives on exactly one of several nodes', async () => {
  const a = system(), b = system()
  await a.spawn(Greeter, { name: 'single' })
  assert.equal(await b.ref('single').ask('x', { timeout: 10_000 }), 'hello x')
  const hosts = [a, b].filter((s) => s.hosted().includes('single'))
  assert.equal(hosts.length, 1)
  assert.equal(await redis.get(`${prefix}:{actor:single}:lease`), hosts[0]!.node)
})

test('subjects: publish reaches actors subscribed with * and > wildcards, and no others', async () => {
  const s = system()
  const log1 = `${prefix}:log:star`, log2 = `${prefix}:log:rest`
  const star = await s.spawn(Recorder, { name: 'sub-star', args: [log1] })
  const rest = await s.spawn(Recorder, { name: 'sub-rest', args: [log2] })
  await s.subscribe('evt.*', star)
  await s.subscribe('evt.>', rest)
  assert.equal(await s.publish('evt.ping', { n: 1 }), 2)
  assert.equal(await s.publish('evt.deep.pong', { n: 2 }), 1)
  assert.equal(await s.publish('other.ping', { n: 3 }), 0)
  await waitFor('both deliveries', async () => (await redis.llen(log2)) === 2)
  assert.deepEqual(await redis.lrange(log1, 0, -1), ['1'])
  assert.deepEqual(await redis.lrange(log2, 0, -1), ['1', '2'])
  await assert.rejects(s.publish('evt.*', 1), TypeError)
})

test('close ends an actor after the messages already in its mailbox', async () => {
  const s = system()
  const log = `${prefix}:log:close`
  const rec = await s.spawn(Recorder, { name: 'closer', args: [log] })
  for (let n = 1; n <= 3; n++) await rec.send({ n })
  rec.close()
  await rec.join({ timeout: 10_000 })
  assert.deepEqual(await redis.lrange(log, 0, -1), ['1', '2', '3'])
  assert.equal(rec.isAlive, false)
})

test('a Redis actor ref inside a message still works where it arrives', async () => {
  const s = system()
  const greeter = await s.spawn(Greeter, { name: 'portable-greeter' })
  const m = marshal({ to: greeter }, 'msg')
  const { to } = unmarshal(structuredClone(m.value), true) as { to: RedisActorRef<string, string> }
  assert.ok(to instanceof RedisActorRef)
  assert.equal(await to.ask('again', { timeout: 10_000 }), 'hello again')
})

// The failover test has a prefix of its own, so the nodes started by the tests above (in this process) stay out of it.
const failoverPrefix = `${prefix}-failover`

function startNode(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/redis/fixtures/actor-node.ts', REDIS_URL, failoverPrefix, '600'], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('actor node did not start within 60 s')), 60_000)
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve(child) } })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`actor node exited with ${code}`)) })
  })
}

test("an actor's node dies: the actor is placed on another node and its durable mailbox continues", async () => {
  const client = system({ host: false, prefix: failoverPrefix })
  const log = `${prefix}:log:failover`
  const first = await startNode()
  const rec = await client.spawn(Recorder, { name: 'mover', args: [log] })
  for (let n = 1; n <= 5; n++) await rec.send({ n })
  assert.equal(await rec.ask('where', { timeout: 30_000 }), first.pid)
  const second = await startNode()
  // The first node still holds the lease: the actor stays where it is.
  assert.equal(await rec.ask('where', { timeout: 30_000 }), first.pid)
  const died = new Promise((r) => first.once('exit', r))
  first.kill('SIGKILL')
  await died
  // Sent while no node hosts the actor: the messages wait in its mailbox.
  for (let n = 6; n <= 10; n++) await rec.send({ n })
  assert.equal(await rec.ask('where', { timeout: 30_000 }), second.pid)
  const handled = (await redis.lrange(log, 0, -1)).map(Number)
  assert.deepEqual([...new Set(handled)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  assert.equal(await redis.get(`${failoverPrefix}:{actor:mover}:lease`), `node-${second.pid}`)
})
