/**
 * Fuzz a live manager through its request path: structure-aware mutations of
 * real troupe request frames (v8 and JSON: holes, huge lengths, deep nesting,
 * wrong types in every slot, unknown idents and methods, frames at and past
 * the value limit, truncated and garbage bytes), some Python-dialect pickles,
 * and transport abuse (slow senders, bad headers, bad handshakes), against a
 * manager in its own process that holds queued items. Every input must be
 * answered (replies, or a refusal and a closed connection); afterwards the
 * manager must still answer and account for every item it held. The target
 * reports its longest event-loop stall.
 *
 *   node --import tsx scripts/fuzz-v8.ts [inputs=1000000] [seed] [connections=4]
 *   node --import tsx scripts/fuzz-v8.ts --check [payloads=1000000] [seed]   (the checker alone, in process)
 */
import { fork, type ChildProcess } from 'node:child_process'
import { connect as netConnect } from 'node:net'
import { serialize, deserialize } from 'node:v8'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Manager, SharedQueue, SharedJoinableQueue, builtinSpecs, proxyInfo } from '../src/manager/index.ts'
import { connectTo, frameHeader, FrameConnection } from '../src/net/index.ts'
import { decodeReplies, encodeBatch, Status, type Reply } from '../src/manager/protocol.ts'
import { encodePickle, decodePickle, tuple, checkV8, checkJson, V8_DEFAULT_LIMITS } from '../src/codec/index.ts'
import { mutate as mutateBytes, rng } from './fuzz-pickle.ts'

const AUTHKEY = 'fuzz'
const HELD_ITEMS = 1000
const SENTINEL = 0x7fffffff

/** What a run saw. */
export interface FuzzV8Report {
  inputs: number
  /** Inputs by kind (v8, json, python, slow, header, handshake). */
  kinds: Record<string, number>
  /** Replies to fuzz requests that were values, errors (request refused or failed), or a refusal of the whole frame. */
  replies: { values: number; errors: number; frameRefusals: number }
  reconnects: number
  /** Inputs the server neither answered nor closed the connection on within the timeout. */
  unanswered: string[]
  /** Inputs the driver itself failed to build or send (its own bugs, not the server's). */
  driverErrors: string[]
  serverCrashed: string | undefined
  pings: { sent: number; answered: number }
  /**
   * The target's event loop: longest delay and 99.9th percentile (ms), the worst moments with the inputs
   * in flight then, and the longest any chunk of socket bytes held the loop (with its first bytes).
   */
  stall: { maxMs: number; p999Ms: number; worst: { ms: number; inputs: string[] }[]; maxChunkMs: number; slowestChunks: ChunkCost[]; maxChunkCpuMs: number; busiestChunks: ChunkCost[] }
  held: { ident: string; qsize: number; expected: number }[]
  lostItems: number
  /** A fresh client could create, put and get afterwards. */
  aliveAfter: boolean
  rssMiB: number
}

/** Options of a run. */
export interface FuzzV8Options {
  inputs: number
  seed?: number
  /** Concurrent fuzzing connections (default 4). */
  connections?: number
  /** Where progress lines go (default: nowhere). */
  progress?: (line: string) => void
}

// ---------------------------------------------------------------- the target: a manager in its own process

class HeldQueue<T> extends SharedQueue<T> {
  returned = 0
  override returnItems(items: T[]): void { this.returned += items.length; super.returnItems(items) }
}
class HeldJoinableQueue<T> extends SharedJoinableQueue<T> {
  returned = 0
  override returnItems(items: T[]): void { this.returned += items.length; super.returnItems(items) }
}

/** What one chunk of socket bytes cost the target: wall time, CPU time (all its threads), its first bytes. */
export interface ChunkCost { ms: number; cpuMs: number; head: string }

/** Keep the ten worst chunks by `key`. */
function keepWorst(list: ChunkCost[], c: ChunkCost, key: 'ms' | 'cpuMs'): void {
  if (list.length >= 10 && c[key] <= list[list.length - 1]![key]) return
  list.push(c)
  list.sort((a, b) => b[key] - a[key])
  list.length = Math.min(list.length, 10)
}

async function runTarget(): Promise<void> {
  // Whatever becomes of the driver, the target goes with it.
  process.on('disconnect', () => process.exit(0))
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  // The time each chunk of socket bytes holds the loop (framing, checks, decoding, the calls, the replies):
  // wall time, so on a busy machine it includes time the OS gave to other processes.
  // CPU time (this process's, all threads) beside it tells work from waiting for a core.
  const slowest: ChunkCost[] = []
  // The same, ranked by CPU time: what the decoders themselves cost, whatever the machine's load.
  const busiest: ChunkCost[] = []
  const proto = FrameConnection.prototype as unknown as { onData(chunk: Buffer): void }
  const onData = proto.onData
  proto.onData = function (this: unknown, chunk: Buffer) {
    const t0 = performance.now()
    const c0 = process.cpuUsage()
    onData.call(this, chunk)
    const ms = performance.now() - t0
    const c = process.cpuUsage(c0)
    const cpuMs = (c.user + c.system) / 1000
    keepWorst(slowest, { ms, cpuMs, head: chunk.subarray(0, 48).toString('hex') }, 'ms')
    keepWorst(busiest, { ms, cpuMs, head: chunk.subarray(0, 48).toString('hex') }, 'cpuMs')
  }
  // The worst moments, to line up with the inputs that were in flight then.
  const worst: { at: number; ms: number }[] = []
  let last = performance.now()
  setInterval(() => {
    const now = performance.now()
    const late = now - last - 5
    last = now
    if (late > 20) { worst.push({ at: Date.now(), ms: late }); worst.sort((a, b) => b.ms - a.ms); worst.length = Math.min(worst.length, 10) }
  }, 5)
  const held = [new HeldQueue<unknown>(), new HeldJoinableQueue<unknown>(), new HeldQueue<unknown>(HELD_ITEMS * 4)]
  for (const q of held) q.putMany(Array.from({ length: HELD_ITEMS }, (_, i) => (i % 3 === 0 ? i : i % 3 === 1 ? `item ${i}` : { i, tags: ['a', 'b'] })))
  const m = new Manager({ authkey: AUTHKEY, log: false }).register('Held', (i: number) => held[i], {
    signatures: builtinSpecs.JoinableQueue!.signatures, createSignature: ['count'],
  })
  await m.serve()
  const idents: string[] = []
  for (let i = 0; i < held.length; i++) idents.push(proxyInfo(await m.create('Held', i))!.ident)
  process.on('message', (msg: { t: string }) => {
    if (msg.t === 'reset') { delay.reset(); worst.length = 0; slowest.length = 0; busiest.length = 0; process.send!({ t: 'reset' }); return }
    if (msg.t !== 'report') return
    process.send!({
      t: 'report',
      maxMs: delay.max / 1e6, p999Ms: delay.percentile(99.9) / 1e6, worst, slowest, busiest,
      held: held.map((q, i) => ({ ident: idents[i]!, qsize: q.qsize(), expected: q.stats().put - q.stats().got + q.returned })),
      rssMiB: process.memoryUsage().rss / 1048576,
    })
  })
  // Measure from here: starting up (loading modules) is no stall of the server's.
  delay.reset()
  worst.length = 0
  slowest.length = 0
  busiest.length = 0
  process.send!({ t: 'ready', address: m.address, held: idents })
}

