/**
 * Seed 004, the task manager: serve a task queue and a result queue on TCP
 * with authkey `abc`, put tasks, and collect the workers' results.
 *
 *   node --conditions=troupe-source --import tsx examples/manager-taskmanager.ts [--port 5000] [--tasks 10]
 *   node --conditions=troupe-source --import tsx examples/manager-taskworker.ts --address 127.0.0.1:5000   (in other terminals / hosts)
 */
import { BaseManager, SharedQueue } from 'troupe'

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}

const taskQueue = new SharedQueue<number>()
const resultQueue = new SharedQueue<string>()

// Python registers lambdas and calls start(); a closure cannot be imported by a child process, so this manager serves in-process.
const manager = new BaseManager({ address: `${arg('host', '127.0.0.1')}:${arg('port', '5000')}`, authkey: 'abc' })
  .register('get_task_queue', () => taskQueue)
  .register('get_result_queue', () => resultQueue)
await manager.serve()
console.log(`listening on ${manager.address}`)

const task = await manager.get_task_queue()
const result = await manager.get_result_queue()
const count = Number(arg('tasks', '10'))
for (let i = 0; i < count; i++) {
  const n = Math.floor(Math.random() * 10000)
  console.log(`Put task ${n}...`)
  await task.put(n)
}
console.log('Try get results...')
for (let i = 0; i < count; i++) {
  const r = await result.get({ timeout: Number(arg('timeout', '10')) * 1000 })
  console.log(`Result: ${r}`)
}
await manager.shutdown()
console.log('master exit.')
