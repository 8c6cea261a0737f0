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
import { deserialize } from 'node:v8'
import { decodeRequests } from '../src/manager/protocol.ts'
import { decodePickleAsync } from '../src/codec/index.ts'
import { Manager } from '../src/manager/index.ts'
import { connectTo } from '../src/net/index.ts'
import { startTarget, askReport, resetTarget, worstFrames, TARGET_AUTHKEY } from '../scripts/fuzz-v8.ts'
import { median } from './lib.ts'

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

for (const { label, dialect, bytes } of worstFrames()) {
  if (dialect === 'python') {
    const slices: number[] = []
    for (let i = 0; i < 3; i++) slices.push(await longestSlice(bytes))
    rows.push([label, (bytes.length / 1048576).toFixed(2), `${median(slices).toFixed(1)} (longest slice)`, '-', '-', '-', '-'])
    continue
  }
  const json = bytes[1] === 0x01
  const checked = median(Array.from({ length: 5 }, () => cpuMs(() => decodeRequests(bytes))))
  const anchor = median(Array.from({ length: 5 }, () => cpuMs(() => (json ? JSON.parse(bytes.toString('utf8', 2)) : deserialize(bytes)))))
  const [ping, loop] = await live(bytes)
  rows.push([label, (bytes.length / 1048576).toFixed(2), checked.toFixed(1), anchor.toFixed(1), `${(checked / anchor).toFixed(2)}x`, ping.toFixed(0), loop.toFixed(0)])
}
sender.close()
await pinger.shutdown()
target.child.kill('SIGKILL')

const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
console.log('\nbench decode-stall: the biggest frame each kind may send under the default limits')
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '))
console.log(`RESULT ${JSON.stringify({ bench: 'decode-stall', rows: rows.slice(1) })}`)