/** A manager in a child process that holds queued items and measures its event loop (see runTarget). */
export interface Target { child: ChildProcess; address: string; held: string[]; exited: Promise<string> }

/** Start a target manager process and wait until it listens. */
export async function startTarget(): Promise<Target> {
  const child = fork(fileURLToPath(import.meta.url), ['--target'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(`target exited (code ${code}, signal ${signal}); stderr: ${stderr.trim().slice(-1500)}`)))
  const ready = await Promise.race([
    new Promise<{ address: string; held: string[] }>((resolve) => child.on('message', (m: { t: string; address: string; held: string[] }) => { if (m.t === 'ready') resolve(m) })),
    exited.then((why) => { throw new Error(why) }),
  ])
  return { child, address: ready.address, held: ready.held, exited }
}

/** The target's measurements since it started (or since `resetTarget`), and its held queues. */
export function askReport(t: Target): Promise<{ maxMs: number; p999Ms: number; worst: { at: number; ms: number }[]; slowest: ChunkCost[]; busiest: ChunkCost[]; held: FuzzV8Report['held']; rssMiB: number }> {
  return new Promise((resolve) => {
    const on = (m: { t: string }) => { if (m.t === 'report') { t.child.off('message', on); resolve(m as never) } }
    t.child.on('message', on)
    t.child.send({ t: 'report' })
  })
}

function rounded(c: ChunkCost): ChunkCost {
  return { ms: Math.round(c.ms * 10) / 10, cpuMs: Math.round(c.cpuMs * 10) / 10, head: c.head }
}

/** Start the target's measurements afresh. */
export function resetTarget(t: Target): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: { t: string }) => { if (m.t === 'reset') { t.child.off('message', on); resolve() } }
    t.child.on('message', on)
    t.child.send({ t: 'reset' })
  })
}

/** The authkey of target processes. */
export const TARGET_AUTHKEY = AUTHKEY

// ---------------------------------------------------------------- the worst frames the limits allow


const V8_CASES: [string, (count: number) => unknown][] = [
  ['small ints', (k) => Array.from({ length: k }, (_, i) => i & 0xff)],
  ['doubles', (k) => Array.from({ length: k }, (_, i) => i + 0.5)],
  ['short strings', (k) => Array.from({ length: k }, (_, i) => `s${i}`)],
  ['empty arrays', (k) => Array.from({ length: k }, () => [])],
  ['empty objects', (k) => Array.from({ length: k }, () => ({}))],
  ['objects {a, b}', (k) => Array.from({ length: k }, (_, i) => ({ a: i, b: 'x' }))],
  ['one object, many keys', (k) => Object.fromEntries(Array.from({ length: k }, (_, i) => [`k${i}`, 0]))],
  ['Map entries', (k) => new Map(Array.from({ length: k }, (_, i) => [i, i]))],
  ['Set entries', (k) => new Set(Array.from({ length: k }, (_, i) => i))],
  ['Buffers', (k) => Array.from({ length: k }, () => Buffer.alloc(1))],
  ['Dates', (k) => Array.from({ length: k }, (_, i) => new Date(i))],
  ['Errors', (k) => Array.from({ length: k }, () => Object.assign(new Error('e'), { stack: 'e' }))],
  ['RegExps', (k) => Array.from({ length: k }, () => /ab+c/g)],
  ['BigInts', (k) => Array.from({ length: k }, (_, i) => BigInt(i) ** 3n)],
  ['one long string', (k) => 'x'.repeat(k)],
  ['one Buffer, 60 MiB', () => Buffer.alloc(60 << 20, 1)],
]

const JSON_CASES: [string, (count: number) => unknown][] = [
  ['JSON numbers', (k) => Array.from({ length: k }, (_, i) => i)],
  ['JSON empty arrays', (k) => Array.from({ length: k }, () => [])],
  ['JSON objects {a}', (k) => Array.from({ length: k }, (_, i) => ({ a: i }))],
]

const PICKLE_CASES: [string, (count: number) => unknown][] = [
  ['pickle ints', (k) => Array.from({ length: k }, (_, i) => i)],
  ['pickle strings', (k) => Array.from({ length: k }, (_, i) => `s${i}`)],
  ['pickle tuples', (k) => Array.from({ length: k }, (_, i) => tuple(i, i))],
  ['pickle dict', (k) => new Map(Array.from({ length: k }, (_, i) => [i, i]))],
]

