import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisActorSystem, RedisActorRef } from '../../src/actor/redis.ts'
import { marshal, unmarshal } from '../../src/codec/index.ts'
import { ActorNotFoundError, ActorStoppedError, SupervisorGaveUpError, TimeoutError } from '../../src/errors.ts'
import { watch, type StopReason } from '../../src/actor/index.ts'
import { codecFor } from '../../src/backends/index.ts'
import { REDIS_URL, requireRedis, waitFor } from './helpers.ts'
import { Recorder, Greeter, Idler, Spanner, Sleeper, Deferrer, Crasher, closeFixtureRedis } from './fixtures/actors.ts'

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
    // Every prefix of this file starts with `prefix`.
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

test('an ask to an actor no node hosts rejects with TimeoutError (its mailbox keeps the message for a node to come)', async () => {
  // A prefix no hosting node of this file serves: the actor is registered, nothing runs it.
  const client = system({ prefix: `${prefix}-unhosted`, host: false })
  const ref = await client.spawn(Greeter, { name: 'nobody-hosts-this' })
  await assert.rejects(ref.ask('hi', { timeout: 100 }), TimeoutError)
})

test('an ask to a name never spawned rejects at once with ActorNotFoundError, even without a timeout; one to an ended actor with ActorStoppedError', async () => {
  const s = system()
  const client = system({ host: false })
  const t0 = Date.now()
  await assert.rejects(client.ref('never-spawned').ask('hi', { timeout: Infinity }), (err: Error) => {
    assert.ok(err instanceof ActorNotFoundError)
    assert.ok(err instanceof ActorStoppedError)
    assert.equal((err as ActorNotFoundError).code, 'ERR_TROUPE_ACTOR_NOT_FOUND')
    assert.match(err.message, /no Redis actor named 'never-spawned'/)
    return true
  })
  // Far below any ask timeout: the answer came from the mailbox script, not a timer.
  assert.ok(Date.now() - t0 < 5000)
  // Nothing was left in Redis for that name.
  assert.equal(await redis.exists(`${prefix}:{actor:never-spawned}:q`), 0)
  // An actor that ended: the ask is refused with why it ended, and the asker's ref learns it ended.
  const g = await s.spawn(Greeter, { name: 'ended-before-ask' })
  assert.equal(await g.ask('Ada', { timeout: 10_000 }), 'hello Ada')
  await g.stop()
  const other = system({ host: false, node: `other-${randomBytes(3).toString('hex')}` })
  const late = other.ref('ended-before-ask')
  await assert.rejects(late.ask('Bob', { timeout: Infinity }), (err: Error) => err instanceof ActorStoppedError && !(err instanceof ActorNotFoundError) && /has stopped \(stopped\)/.test(err.message))
  assert.equal(late.isAlive, false)
  // stop() and close() of a name never spawned leave nothing behind either.
  await client.ref('never-spawned-either').stop()
  client.ref('never-spawned-either').close()
  await client.flush()
  assert.equal(await redis.exists(`${prefix}:{actor:never-spawned-either}:q`), 0)
})

test('messages sent to a name before it is spawned wait for the spawn; those never claimed expire', async () => {
  const s = system()
  const client = system({ host: false })
  const log = `${prefix}:log:early`
  const early = client.ref<unknown, number>('spawned-late')
  early.send({ n: 1 })
  early.send({ n: 2 })
  await client.flush()
  // Kept for a later spawn, with an expiry (a name nobody spawns leaves nothing forever).
  const ttl = await redis.pttl(`${prefix}:{actor:spawned-late}:q`)
  assert.ok(ttl > 0 && ttl <= 24 * 3600_000, `ttl ${ttl}`)
  const rec = await s.spawn(Recorder, { name: 'spawned-late', args: [log] })
  assert.equal(await rec.ask({ n: 3 }, { timeout: 10_000 }), 3)
  assert.deepEqual(await redis.lrange(log, 0, -1), ['1', '2', '3'])
  // Spawned: the mailbox is the actor's now, and no longer expires.
  assert.equal(await redis.pttl(`${prefix}:{actor:spawned-late}:q`), -1)
})

