/**
 * How long one request frame can hold a manager's event loop. For each kind
 * of value that costs a decoder most, the biggest frame the default limits
 * let through (about 1,000,000 weighted values, 64 MiB) is built and:
 *
 * - decoded in this process as the server does (checked, then decoded):
 *   CPU ms, against the anchor of `v8.deserialize` alone on the same bytes
 *   (the cost of the check is the ratio); pickles through decodePickleAsync,
 *   whose longest slice is what holds the loop;
 * - sent three times to a manager in its own process while another client
 *   pings it: the longest ping and the manager's longest event-loop delay.
 *
 * Wall times include whatever else the machine runs; CPU times do not.
 *
 *   npm run bench -- decode-stall
 */
import { serialize, deserialize } from 'node:v8'
import { decodeRequests } from '../src/manager/protocol.ts'
import { decodePickle, decodePickleAsync, encodePickle, tuple, checkV8, checkJson, V8_DEFAULT_LIMITS } from '../src/codec/index.ts'
import { Manager } from '../src/manager/index.ts'
import { connectTo } from '../src/net/index.ts'
import { startTarget, askReport, resetTarget, TARGET_AUTHKEY } from '../scripts/fuzz-v8.ts'
import { median } from './lib.ts'

const LIMIT = V8_DEFAULT_LIMITS.maxValues
// Addressed to no object: the server checks and decodes the frame, then answers UnknownMethodError (nothing is kept).
const put = (v: unknown) => [[1, 'no-such-object', 'put', [v]]]

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
 * pickle decoder's), then the count scaled to 95% of the limit.
 */
function fit(encode: (v: unknown) => Buffer, make: (count: number) => unknown, weigh: (b: Buffer) => number): Buffer {
  const sample = 1000
  const per = (weigh(encode(make(sample))) - weigh(encode(make(0)))) / sample
  return encode(make(Math.max(1, Math.floor((LIMIT * 0.95) / Math.max(per, 1e-9)))))
}

// A JSON batch as the protocol writes small ones (0xFF 0x01 + text), whatever its size: a peer may send any.
function jsonFrame(batch: unknown): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0x01]), Buffer.from(JSON.stringify(batch))])
}

const huge = { maxValues: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 }
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

function cpuMs(f: () => unknown): number {
  const c0 = process.cpuUsage()
  f()
  const c = process.cpuUsage(c0)
  return (c.user + c.system) / 1000
}

/** The longest synchronous slice of an async decode: the time between its awaits. */
async function longestSlice(bytes: Buffer): Promise<number> {
  let longest = 0
  let last = performance.now()
  let on = true
  const tick = () => { const now = performance.now(); longest = Math.max(longest, now - last); last = now; if (on) setImmediate(tick) }
  setImmediate(tick)
  last = performance.now()
  await decodePickleAsync(bytes)
  on = false
  return Math.max(longest, performance.now() - last)
}

const rows: string[][] = [['frame', 'MiB', 'checked+decoded cpu ms', 'v8.deserialize alone', 'ratio', 'live: longest ping ms', 'manager loop delay max ms']]
const target = await startTarget()
const pinger = await new Manager({ address: target.address, authkey: TARGET_AUTHKEY }).connect()
const sender = await connectTo(target.address, { authkey: TARGET_AUTHKEY })
sender.onFrame(() => {})

async function live(bytes: Buffer): Promise<[number, number]> {
  await resetTarget(target)
  let longest = 0
  let pinging = true
  const pings = (async () => {
    while (pinging) {
      const t0 = performance.now()
      await pinger.numberOfObjects()
      longest = Math.max(longest, performance.now() - t0)
      await new Promise((r) => setTimeout(r, 5))
    }
  })()
  for (let i = 0; i < 3; i++) {
    sender.send(bytes)
    await new Promise((r) => setTimeout(r, 50))
  }
  await pinger.numberOfObjects()
  pinging = false
  await pings
  const report = await askReport(target)
  return [longest, report.maxMs]
}

for (const [label, make] of [...V8_CASES, ...JSON_CASES]) {
  const json = label.startsWith('JSON')
  const bytes = label.includes('Buffer, 60') ? serialize(put(make(0))) : json
    ? fit((v) => jsonFrame(put(v)), make, (b) => checkJson(b, 2, huge))
    : fit((v) => serialize(put(v)), make, (b) => checkV8(b, huge).values)
  const checked = median(Array.from({ length: 5 }, () => cpuMs(() => decodeRequests(bytes))))
  const anchor = label.startsWith('JSON') ? median(Array.from({ length: 5 }, () => cpuMs(() => JSON.parse(bytes.toString('utf8', 2))))) : median(Array.from({ length: 5 }, () => cpuMs(() => deserialize(bytes))))
  const [ping, loop] = await live(bytes)
  rows.push([label, (bytes.length / 1048576).toFixed(2), checked.toFixed(1), anchor.toFixed(1), `${(checked / anchor).toFixed(2)}x`, ping.toFixed(0), loop.toFixed(0)])
}
for (const [label, make] of PICKLE_CASES) {
  const bytes = fit((v) => encodePickle(tuple('1', 'put', tuple(v), new Map())), make, pickleValues)
  const slices: number[] = []
  for (let i = 0; i < 3; i++) slices.push(await longestSlice(bytes))
  const slice = median(slices)
  rows.push([label, (bytes.length / 1048576).toFixed(2), `${slice.toFixed(1)} (longest slice)`, '-', '-', '-', '-'])
}
sender.close()
await pinger.shutdown()
target.child.kill('SIGKILL')

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
console.log('\nbench decode-stall: the biggest frame each kind may send under the default limits')
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '))
console.log(`RESULT ${JSON.stringify({ bench: 'decode-stall', rows: rows.slice(1) })}`)