/**
 * The biggest frame of this kind within the limit: how much one item weighs
 * is read off a small sample (checkV8's own count, checkJson's, or the
 * pickle decoder's), then the count scaled to `target` weighted values.
 */
function fit(encode: (v: unknown) => Buffer, make: (count: number) => unknown, weigh: (b: Buffer) => number, target: number): Buffer {
  const sample = 1000
  const per = (weigh(encode(make(sample))) - weigh(encode(make(0)))) / sample
  return encode(make(Math.max(1, Math.floor(target / Math.max(per, 1e-9)))))
}

// A JSON batch as the protocol writes small ones (0xFF 0x01 + text), whatever its size: a peer may send any.
function jsonBatch(batch: unknown): Buffer {
  return jsonFrame(JSON.stringify(batch))
}

const unlimited = { maxValues: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }
function pickleValues(b: Buffer): number {
  // The decoder throws past maxValues; find the count by bisecting the limit.
  let lo = 0
  let hi = 1 << 26
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    try { decodePickle(b, { maxValues: mid }); hi = mid } catch { lo = mid + 1 }
  }
  return lo
}

/** One frame of `worstFrames`. */
export interface WorstFrame { label: string; dialect: 'troupe' | 'python'; bytes: Buffer }

/**
 * For each kind of value that is dear to decode, a request frame holding
 * `scale` times the default per-frame value limit (0.95: the biggest that is
 * let through), a `put` addressed to `ident` (default: no object, so the
 * server decodes it and answers UnknownMethodError, keeping nothing).
 */
export function worstFrames(scale = 0.95, ident = 'no-such-object'): WorstFrame[] {
  const target = V8_DEFAULT_LIMITS.maxValues * scale
  const put = (v: unknown) => [[1, ident, 'put', [v]]]
  const out: WorstFrame[] = []
  for (const [label, make] of V8_CASES) {
    const bytes = label.includes('Buffer, 60') ? serialize(put(make(0))) : fit((v) => serialize(put(v)), make, (b) => checkV8(b, unlimited).values, target)
    out.push({ label, dialect: 'troupe', bytes })
  }
  for (const [label, make] of JSON_CASES) out.push({ label, dialect: 'troupe', bytes: fit((v) => jsonBatch(put(v)), make, (b) => checkJson(b, 2, unlimited), target) })
  for (const [label, make] of PICKLE_CASES) out.push({ label, dialect: 'python', bytes: fit((v) => encodePickle(tuple(ident, 'put', tuple(v), new Map())), make, pickleValues, target) })
  return out
}

// ---------------------------------------------------------------- values and requests

type R = () => number

function pick<T>(r: R, xs: readonly T[]): T { return xs[Math.floor(r() * xs.length)]! }
function int(r: R, n: number): number { return Math.floor(r() * n) }

function sparse(length: number): unknown[] {
  const a: unknown[] = []
  a.length = length
  return a
}

const LENGTHS = [2, 100, 65_536, 1e8, 2 ** 31, 2 ** 32 - 1]

/** A value a user might put (valid). */
function plain(r: R): unknown {
  switch (int(r, 8)) {
    case 0: return int(r, 1000)
    case 1: return `s${int(r, 100)}`
    case 2: return { id: int(r, 100), name: 'n', tags: ['a', 'b'] }
    case 3: return [1, 'two', { three: 3 }]
    case 4: return r() * 100
    case 5: return null
    case 6: return new Map([['k', int(r, 9)]])
    default: return Buffer.from('bytes')
  }
}

/** Something no method expects in this slot. */
function zoo(r: R): unknown {
  const holey = [1, , 3] // eslint-disable-line no-sparse-arrays
  const indexProp: unknown[] = [1, 2]
  ;(indexProp as unknown as Record<string, number>)['9'] = 9
  const xs: (() => unknown)[] = [
    () => null, () => undefined, () => NaN, () => -0, () => Infinity, () => -1, () => 2 ** 31, () => 2 ** 32 - 1, () => 2 ** 53,
    () => 1e300, () => 0.5, () => '', () => 'x'.repeat(int(r, 4096)), () => true, () => [], () => ({}), () => [[[[1]]]],
    () => new Map([[{}, []]]), () => new Set([1, 'a']), () => Buffer.alloc(int(r, 64)), () => new Float64Array(3), () => new Date(NaN),
    () => /(a+)+$/g, () => new Error('e'), () => 10n ** BigInt(int(r, 200)), () => -5n, () => Object(1), () => Object('s'),
    () => ({ timeout: 'x' }), () => ({ timeout: -1 }), () => ({ timeout: NaN }), () => ({ timeout: 1e12 }), () => ({ block: 'no' }),
    () => ({ block: false, timeout: 0, extra: [1] }), () => sparse(pick(r, LENGTHS)), () => holey, () => indexProp,
    () => ({ __proto__: { polluted: 1 } }), () => ({ constructor: 'x', toString: 1 }), () => 'constructor', () => '__proto__',
  ]
  return pick(r, xs)()
}

/** A valid argument of a kind from builtins.ts signatures; blocking options never wait long. */
function ofKind(r: R, kind: string): unknown {
  const k = pick(r, kind.replace('?', '').split('|'))
  switch (k) {
    case 'count': case 'size': return int(r, 5)
    case 'index': return int(r, 7) - 3
    case 'number': return r() * 10
    case 'string': return pick(r, ['a', 'b', 'key'])
    case 'bool': return r() < 0.5
    case 'array': return Array.from({ length: int(r, 5) }, () => plain(r))
    case 'object': return { a: plain(r) }
    case 'entries': return [['k', plain(r)]]
    case 'opts': return pick(r, [{ timeout: 0 }, { block: false }, { timeout: 1 }])
    default: return plain(r)
  }
}