test('an actor lives on exactly one of several nodes', async () => {
  const a = system(), b = system()
  await a.spawn(Greeter, { name: 'single' })
  assert.equal(await b.ref('single').ask('x', { timeout: 10_000 }), 'hello x')
  // Every node of this test file (all share the prefix) may have won it; exactly one did.
  const hosts = systems.filter((s) => s.hosted().includes('single'))
  assert.equal(hosts.length, 1)
  assert.match((await redis.get(`${prefix}:{actor:single}:lease`))!, new RegExp(`^${hosts[0]!.node} \\d+$`))
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
  await waitFor('all three deliveries', async () => (await redis.llen(log1)) === 1 && (await redis.llen(log2)) === 2)
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

test('send returns nothing (a promise only under backpressure); flush says when Redis holds the messages', async () => {
  const s = system()
  const log = `${prefix}:log:send`
  const rec = await s.spawn(Recorder, { name: 'sender', args: [log] })
  const results = [1, 2, 3].map((n) => rec.send({ n }))
  assert.deepEqual(results, [undefined, undefined, undefined])
  await s.flush()
  await waitFor('three messages handled', async () => (await redis.llen(log)) === 3)
  assert.throws(() => rec.send({ n: () => 1 } as unknown as { n: number }), /message\.n/)
})

test('deferReply and schedule work on a Redis actor as on any other', async () => {
  const s = system()
  const d = await s.spawn(Deferrer, { name: 'deferrer' })
  assert.equal(await d.ask('later', { timeout: 10_000 }), 'deferred 1')
  assert.equal(await d.ask('later', { timeout: 10_000 }), 'deferred 2')
})

test('watch and join see a Redis actor end, with its reason, from any process', async () => {
  const s = system()
  const log = `${prefix}:log:watched`
  const rec = await s.spawn(Recorder, { name: 'watched', args: [log] })
  const seen = new Promise<StopReason>((resolve) => watch(rec, resolve))
  rec.close()
  assert.equal(await seen, 'normal')
  await rec.join({ timeout: 10_000 })
  assert.equal(rec.isAlive, false)
  assert.throws(() => rec.send({ n: 1 }), ActorStoppedError)
  // A ref made elsewhere (another system on the same Redis) learns it too, even after the fact.
  const other = system({ host: false })
  await other.ref('watched').join({ timeout: 10_000 })
})

test('a Redis actor is supervised one for one: restarted after a throw, until its restarts run out; a temporary one just ends', async () => {
  const s = system()
  const log = `${prefix}:log:crasher`
  const c = await s.spawn(Crasher, { name: 'crasher', args: [log], maxRestarts: 2, withinMs: 60_000 })
  for (let k = 1; k <= 3; k++) await assert.rejects(c.ask(`m${k}`, { timeout: 10_000 }), TypeError)
  await assert.rejects(c.join({ timeout: 10_000 }), SupervisorGaveUpError)
  assert.deepEqual(await redis.lrange(log, 0, -1), ['start', 'start', 'start'])
  const t = await s.spawn(Crasher, { name: 'temporary', args: [`${log}:t`], restart: 'temporary' })
  await assert.rejects(t.ask('once', { timeout: 10_000 }), TypeError)
  await assert.rejects(t.join({ timeout: 10_000 }), (err: Error) => err instanceof TypeError && /crashed on once/.test(err.message))
  // stop() comes after the messages sent before it; asks still waiting in the mailbox are answered: the actor has stopped.
  const q = await s.spawn(Sleeper, { name: 'stopped-with-asks' })
  const slow = q.ask(300, { timeout: 10_000 })
  const stopping = q.stop()
  const late = q.ask(1, { timeout: 10_000 })
  await stopping
  assert.equal(await slow, 'slept')
  await assert.rejects(late, ActorStoppedError)
})

test('a supervised Redis actor that throws gets one crash report per failure, through the same reporter as supervise()', async () => {
  const lines: string[] = []
  // A prefix of its own: no other node of this file takes these actors (their reports would go to stderr).
  const s = system({ prefix: `${prefix}-reports`, log: (line) => lines.push(line) })
  const log = `${prefix}:log:reported`
  const c = await s.spawn(Crasher, { name: 'reported', args: [log], maxRestarts: 1, withinMs: 60_000 })
  await assert.rejects(c.ask('boom', { timeout: 10_000 }), TypeError)
  await assert.rejects(c.ask('last', { timeout: 10_000 }), TypeError)
  await assert.rejects(c.join({ timeout: 10_000 }), SupervisorGaveUpError)
  assert.equal(lines.length, 2, lines.join('\n---\n'))
  const node = `redis node ${s.node}`
  assert.ok(lines[0]!.startsWith(`crash report: actor 'reported' (Crasher, ${node}) failed handling message "boom"; supervisor '${node}' is restarting it (restart 1 of at most 1 within 60000 ms)`), lines[0])
  assert.ok(lines[1]!.startsWith(`crash report: actor 'reported' (Crasher, ${node}) failed handling message "last"; supervisor '${node}' is giving up (more than 1 restarts within 60000 ms)`), lines[1])
  for (const l of lines) assert.match(l, /TypeError: crashed on .*\n\s+at Crasher\.receive/)
  // log: false is silence; a temporary actor's failure is reported too (it is stopped, not restarted).
  const quiet = system({ prefix: `${prefix}-quiet`, log: false })
  const t = await quiet.spawn(Crasher, { name: 'reported-quietly', args: [`${log}:q`], restart: 'temporary' })
  await assert.rejects(t.ask('once', { timeout: 10_000 }), TypeError)
  const t2 = await s.spawn(Crasher, { name: 'reported-temporary', args: [`${log}:t`], restart: 'temporary' })
  await assert.rejects(t2.ask('once', { timeout: 10_000 }), TypeError)
  await assert.rejects(t2.join({ timeout: 10_000 }), TypeError)
  assert.equal(lines.length, 3, lines.join('\n---\n'))
  assert.match(lines[2]!, /actor 'reported-temporary' .* is not restarting it \(restart: 'temporary'\)/)
})

function startNode(nodePrefix: string, leaseMs = 600): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/redis/fixtures/actor-node.ts', REDIS_URL, nodePrefix, String(leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('actor node did not start within 60 s')), 60_000)
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(t); resolve(child) } })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`actor node exited with ${code}`)) })
  })
}

