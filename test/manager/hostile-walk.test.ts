import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Manager, builtinSpecs, proxyInfo } from '../../src/manager/index.ts'
import { Status, type Reply } from '../../src/manager/protocol.ts'
import { RawPeer, connectToManager } from './helpers.ts'

const cleanup: (() => Promise<unknown> | unknown)[] = []
after(async () => { for (const f of cleanup.reverse()) await f() })

function sparse(length: number): unknown[] {
  const a: unknown[] = []
  a.length = length
  return a
}

function deep(levels: number): unknown {
  let v: unknown = 0
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

const holey = [1, , 3] // eslint-disable-line no-sparse-arrays
const indexProp = Object.assign([1, 2], { 9: 9 })

/** Values no method expects, for every argument slot. */
const ZOO: unknown[] = [
  sparse(2 ** 32 - 1), sparse(1e8), holey, indexProp, 2 ** 32 - 1, -1, NaN, Infinity, 1e300, -0, 0.5, 'x', '', null, true,
  {}, [], { timeout: 'x' }, { timeout: -1 }, { timeout: NaN }, { block: 'no' }, deep(900), new Map([[{}, []]]),
  Buffer.alloc(4), 10n ** 100n, new Date(NaN), /(a+)+$/, new Error('e'), { __proto__: { polluted: true } },
]

/** Argument lists: the zoo alone, too many arguments, and each slot of each signature spoiled in turn. */
function hostileArgs(sig: readonly string[]): unknown[][] {
  const valid = sig.map((k) => (k.startsWith('count') || k.startsWith('size') || k.startsWith('index') ? 1 : k.startsWith('opts') ? { timeout: 0 } : k.startsWith('string') ? 'a' : k.startsWith('array') ? [1] : k.startsWith('entries') ? [['k', 1]] : k.startsWith('object') ? { a: 1 } : k.startsWith('number') ? 1 : 'v'))
  const out: unknown[][] = [[], [1, 2, 3, 4, 5, 6, 7], [sparse(2 ** 32 - 1), sparse(2 ** 32 - 1)], ['x', 2 ** 32 - 1], [2 ** 32 - 1, 'x']]
  for (const z of ZOO) out.push([z])
  for (let slot = 0; slot < sig.length; slot++) for (const z of ZOO) out.push(valid.map((v, i) => (i === slot ? z : v)))
  return out
}

/**
 * Send every call of `calls` (cancellable), wait until the server has handled
 * the frame, cancel whatever is parked, and return every reply: each call must
 * get one, or the test fails by timeout.
 */
async function walk(peer: RawPeer, calls: [ident: string, method: string, args: unknown[]][], firstId: number): Promise<Map<number, Reply>> {
  const replies = new Map<number, Reply>()
  const ids = calls.map((_, i) => firstId + i)
  const gather = (batch: Reply[]) => { for (const r of batch) replies.set(r[0], r) }
  // One frame per 200 calls, so no frame nears the value limit.
  for (let i = 0; i < calls.length; i += 200) {
    peer.send(calls.slice(i, i + 200).map(([ident, method, args], k) => [ids[i + k], ident, method, args, 1]))
  }
  const sentinel = firstId + calls.length
  peer.send([[sentinel, '', 'dummy', []]])
  while (!replies.has(sentinel)) gather(await peer.replies())
  const parked = ids.filter((id) => !replies.has(id))
  if (parked.length) peer.send(parked.map((id, k) => [sentinel + 1 + k, '', 'cancel', [id]]))
  while (ids.some((id) => !replies.has(id))) gather(await peer.replies(15_000))
  return replies
}

test('every method of every served type and every control method, called with holes, 2**32-1 lengths, wrong types in every slot and deep nesting: each call answered, and the server still answers and accounts for every item it held', async () => {
  const m = await new Manager({ authkey: 'k', log: false }).serve()
  cleanup.push(() => m.shutdown())
  const creators: Record<string, unknown[]> = { Barrier: [2], Value: ['i', 7], Array: ['i', [1, 2, 3]], dict: [[['a', 1], ['b', 2]]], list: [[1, 2, 3]], Namespace: [{ a: 1 }] }
  // The proxies are kept: a proxy that is collected releases its object.
  const objects: { typeid: string; ident: string; proxy: unknown }[] = []
  for (const typeid of Object.keys(builtinSpecs)) {
    const p = await m.create(typeid, ...(creators[typeid] ?? []))
    objects.push({ typeid, ident: proxyInfo(p)!.ident, proxy: p })
    if (typeid === 'Queue' || typeid === 'JoinableQueue') await (p as unknown as { putMany(x: unknown[]): Promise<void> }).putMany(Array.from({ length: 500 }, (_, i) => ({ item: i })))
  }
  const peer = await RawPeer.open(m.address, 'k')
  cleanup.push(() => peer.close())
  const calls: [string, string, unknown[]][] = []
  for (const o of objects) {
    const sigs = builtinSpecs[o.typeid]!.signatures!
    const methods = [...Object.keys(sigs), 'constructor', '__proto__', 'toString', '_push', 'releaseAll', 'restore', 'then', 'x'.repeat(300)]
    for (const method of methods) for (const args of hostileArgs(Object.hasOwn(sigs, method) ? sigs[method]! : [])) calls.push([o.ident, method, args])
  }
  for (const method of ['create', 'incref', 'decref', 'cancel', 'dummy', 'serverId', 'numberOfObjects', 'getMethods', 'typeids', 'debugInfo', 'nosuch']) {
    for (const args of [...hostileArgs(['string', 'any']), ['Queue', sparse(2 ** 32 - 1)], ['Array', 'i', 2 ** 32 - 1], ['Array', 'i', sparse(1e8)], ['list', sparse(2 ** 32 - 1)]]) calls.push(['', method, args])
  }
  const replies = await walk(peer, calls, 1)
  assert.equal(replies.size >= calls.length, true)
  // What the walk took out of and gave back to the queues, from the replies it got.
  let returned = 0
  calls.forEach(([ident, method, args], i) => {
    const r = replies.get(i + 1)!
    if (method === 'returnItems' && r[1] === Status.Return && objects.some((o) => o.ident === ident && o.typeid.endsWith('Queue'))) returned += (args[0] as unknown[]).length
  })
  const errorNames = new Set([...replies.values()].filter((r) => r[1] === Status.Error).map((r) => (r[2] as { name: string }).name))
  for (const name of ['DecodeError', 'TypeError', 'RangeError', 'UnknownMethodError', 'ProtocolError']) assert.ok(errorNames.has(name), `some call was refused with ${name}: ${[...errorNames].join(', ')}`)

  // The server answers another client, and every queued item is still there or was handed to a caller.
  const other = await connectToManager(m.address, 'k')
  cleanup.push(() => other.shutdown())
  assert.equal(typeof await other.numberOfObjects(), 'number')
  let held = 0
  let expected = 0
  for (const o of objects.filter((x) => x.typeid.endsWith('Queue'))) {
    const s = (await peer.call(900_000, o.ident, 'stats', []))[2] as { qsize: number; put: number; got: number; unfinished?: number }
    held += s.qsize
    expected += s.put - s.got
    if (s.unfinished !== undefined) assert.ok(Number.isInteger(s.unfinished) && s.unfinished >= 0, `unfinished ${s.unfinished}`)
  }
  assert.equal(held, expected + returned)
  // Every other object still works.
  for (const o of objects) {
    const probe: Record<string, [string, unknown[]]> = {
      dict: ['size', []], list: ['length', []], Namespace: ['toObject', []], Value: ['get', []], Array: ['length', []], Lock: ['locked', []],
      RLock: ['locked', []], Semaphore: ['getValue', []], BoundedSemaphore: ['getValue', []], Event: ['isSet', []], Condition: ['notifyAll', []],
      Barrier: ['parties', []], Queue: ['qsize', []], JoinableQueue: ['unfinishedTasks', []],
    }
    const [method, args] = probe[o.typeid]!
    const r = await peer.call(900_001, o.ident, method, args)
    assert.ok(r[1] === Status.Return || (o.typeid === 'Condition' && (r[2] as { name: string }).name === 'SyncStateError'), `${o.typeid}.${method}: ${JSON.stringify(r)}`)
  }
})