const CONTROL = ['create', 'incref', 'decref', 'cancel', 'dummy', 'serverId', 'numberOfObjects', 'getMethods', 'typeids', 'debugInfo']
// ('shutdown' is left out: any authenticated client may stop a manager, as with CPython's.)
const ODD_METHODS = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'then', '_push', 'releaseAll', 'restore', '', 'x'.repeat(300)]

interface Scratch { typeid: string; ident: string }

/** One request against a scratch or held object, valid by its signature (before mutation). */
function request(r: R, objects: Scratch[], id: number): unknown[] {
  if (r() < 0.08) {
    const method = pick(r, CONTROL)
    const args = method === 'create' ? [pick(r, Object.keys(builtinSpecs))] : method === 'cancel' ? [id - 1] : method === 'getMethods' ? [pick(r, objects).ident] : []
    return [id, '', method, args]
  }
  const o = pick(r, objects)
  const sigs = builtinSpecs[o.typeid]?.signatures ?? builtinSpecs.JoinableQueue!.signatures!
  const method = pick(r, Object.keys(sigs!))
  const sig = sigs![method]!
  const n = sig.filter((k) => !k.endsWith('?')).length + int(r, sig.length - sig.filter((k) => !k.endsWith('?')).length + 1)
  return [id, o.ident, method, sig.slice(0, n).map((k) => ofKind(r, k))]
}

/** Wrap `v` in `depth` containers of one kind (structurally; kept under V8's own recursion limit). */
function nest(r: R, v: unknown, depth: number): unknown {
  const kind = int(r, 4)
  for (let i = 0; i < depth; i++) v = kind === 0 ? [v] : kind === 1 ? { a: v } : kind === 2 ? new Map([[1, v]]) : new Set([v])
  return v
}

// Serialized nesting deeper than v8.serialize can write: the value 0 inside `depth` arrays or objects.
function deepBytes(r: R, depth: number): Buffer {
  const obj = r() < 0.5
  const open = obj ? [0x6f, 0x22, 0x01, 0x61] : [0x41, 0x01]
  const close = obj ? [0x7b, 0x01] : [0x24, 0x00, 0x01]
  const out = Buffer.alloc(depth * (open.length + close.length) + 2)
  let p = 0
  for (let i = 0; i < depth; i++) for (const b of open) out[p++] = b
  out[p++] = 0x49; out[p++] = 0x00
  for (let i = 0; i < depth; i++) for (const b of close) out[p++] = b
  return out
}

/** A value at or past the per-frame value limit, of a kind that costs the decoder most. */
function heavy(r: R, scale: number): unknown {
  const n = (w: number) => Math.max(1, Math.floor((1_000_000 * scale) / w))
  switch (int(r, 7)) {
    case 0: return new Map(Array.from({ length: n(16) }, (_, i) => [i, i]))
    case 1: return Object.fromEntries(Array.from({ length: n(40) }, (_, i) => [`k${i}`, 0]))
    case 2: return Array.from({ length: n(13) }, () => ({}))
    case 3: return Array.from({ length: n(30) }, (_, i) => new Date(i))
    case 4: return Array.from({ length: n(32) }, () => Buffer.alloc(1))
    case 5: return Array.from({ length: n(25) }, () => new Error('e'))
    default: return 'x'.repeat(n(1) * 16)
  }
}

function varint(n: number): number[] {
  const out: number[] = []
  do { out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0)); n = Math.floor(n / 128) } while (n > 0)
  return out
}

// Replace the length after a random length-bearing tag with a lie.
function lieAboutLength(r: R, b: Buffer): Buffer {
  const spots: number[] = []
  for (let i = 2; i < b.length - 1; i++) if ([0x41, 0x61, 0x22, 0x63, 0x53, 0x42, 0x5a].includes(b[i]!)) spots.push(i)
  if (!spots.length) return b
  const at = pick(r, spots) + 1
  let end = at
  while (end < b.length && b[end]! >= 0x80) end++
  return Buffer.concat([b.subarray(0, at), Buffer.from(varint(pick(r, [...LENGTHS, b.length - at, b.length]))), b.subarray(end + 1)])
}

/** JSON text as a troupe frame (0xFF 0x01 + the text's bytes). */
function jsonFrame(text: string): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0x01]), Buffer.from(text, 'latin1')])
}

