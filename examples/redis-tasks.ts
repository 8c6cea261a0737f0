/**
 * Seed 004's distributed task queue, on Redis: the tasks and results live in
 * Redis streams, so the workers could be on any machine (here the pool starts
 * two worker processes itself; `troupe worker --redis URL --tasks NAME ...`
 * elsewhere would serve the same queue). A worker that dies mid-task leaves
 * its task to another after the lease; results are recorded once per task.
 *
 * Run: node --conditions=troupe-source --import tsx examples/redis-tasks.ts   (Redis at $TROUPE_REDIS or 127.0.0.1:6379)
 */
import { RedisPool, RedisQueue } from 'troupe/redis'
import { isMainModule } from 'troupe'

/** The task: exported, so workers can import it by module and name. */
export function square(n: number): number {
  return n * n
}

if (isMainModule(import.meta)) {
  const redis = process.env.TROUPE_REDIS ?? 'redis://127.0.0.1:6379'
  const name = `example-tasks-${process.pid}`
  const pool = new RedisPool({ redis, name, workers: 2 })
  const results = Array.from({ length: 10 }, (_, i) => pool.applyAsync(square, [i]))
  console.log(`[${(await Promise.all(results)).join(', ')}]`)
  const squares = await pool.map(square, Array.from({ length: 10_000 }, (_, i) => i), { chunksize: 500 })
  console.log(`sum of 10,000 squares: ${squares.reduce((a, b) => a + b, 0)}`)
  pool.close()
  await pool.join()
  // The task queue outlives a pool (other pools may share it); this example cleans up after itself.
  const queue = new RedisQueue(name, { redis })
  await queue.destroy()
  await queue.close()
  console.log('done')
}
