// Seed 001 as a user writes it: submit, close at once, join, then read the result.
// `add` lives in this entry module, which is still evaluating its top-level await when it is located.
import { Worker } from '../../../src/actor/index.ts'
import { isMainModule } from '../../../src/process/index.ts'

/** The task. */
export function add(a: number, b: number): number {
  return a + b
}

if (isMainModule(import.meta)) {
  const on = process.argv[2] as 'thread' | 'process'
  if (process.argv[3] === 'using') {
    let r
    {
      await using w = new Worker({ on })
      r = w.submit(add, 2, 3)
    }
    console.log(await r.result())
  } else {
    const w = new Worker({ on })
    const r = w.submit(add, 2, 3)
    w.close()
    await w.join()
    console.log(await r.result())
  }
}