/** One troupe-dialect fuzz frame and its label (for the report). */
function fuzzFrame(r: R, objects: Scratch[], ids: { next: number }, corpus: Buffer[]): { bytes: Buffer; label: string; json: boolean } {
  const reqs: unknown[][] = Array.from({ length: 1 + (r() < 0.1 ? int(r, 40) : int(r, 3)) }, () => request(r, objects, ids.next++))
  const target = pick(r, reqs)
  const labels: string[] = []
  const edits = int(r, 3)
  let spliceDeep = 0
  for (let e = 0; e < edits; e++) {
    const what = int(r, 100)
    const args = target[3] as unknown[]
    if (what < 25) { const slot = int(r, 6); labels.push(`wrong slot ${slot}`); if (slot < 4) target[slot] = zoo(r); else if (slot === 4) target[4] = zoo(r); else target.push(zoo(r)) }
    else if (what < 45) { labels.push('wrong arg'); if (Array.isArray(args)) args[int(r, args.length + 2)] = zoo(r) }
    else if (what < 55) { labels.push('sparse'); if (Array.isArray(args)) args[int(r, args.length + 1)] = nest(r, sparse(pick(r, LENGTHS)), int(r, 3)) }
    else if (what < 62) { labels.push('nested'); if (Array.isArray(args)) args[0] = nest(r, plain(r), pick(r, [10, 200, 990, 1200])) }
    else if (what < 66) { labels.push('deep bytes'); spliceDeep = pick(r, [999, 1001, 5000, 100_000]) }
    else if (what < 72) { labels.push('unknown ident'); target[1] = pick(r, ['zz', '0', '-1', 'ffffffffffff', 'x'.repeat(100), objects[0]!.ident + '0']) }
    else if (what < 78) { labels.push('odd method'); target[2] = pick(r, ODD_METHODS) }
    else if (what < 82) { labels.push('many args'); if (Array.isArray(args)) for (let i = 0; i < 1 + int(r, 8); i++) args.push(plain(r)) }
    else if (what < 86) { labels.push('shared'); const s = Array.from({ length: 1000 }, (_, i) => i); if (Array.isArray(args)) args[0] = Array.from({ length: pick(r, [10, 500, 2000]) }, () => s) }
    else if (what < 88) {
      // Rare: building one costs the fuzzer itself tens of milliseconds.
      if (r() < 0.15) { labels.push('heavy'); if (Array.isArray(args)) args[0] = heavy(r, pick(r, [0.5, 0.9, 1.1, 3])) }
    }
    else if (what < 92) { labels.push('bad batch'); reqs.push(zoo(r) as unknown[]) }
    else { labels.push('fields'); target.length = int(r, 7) }
  }
  const asJson = r() < 0.15
  let bytes: Buffer
  try {
    bytes = asJson ? encodeBatch(reqs) : serialize(reqs)
  } catch {
    bytes = serialize([[ids.next++, '', 'dummy', []]])
  }
  if (spliceDeep) {
    // Put the deep value where the last request's args end: [..., [..., <deep>]] becomes one more arg.
    bytes = serialize([[ids.next++, objects[0]!.ident, 'put', [0]]])
    const zero = bytes.lastIndexOf(0x49)
    bytes = Buffer.concat([bytes.subarray(0, zero), deepBytes(r, spliceDeep), bytes.subarray(zero + 2)])
  }
  // (Byte edits copy the frame into an array: not for the few huge ones.)
  const tail = bytes.length > 1 << 20 ? 100 : int(r, 100)
  if (tail < 12) { labels.push('bytes'); bytes = mutateBytes(bytes, r, corpus.length ? corpus : [bytes]) }
  else if (tail < 18) { labels.push('length lie'); bytes = lieAboutLength(r, bytes) }
  else if (tail < 21) { labels.push('truncated'); bytes = bytes.subarray(0, int(r, bytes.length)) }
  else if (tail < 25) {
    labels.push('json text')
    bytes = jsonFrame(pick(r, [
      `[[${ids.next++},"${objects[0]!.ident}","put",[${'['.repeat(2000)}${']'.repeat(2000)}]]]`,
      `[[${ids.next++},"${objects[0]!.ident}","put",[${'9'.repeat(100_000)}]]]`,
      `[[${ids.next++},"${objects[0]!.ident}","putMany",[[${'0,'.repeat(200_000)}0]]]]`,
      `[[${ids.next++},"${objects[0]!.ident}","put",["${'\\\\'.repeat(1000)}\\"]]]`,
      `[[${ids.next++},"${objects[0]!.ident}","put",["\xff\xfe"]]]`,
      `[[1,"a"`, `{}`, `[]`, `"x"`, `[[${2 ** 53},"","dummy",[]]]`,
    ]))
  }
  corpus.push(bytes.subarray(0, 64))
  if (corpus.length > 64) corpus.shift()
  return { bytes, label: `${asJson ? 'json' : 'v8'}: ${labels.join(', ') || 'valid'}`, json: asJson }
}

// ---------------------------------------------------------------- the checker alone, in process

/** What `fuzzCheck` saw. */
export interface CheckFuzzReport { runs: number; accepted: number; itemsRefused: number; framesRefused: number; failures: string[] }

// Walk a decoded value as a server might: no holes, no deeper than the limit, no bigger (as a tree) than the limit.
function verifyDecoded(v: unknown, maxDepth: number, maxValues: number): string | undefined {
  const memo = new Map<object, number>()
  const path = new Set<object>()
  const walk = (x: unknown, depth: number): number => {
    if (x === null || typeof x !== 'object') return 1
    if (path.has(x)) return 1
    const known = memo.get(x)
    if (known !== undefined) return known
    if (depth > maxDepth + 1) throw new Error(`deeper than ${maxDepth}`)
    path.add(x)
    let n = 1
    if (Array.isArray(x)) {
      if (x.length > maxValues) throw new Error(`an array of length ${x.length}`)
      for (let i = 0; i < x.length; i++) { if (!(i in x)) throw new Error(`a hole at ${i} of ${x.length}`); n += walk(x[i], depth + 1) }
    } else if (x instanceof Map) for (const [k, y] of x) n += walk(k, depth + 1) + walk(y, depth + 1)
    else if (x instanceof Set) for (const y of x) n += walk(y, depth + 1)
    else if (!ArrayBuffer.isView(x) && !(x instanceof ArrayBuffer)) for (const k of Object.keys(x)) n += walk((x as Record<string, unknown>)[k], depth + 1)
    path.delete(x)
    memo.set(x, n)
    if (n > maxValues * 2) throw new Error(`a tree of ${n} values`)
    return n
  }
  try { walk(v, 0); return undefined } catch (err) { return (err as Error).message }
}

/**
 * The checker's promise, tested in process: for random and mutated V8
 * payloads (batches whose items share objects, holes, sparse forms, lies
 * about lengths), every item `checkV8` does not refuse decodes to a value
 * without holes, within the depth and size limits; the checker itself only
 * ever throws DecodeError.
 */
