// A user's program that forgot the isMainModule(import.meta) guard: what it runs elsewhere lives in this
// entry module, so every worker that imports the module runs this top-level code again.
import { Actor, spawn, Worker } from '../../../src/actor/index.ts'
import { Pool } from '../../../src/pool/index.ts'
import { Process, type Kind } from '../../../src/process/index.ts'

/** A task. */
export function square(n: number): number {
  return n * n
}

/** An actor. */
export class Doubler extends Actor<number> {
  receive(n: number): number { return n * 2 }
}

// From the environment, so the workers re-running this code take the same branch.
const [what, kind] = (process.env.UNGUARDED ?? 'pool thread').split(' ') as [string, Kind]
console.log('top-level line')
if (what === 'pool') {
  const pool = new Pool({ workers: 2, kind })
  try { console.log(await pool.map(square, [1, 2, 3])) } finally { await pool.terminate() }
} else if (what === 'process') {
  const p = new Process({ target: square, args: [3], kind })
  await p.start()
  await p.join()
  if (p.error) throw p.error
} else if (what === 'spawn') {
  const a = spawn(Doubler, { on: kind })
  try { console.log(await a.ask(21)) } finally { await a.stop() }
} else {
  const w = new Worker({ on: kind })
  const r = w.submit(square, 4)
  w.close()
  console.log(await r.result())
}