// Tests with nodes in other processes have prefixes of their own, so the nodes of the tests above (in this process) stay out.
const failoverPrefix = `${prefix}-failover`

test("an actor's node dies: the actor is placed on another node and its durable mailbox continues", async () => {
  const client = system({ host: false, prefix: failoverPrefix })
  const log = `${prefix}:log:failover`
  const first = await startNode(failoverPrefix)
  const rec = await client.spawn(Recorder, { name: 'mover', args: [log] })
  for (let n = 1; n <= 5; n++) await rec.send({ n })
  assert.equal(await rec.ask('where', { timeout: 30_000 }), first.pid)
  const second = await startNode(failoverPrefix)
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
  assert.match((await redis.get(`${failoverPrefix}:{actor:mover}:lease`))!, new RegExp(`^node-${second.pid} \\d+$`))
})

test('a node stalled past its lease never overlaps the new holder: only the message in flight runs twice, and is answered once', async () => {
  const fencePrefix = `${prefix}-fence`
  const client = system({ host: false, prefix: fencePrefix })
  const log = `${prefix}:log:fence`
  const a = await startNode(fencePrefix, 1000)
  const ref = await client.spawn(Spanner, { name: 'fenced', args: [log] })
  assert.equal(await ref.ask('where', { timeout: 30_000 }), a.pid)
  const b = await startNode(fencePrefix, 1000)
  // The first message stalls node A's event loop for 3 leases. It is an ask whose answer goes to an
  // inbox nobody reads, so the answers recorded can be counted.
  const inbox = `${fencePrefix}:{inbox:probe}:q`
  await redis.xadd(`${fencePrefix}:{actor:fenced}:q`, '*', 'probe-ask', codecFor('v8').encode({ n: 1, blockPid: a.pid, block: 3000 }), 'r', 'inbox:probe')
  for (let n = 2; n <= 11; n++) ref.send({ n })
  await client.flush()
  type Span = { n: number; pid: number; t0: number; t1: number }
  const spans = async () => (await redis.lrange(log, 0, -1)).map((x) => JSON.parse(x) as Span)
  await waitFor('all 11 messages handled and node A unstuck', async () => {
    // Answers to an inbox expire when its node stops renewing it; this one has no node.
    await redis.persist(inbox)
    const all = await spans()
    return all.some((x) => x.pid === a.pid) && new Set(all.map((x) => x.n)).size === 11
  }, 60_000)
  // Whatever A would still do after its stall has time to show.
  for (let k = 0; k < 40; k++) { await redis.persist(inbox); await new Promise((r) => setTimeout(r, 50)) }
  const all = await spans()
  const byA = all.filter((x) => x.pid === a.pid)
  const byB = all.filter((x) => x.pid === b.pid)
  assert.deepEqual(byA.map((x) => x.n), [1], 'the stalled node handled nothing after the message it was stuck in')
  assert.deepEqual(byB.map((x) => x.n).sort((p, q) => p - q), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 'the new holder handled each message once')
  assert.equal(all.length, 12, 'only the message in flight ran twice')
  // B took over while A was stuck in that message: every span of B started after A's began.
  assert.ok(byB.every((x) => x.t0 >= byA[0]!.t0))
  assert.equal(await redis.xlen(inbox), 1, 'the ask was answered once (by the holder that could acknowledge it)')
})

test('an asker that died leaves an inbox that expires by itself', async () => {
  const askPrefix = `${prefix}-asker`
  const host = system({ prefix: askPrefix })
  await host.spawn(Sleeper, { name: 'sleeper' })
  const node = `asker-${randomBytes(3).toString('hex')}`
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/redis/fixtures/asker.ts', REDIS_URL, askPrefix, node], { stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('asked')) resolve() })
    child.once('exit', (code) => reject(new Error(`asker exited with ${code}`)))
  })
  child.kill('SIGKILL')
  const inbox = `${askPrefix}:{inbox:${node}}:q`
  // The answer lands in the dead asker's inbox (1.5 s later), which then expires 3 leases (of the answering node: 3 s) later ...
  await waitFor('the answer in the inbox', async () => (await redis.exists(inbox)) === 1 && (await redis.xlen(inbox)) >= 1, 20_000)
  const ttl = await redis.pttl(inbox)
  assert.ok(ttl > 0 && ttl <= 3000, `the inbox expires (pttl ${ttl})`)
  // ... and is gone after it.
  await waitFor('the inbox to expire', async () => (await redis.exists(inbox)) === 0, 20_000)
})

test('a Redis ask with timeout: null waits past the system askTimeout, as a local ask does; without one it gets askTimeout', async () => {
  const s = system({ askTimeout: 50 })
  const sleeper = await s.spawn(Sleeper, { name: 'sleeper-null-timeout' })
  await assert.rejects(sleeper.ask(400), TimeoutError)
  assert.equal(await sleeper.ask(400, { timeout: null as unknown as number }), 'slept')
})