export function fuzzCheck(iterations: number, seed = 0x5eed): CheckFuzzReport {
  const r = rng(seed)
  const report: CheckFuzzReport = { runs: 0, accepted: 0, itemsRefused: 0, framesRefused: 0, failures: [] }
  const limits = { maxDepth: 50, maxValues: 20_000 }
  const corpus: Buffer[] = []
  for (let i = 0; i < iterations; i++) {
    const shared = pick(r, [sparse(pick(r, LENGTHS)), [1, , 3], { a: [1, 2] }, new Map([[1, sparse(5)]]), Array.from({ length: 300 }, (_, k) => k)]) // eslint-disable-line no-sparse-arrays
    const items = Array.from({ length: 1 + int(r, 5) }, () => {
      const k = int(r, 6)
      return k === 0 ? shared : k === 1 ? [shared, plain(r)] : k === 2 ? nest(r, plain(r), int(r, 60)) : k === 3 ? zoo(r) : k === 4 ? { s: shared } : plain(r)
    })
    if (r() < 0.2) {
      // The JSON path: whatever checkJson lets through parses within the same limits.
      let text: string
      // (A sparse array stringifies to one null per slot: those are left to the v8 path.)
      const small = items.map((x) => (Array.isArray(x) && x.length > 1000 ? 0 : x))
      try { text = JSON.stringify(small.map((x) => (r() < 0.3 ? nest(r, [x], int(r, 70)) : x)), (_k, v) => (typeof v === 'bigint' ? 1 : Array.isArray(v) && v.length > 1000 ? 0 : v)) ?? 'null' } catch { continue }
      const json = Buffer.concat([Buffer.from([0xff, 0x01]), mutateBytes(Buffer.from(text), r, corpus.length ? corpus : [Buffer.from(text)])])
      report.runs++
      try { checkJson(json, 2, limits) } catch (err) {
        if ((err as Error).name === 'DecodeError') report.framesRefused++
        else report.failures.push(`checkJson threw ${(err as Error).stack}`)
        continue
      }
      let parsed: unknown
      try { parsed = JSON.parse(json.toString('utf8', 2)) } catch { continue }
      report.accepted++
      const why = verifyDecoded(parsed, limits.maxDepth, limits.maxValues)
      if (why && report.failures.length < 20) report.failures.push(`JSON passed the check but holds ${why}: ${json.subarray(0, 300).toString()}`)
      continue
    }
    let bytes: Buffer
    try { bytes = serialize(r() < 0.3 ? items.flatMap((x) => [x]) : items) } catch { continue }
    const m = int(r, 10)
    if (m < 3) bytes = mutateBytes(bytes, r, corpus.length ? corpus : [bytes])
    else if (m < 5) bytes = lieAboutLength(r, bytes)
    corpus.push(bytes.subarray(0, 48))
    if (corpus.length > 32) corpus.shift()
    report.runs++
    let refused: number[]
    try {
      refused = checkV8(bytes, limits).refused.map((x) => x.index)
    } catch (err) {
      if ((err as Error).name === 'DecodeError') report.framesRefused++
      else report.failures.push(`checker threw ${(err as Error).stack}: ${bytes.toString('hex')}`)
      continue
    }
    let value: unknown
    try { value = deserialize(bytes) } catch { continue }
    report.accepted++
    report.itemsRefused += refused.length
    const list = Array.isArray(value) ? value : [value]
    for (let k = 0; k < list.length; k++) {
      if (refused.includes(k)) continue
      const why = verifyDecoded(list[k], limits.maxDepth, limits.maxValues)
      if (why && report.failures.length < 20) report.failures.push(`item ${k} passed the check but holds ${why}: ${bytes.toString('hex').slice(0, 400)}`)
    }
  }
  return report
}

// ---------------------------------------------------------------- the driver

interface Peer { conn: FrameConnection; waiting: ((r: 'answered' | 'closed') => void) | undefined }

// A fuzzing connection: only the handshake (the objects it aims at are created once, by `scratchObjects`).
async function openPeer(address: string, replies: FuzzV8Report['replies']): Promise<Peer> {
  const conn = await connectTo(address, { authkey: AUTHKEY, handshakeTimeout: 60_000 })
  const peer: Peer = { conn, waiting: undefined }
  conn.onFrame((f) => {
    let batch: Reply[]
    try { batch = decodeReplies(f) } catch { conn.close(); return }
    for (const [id, status] of batch) {
      if (id === SENTINEL) { const w = peer.waiting; peer.waiting = undefined; w?.('answered') }
      else if (id === 0) replies.frameRefusals++
      else if (status === Status.Error) replies.errors++
      else replies.values++
    }
  })
  conn.onClose(() => { const w = peer.waiting; peer.waiting = undefined; w?.('closed') })
  return peer
}

// One object of every built-in type, held by a connection that stays open for the whole run.
async function scratchObjects(address: string): Promise<{ conn: FrameConnection; objects: Scratch[] }> {
  const conn = await connectTo(address, { authkey: AUTHKEY, handshakeTimeout: 60_000 })
  const typeids = Object.keys(builtinSpecs)
  const args: Record<string, unknown[]> = { Barrier: [2, 50], Value: ['i', 1], Array: ['i', [1, 2, 3]] }
  conn.send(serialize(typeids.map((t, i) => [i + 1, '', 'create', [t, ...(args[t] ?? [])]])))
  const objects: Scratch[] = []
  while (objects.length < typeids.length) {
    for (const [id, status, value] of decodeReplies(await conn.readFrame({ timeoutMs: 30_000 }))) {
      if (status !== Status.Proxy) throw new Error(`could not create ${typeids[id - 1]}: ${JSON.stringify(value)}`)
      objects.push({ typeid: typeids[id - 1]!, ident: (value as { ident: string }).ident })
    }
  }
  return { conn, objects }
}

function answered(peer: Peer, timeoutMs: number): Promise<'answered' | 'closed' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { peer.waiting = undefined; resolve('timeout') }, timeoutMs)
    peer.waiting = (how) => { clearTimeout(timer); resolve(how) }
    if (!peer.conn.isOpen) { clearTimeout(timer); peer.waiting = undefined; resolve('closed') }
  })
}

