import { test } from 'node:test'
import assert from 'node:assert/strict'
import { publish, spawn, subjectMatches, subscribe, subscriptionCount } from '../../src/actor/index.ts'
import { Listener, Recorder, publishFromProcess } from './fixtures.ts'
import { Process } from '../../src/process/index.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return
    await sleep(10)
  }
  assert.fail(`timed out waiting for ${what}`)
}

test('NATS wildcards: * matches one token, > matches the rest (at least one)', () => {
  const m = (p: string, s: string) => subjectMatches(p.split('.'), s.split('.'))
  assert.ok(m('evt.ping', 'evt.ping'))
  assert.ok(!m('evt.ping', 'evt.pong'))
  assert.ok(m('evt.*', 'evt.ping'))
  assert.ok(!m('evt.*', 'evt.ping.x'))
  assert.ok(!m('evt.*', 'evt'))
  assert.ok(m('evt.>', 'evt.ping'))
  assert.ok(m('evt.>', 'evt.ping.x.y'))
  assert.ok(!m('evt.>', 'evt'))
  assert.ok(m('*.ping', 'evt.ping'))
  assert.ok(m('>', 'anything.at.all'))
})

test('publish reaches local subscribers whose pattern matches, and unsubscribe stops it', async () => {
  const a = spawn(Recorder)
  const b = spawn(Recorder)
  const offA = subscribe('orders.*', a)
  subscribe('orders.>', b)
  publish('orders.new', 'n1')
  publish('orders.eu.new', 'n2')
  publish('users.new', 'u1')
  await sleep(5)
  assert.deepEqual(await a.ask({ type: 'log' }), ['n1'])
  assert.deepEqual(await b.ask({ type: 'log' }), ['n1', 'n2'])
  offA()
  publish('orders.new', 'n3')
  await sleep(5)
  assert.deepEqual(await a.ask({ type: 'log' }), ['n1'])
  await a.stop()
  await b.stop()
})

test('an actor that ends is unsubscribed', async () => {
  const before = subscriptionCount()
  const a = spawn(Recorder)
  subscribe('x.y', a)
  assert.equal(subscriptionCount(), before + 1)
  await a.stop()
  assert.equal(subscriptionCount(), before)
})

test('bad subjects and patterns are refused with a clear error', () => {
  assert.throws(() => publish('evt.*', 1), /wildcards belong in subscription patterns/)
  assert.throws(() => publish('evt..x', 1), /empty token/)
  const r = spawn(Recorder)
  assert.throws(() => subscribe('evt.>.x', r), /'>' must be the last token/)
  void r.stop()
})

test('subscriptions made inside thread and process actors reach publishers in every place', async () => {
  const inThread = spawn(Listener, { on: 'thread', args: ['evt.*'] })
  const inProcess = spawn(Listener, { on: 'process', args: ['evt.>'] })
  try {
    // Both subscribed from their onStart; wait until the root has both.
    await inThread.ask({ type: 'seen' }, { timeout: 10_000 })
    await inProcess.ask({ type: 'seen' }, { timeout: 10_000 })
    await until(() => subscriptionCount() >= 2, 'both subscriptions')
    publish('evt.a', 'from main')
    // The thread actor publishes: its frame goes to the root and fans out to both.
    await inThread.ask({ type: 'publish', subject: 'evt.b.c', body: 'from thread' })
    await inProcess.ask({ type: 'publish', subject: 'evt.d', body: 'from process' })
    await until(async () => ((await inProcess.ask({ type: 'seen' })) as unknown[]).length === 3, 'the process listener to see 3 messages')
    await until(async () => ((await inThread.ask({ type: 'seen' })) as unknown[]).length === 2, 'the thread listener to see 2 messages')
    assert.deepEqual(await inThread.ask({ type: 'seen' }), ['from main', 'from process'])
    assert.deepEqual(await inProcess.ask({ type: 'seen' }), ['from main', 'from thread', 'from process'])
  } finally {
    await inThread.stop()
    await inProcess.stop()
  }
})

test('a plain Process target handed a ref can publish to subjects too', async () => {
  const rec = spawn(Recorder)
  subscribe('proc.*', rec)
  const p = new Process({ target: publishFromProcess, args: [rec as any, 'proc.hello', 'from a Process'], kind: 'process' })
  try {
    await p.start()
    await p.join({ timeout: 20_000 })
    await until(async () => ((await rec.ask({ type: 'log' })) as string[]).length === 1, 'the published message')
    assert.deepEqual(await rec.ask({ type: 'log' }), ['from a Process'])
  } finally {
    await rec.stop()
  }
})

test('subscribed from the spawning side, a process actor gets what is published before its host has started', async () => {
  const rec = spawn(Recorder, { on: 'process' })
  try {
    subscribe('early.ping', rec)
    for (let i = 0; i < 3; i++) publish('early.ping', `ping ${i}`)
    assert.deepEqual(await rec.ask({ type: 'log' }, { timeout: 20_000 }), ['ping 0', 'ping 1', 'ping 2'])
  } finally {
    await rec.stop()
  }
})
