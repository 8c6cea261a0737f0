/**
 * Seed 004, Python's Pool program in troupe:
 *
 *   def f(x): return x * x
 *   if __name__ == '__main__':
 *       pool = Pool(4)
 *       results = [pool.apply_async(f, (i,)) for i in range(10)]
 *       print([r.get(timeout=1) for r in results])
 *       pool.close(); pool.join()
 *
 * (Workers start in well under a second, but compiling TypeScript on a busy machine can take
 * longer, hence a roomier timeout than Python's 1 s.)
 *
 * Run: node --conditions=troupe-source --import tsx examples/pool-apply-async.ts [--processes]
 */
import { Pool, TimeoutError, isMainModule } from 'troupe'

/** The task: exported, so the pool's workers can import it by itself. */
export function f(x: number): number {
  return x * x
}

/** A slow task, to show get({ timeout }). */
export async function nap(ms: number): Promise<string> {
  await new Promise((r) => setTimeout(r, ms))
  return 'rested'
}

// Workers import this module to find `f`; only the real entry point runs the program.
if (isMainModule(import.meta)) {
  const kind = process.argv.includes('--processes') ? 'process' : 'thread'
  const pool = new Pool({ workers: 4, kind })
  const results = Array.from({ length: 10 }, (_, i) => pool.applyAsync(f, [i]))
  const values = await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))
  console.log(`[${values.join(', ')}]`)

  console.log(`[${(await pool.map(f, [10, 11, 12])).join(', ')}]`)

  const slow = pool.applyAsync(nap, [500])
  try {
    await slow.get({ timeout: 10 })
  } catch (err) {
    if (err instanceof TimeoutError) console.log('We lacked patience and got a TimeoutError')
  }
  console.log(await slow)

  pool.close()
  await pool.join()
  console.log('pool joined')
}