const SENTINEL_FRAME = serialize([[SENTINEL, '', 'dummy', []]])

// A Python-dialect proxy connection: accept_connection, then mutated requests, one reply each.
async function pythonInput(r: R, address: string, idents: string[], timeoutMs: number): Promise<string> {
  const conn = await connectTo(address, { authkey: AUTHKEY, handshakeTimeout: 60_000 })
  try {
    conn.send(encodePickle(tuple(null, 'accept_connection', tuple('fuzz'), new Map())))
    await conn.readFrame({ timeoutMs })
    const seeds = [
      encodePickle(tuple(pick(r, idents), 'put', tuple(plain(r) ?? 1), new Map()), { protocol: pick(r, [2, 4, 5] as const) }),
      encodePickle(tuple(pick(r, idents), 'get', tuple(), new Map([['timeout', 0.001]]))),
      encodePickle(tuple(pick(r, idents), 'qsize', tuple(), new Map()), { protocol: 2 }),
      Buffer.concat([Buffer.from(`(V${pick(r, idents)}\nVput\n(I${'9'.repeat(pick(r, [10, 4300, 4301, 200_000]))}\nt(dt.`, 'latin1')]),
      Buffer.from(`(V${pick(r, idents)}\nVput\n(${'(l'.repeat(pick(r, [500, 1001, 50_000]))}t(dt.`, 'latin1'),
      Buffer.concat([Buffer.from([0x80, 4, 0x28]), Buffer.from('X\x01\x00\x00\x00' + pick(r, idents).slice(0, 1), 'latin1'), Buffer.from([0x8c, 3, ...Buffer.from('put'), 0x28, 0x5d, 0x28]),
        Buffer.alloc(pick(r, [10, 100_000]) * 2, Buffer.from([0x4b, 0x01])), Buffer.from([0x65, 0x74, 0x7d, 0x74, 0x2e])]),
    ]
    const frame = r() < 0.5 ? pick(r, seeds) : mutateBytes(pick(r, seeds), r, seeds)
    conn.send(frame)
    // A parked get is no failure here: the pinger watches the server; closing gives the item back.
    await conn.readFrame({ timeoutMs: Math.min(timeoutMs, 2000) }).catch(() => undefined)
    return 'python'
  } finally {
    conn.close()
  }
}

// Transport abuse on a connection of its own: bad headers, slow senders, bad handshakes.
async function transportInput(r: R, address: string): Promise<string> {
  const kind = int(r, 3)
  if (kind === 2) {
    const [host, port] = address.split(':')
    await new Promise<void>((resolve) => {
      const s = netConnect({ host: host!, port: Number(port) })
      s.on('error', () => resolve())
      s.on('close', () => resolve())
      s.once('data', () => {
        const n = pick(r, [0, 16, 255, 256, 257, 100_000])
        s.write(Buffer.concat([pick(r, [frameHeader(n), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0]), Buffer.from([0x7f])]), Buffer.alloc(Math.min(n, 300), 0x41)]))
        setTimeout(() => s.destroy(), 5)
      })
    })
    return 'handshake'
  }
  const conn = await connectTo(address, { authkey: AUTHKEY, handshakeTimeout: 60_000 })
  try {
    if (kind === 0) {
      conn.socket.write(pick(r, [frameHeader(2 ** 31 - 1), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x80, 0, 0, 0]), frameHeader(0)]))
      await conn.closed
      return 'header'
    }
    // A slow sender: a frame a few bytes at a time, sometimes given up halfway.
    const frame = serialize([[1, '', 'dummy', []], [2, '', 'numberOfObjects', []]])
    const whole = Buffer.concat([frameHeader(frame.length), frame])
    const stop = r() < 0.3 ? int(r, whole.length) : whole.length
    for (let i = 0; i < stop; i += 3) {
      conn.socket.write(whole.subarray(i, Math.min(i + 3, stop)))
      await new Promise((res) => setTimeout(res, 1))
    }
    if (stop === whole.length) await conn.readFrame({ timeoutMs: 20_000 })
    return 'slow'
  } finally {
    conn.close()
  }
}

