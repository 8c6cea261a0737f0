/**
 * Seed 004, the task worker: connect to the task manager over TCP with
 * authkey `abc`, take numbers, put back `n * n = ...` strings.
 *
 *   node --conditions=troupe-source --import tsx examples/manager-taskworker.ts [--address 127.0.0.1:5000] [--count 10]
 */
import { BaseManager, typed, SharedQueue, Empty, ConnectionClosedError } from 'troupe'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}

const m = new BaseManager({ address: arg('address', '127.0.0.1:5000'), authkey: 'abc' })
  .register('get_task_queue', typed<SharedQueue<number>>())
  .register('get_result_queue', typed<SharedQueue<string>>())
console.log(`Connect to server ${arg('address', '127.0.0.1:5000')}...`)
await m.connect()

const task = await m.get_task_queue()
const result = await m.get_result_queue()
const count = Number(arg('count', '10'))
for (let i = 0; i < count; i++) {
  try {
    const n = await task.get({ timeout: 1000 })
    console.log(`run task ${n} * ${n}...`)
    const r = `${n} * ${n} = ${n * n}`
    await result.put(r)
  } catch (err) {
    if (err instanceof Empty) console.log('task queue is empty.')
    else if (err instanceof ConnectionClosedError) { console.log('the manager has gone away.'); break }
    else throw err
  }
}
await m.shutdown()
console.log('worker exit.')
