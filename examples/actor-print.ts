/**
 * Seed 001: a PrintActor in a worker thread prints what it is sent; `close()`
 * lets it finish what is queued, `join()` waits for it. Then a Worker runs
 * `add(2, 3)` on a thread and its Result gives 5.
 *
 *   node --conditions=troupe-source --import tsx examples/actor-print.ts
 */
import { Actor, isMainModule, spawn, Worker } from 'troupe'

/** Prints every message it receives. */
export class PrintActor extends Actor<string> {
  receive(msg: string): void {
    console.log(`Got: ${msg}`)
  }
}

/** A plain function the Worker runs in its thread. */
export function add(a: number, b: number): number {
  return a + b
}

async function main(): Promise<void> {
  const printer = spawn(PrintActor, { on: 'thread' })
  printer.send('Hello')
  printer.send('World')
  printer.close()
  await printer.join()

  const worker = new Worker({ on: 'thread' })
  const result = worker.submit(add, 2, 3)
  console.log(`add(2, 3) = ${await result.result({ timeout: 10_000 })}`)
  worker.close()
  await worker.join()
}

// No top-level await: locating PrintActor imports this module, which must finish evaluating first.
if (isMainModule(import.meta)) main().catch((err) => { console.error(err); process.exit(1) })