/** Run a fuzz campaign against a fresh target process; never throws for what the target does. */
export async function fuzzManager(opts: FuzzV8Options): Promise<FuzzV8Report> {
  const seed = opts.seed ?? 0x5eed
  const progress = opts.progress ?? (() => {})
  const target = await startTarget()
  const report: FuzzV8Report = {
    inputs: 0, kinds: {}, replies: { values: 0, errors: 0, frameRefusals: 0 }, reconnects: 0, unanswered: [], driverErrors: [], serverCrashed: undefined,
    pings: { sent: 0, answered: 0 }, stall: { maxMs: 0, p999Ms: 0, worst: [], maxChunkMs: 0, slowestChunks: [], maxChunkCpuMs: 0, busiestChunks: [] }, held: [], lostItems: 0, aliveAfter: false, rssMiB: 0,
  }
  let crashed = false
  void target.exited.then((why) => { if (!stopping) { crashed = true; report.serverCrashed = why } })
  let stopping = false
  // Another client keeps asking the server something while the fuzz runs: every ping must be answered.
  const pinger = await new Manager({ address: target.address, authkey: AUTHKEY }).connect()
  let pinging = true
  const pings = (async () => {
    while (pinging && !crashed) {
      report.pings.sent++
      try { await pinger.numberOfObjects(); report.pings.answered++ } catch { /* counted as unanswered */ }
      await new Promise((res) => setTimeout(res, 20))
    }
  })()
  // What each connection had in flight, with times, to line the target's worst stalls up with inputs.
  const recent: { at: number; label: string }[] = []
  const scratch = await scratchObjects(target.address)
  const objects: Scratch[] = [...target.held.map((ident) => ({ typeid: 'Held', ident })), ...scratch.objects]
  const TIMEOUT = 30_000
  let next = 0
  const workers = Array.from({ length: opts.connections ?? 4 }, async (_, k) => {
    const r = rng((seed ^ Math.imul(k + 1, 0x9e3779b1)) >>> 0)
    const ids = { next: 0x1000 }
    const corpus: Buffer[] = []
    const reopen = async (): Promise<Peer | undefined> => {
      try { return await openPeer(target.address, report.replies) } catch (err) {
        if (!crashed) report.unanswered.push(`could not connect: ${(err as Error).message}`)
        return undefined
      }
    }
    let peer = await reopen()
    if (!peer) return
    let sinceOpen = 0
    while (!crashed) {
      const n = next++
      if (n >= opts.inputs) break
      if (n % 10_000 === 0 && n) progress(`${n} inputs, ${report.replies.frameRefusals} frames refused, ${report.reconnects} reconnects`)
      // Parked calls pile up on a long-lived connection: start afresh now and then (closing cancels them).
      if (!peer.conn.isOpen || ++sinceOpen > 300) {
        peer.conn.close()
        const fresh = await reopen()
        if (!fresh) break
        peer = fresh
        report.reconnects++
        sinceOpen = 0
      }
      const roll = r()
      let label: string
      try {
        if (roll < 0.03) label = await pythonInput(r, target.address, target.held, TIMEOUT)
        else if (roll < 0.04) label = await transportInput(r, target.address)
        else {
          const f = fuzzFrame(r, objects, ids, corpus)
          label = f.json ? 'json' : 'v8'
          recent.push({ at: Date.now(), label: f.label })
          if (recent.length > 2000) recent.splice(0, 1000)
          const done = answered(peer, TIMEOUT)
          peer.conn.send(f.bytes)
          if (peer.conn.isOpen) peer.conn.send(SENTINEL_FRAME)
          const how = await done
          if (how === 'timeout') { report.unanswered.push(`${f.label}: ${f.bytes.subarray(0, 200).toString('hex')}`); peer.conn.close() }
        }
      } catch (err) {
        if (crashed) break
        label = 'error'
        // The driver's own failure building or sending an input (not the server's): kept apart, with where it happened.
        if (!/closed|ECONNRESET|EPIPE|timed out|no frame/i.test(String((err as Error).message))) report.driverErrors.push(String((err as Error).stack ?? err).split('\n').slice(0, 4).join(' | '))
      }
      report.inputs++
      report.kinds[label] = (report.kinds[label] ?? 0) + 1
    }
    peer.conn.close()
  })
  await Promise.all(workers)
  pinging = false
  await pings
  if (!crashed) {
    const t = await askReport(target)
    report.stall = {
      maxMs: Math.round(t.maxMs * 10) / 10, p999Ms: Math.round(t.p999Ms * 10) / 10,
      worst: t.worst.map((w) => ({ ms: Math.round(w.ms), inputs: recent.filter((x) => x.at <= w.at && x.at > w.at - w.ms - 200).map((x) => x.label).slice(-4) })),
      maxChunkMs: Math.round((t.slowest[0]?.ms ?? 0) * 10) / 10,
      slowestChunks: t.slowest.map(rounded),
      maxChunkCpuMs: Math.round((t.busiest[0]?.cpuMs ?? 0) * 10) / 10,
      busiestChunks: t.busiest.map(rounded),
    }
    report.held = t.held
    report.lostItems = t.held.reduce((n, h) => n + Math.max(0, h.expected - h.qsize), 0)
    report.rssMiB = Math.round(t.rssMiB)
    try {
      const fresh = await new Manager({ address: target.address, authkey: AUTHKEY }).connect()
      const q = await fresh.Queue<string>()
      await q.put('still here')
      report.aliveAfter = (await q.get({ timeout: 10_000 })) === 'still here'
      await fresh.shutdown()
    } catch { report.aliveAfter = false }
  }
  stopping = true
  scratch.conn.close()
  await pinger.shutdown().catch(() => {})
  target.child.kill('SIGKILL')
  await target.exited
  return report
}

if (process.argv.includes('--target')) {
  void runTarget()
} else if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const n = Number(process.argv[3] ?? 1_000_000)
    const seed = Number(process.argv[4] ?? (Date.now() & 0x7fffffff))
    const t0 = performance.now()
    const c = fuzzCheck(n, seed)
    console.log(`checkV8 + checkJson, seed ${seed}: ${c.runs} payloads in ${((performance.now() - t0) / 1000).toFixed(0)} s; decoded ${c.accepted} (items refused ${c.itemsRefused}), frames refused ${c.framesRefused}, failures ${c.failures.length}`)
    for (const f of c.failures) console.log(`FAIL ${f}`)
    process.exit(c.failures.length ? 1 : 0)
  }
  const inputs = Number(process.argv[2] ?? 1_000_000)
  const seed = Number(process.argv[3] ?? (Date.now() & 0x7fffffff))
  const connections = Number(process.argv[4] ?? 4)
  const t0 = performance.now()
  const report = await fuzzManager({ inputs, seed, connections, progress: (l) => console.log(`  ${((performance.now() - t0) / 1000).toFixed(0)} s: ${l}`) })
  const s = (performance.now() - t0) / 1000
  console.log(`seed ${seed}: ${report.inputs} inputs in ${s.toFixed(0)} s (${Math.round(report.inputs / s)}/s) over ${connections} connections`)
  console.log(JSON.stringify(report, null, 2))
  const ok = !report.serverCrashed && !report.unanswered.length && !report.lostItems && report.aliveAfter && report.pings.answered === report.pings.sent
  process.exit(ok ? 0 : 1)
}
