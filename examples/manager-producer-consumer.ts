/**
 * Seed 002: a producer and a consumer that are not parent and child share a
 * JoinableQueue served by a manager on a Unix socket. The producer puts
 * 10,000 items and a terminator (null), then joins; the consumer calls
 * taskDone for every item it takes.
 *
 *   node --conditions=troupe-source --import tsx examples/manager-producer-consumer.ts serve   --socket /tmp/pc.sock
 *   node --conditions=troupe-source --import tsx examples/manager-producer-consumer.ts consume --socket /tmp/pc.sock
 *   node --conditions=troupe-source --import tsx examples/manager-producer-consumer.ts produce --socket /tmp/pc.sock
 *   node --conditions=troupe-source --import tsx examples/manager-producer-consumer.ts          (all three, as separate processes)
 */
import { spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BaseManager, SharedJoinableQueue, typed } from 'troupe'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}
const role = process.argv[2]?.startsWith('--') ? undefined : process.argv[2]
const socket = arg('socket', join(tmpdir(), `troupe-pc-${process.pid}.sock`))
const items = Number(arg('items', '10000'))
const authkey = arg('authkey', 'producer-consumer')

async function connectQueue() {
  const m = new BaseManager({ address: socket, authkey }).register('get_queue', typed<SharedJoinableQueue<number | null>>())
  await m.connect()
  return { m, q: await m.get_queue() }
}

if (role === 'serve') {
  const queue = new SharedJoinableQueue<number | null>()
  const manager = new BaseManager({ address: socket, authkey }).register('get_queue', () => queue)
  await manager.serve()
  console.log(`listening on ${manager.address}`)
  const stop = () => void manager.shutdown().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
} else if (role === 'produce') {
  const { m, q } = await connectQueue()
  // Puts issued in one turn travel in one frame; awaiting per chunk keeps memory flat.
  for (let i = 0; i < items; i += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, items - i) }, (_, k) => q.put(i + k)))
  }
  await q.put(null)
  console.log(`producer (pid ${process.pid}): put ${items} items and the terminator, joining...`)
  await q.join()
  console.log('producer: every item was processed')
  await m.shutdown()
} else if (role === 'consume') {
  const { m, q } = await connectQueue()
  let count = 0
  let sum = 0
  const acks: Promise<void>[] = []
  for await (const item of q) {
    // taskDone calls are pipelined (not awaited one by one) and awaited together at the end.
    acks.push(q.taskDone())
    if (item === null) break
    count++
    sum += item
  }
  await Promise.all(acks)
  console.log(`consumer (pid ${process.pid}): got ${count} items, sum ${sum}`)
  await m.shutdown()
} else {
  const self = process.argv[1]!
  const run = (r: string) => spawn(process.execPath, [...process.execArgv, self, r, '--socket', socket, '--items', String(items)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const server = run('serve')
  server.stdout!.setEncoding('utf8')
  await new Promise<void>((resolve) => server.stdout!.on('data', (s: string) => { process.stdout.write(s); if (s.includes('listening on')) resolve() }))
  const done = [run('consume'), run('produce')].map((p) => new Promise<number>((resolve) => {
    p.stdout!.pipe(process.stdout)
    p.on('exit', (code) => resolve(code ?? 1))
  }))
  const codes = await Promise.all(done)
  server.kill('SIGTERM')
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1
}
