// Type-level checks: `npm test` runs tsc over test/, so any line below marked as an
// expected error that starts compiling fails the build.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Pool, type AsyncResult, type PoolFront } from '../../src/pool/index.ts'
import type { RedisPool } from '../../src/pool/redis.ts'
import { square, add, asyncSquare, noArgs } from './tasks.ts'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T extends true>(_ok: T): void {}

// Only compiled, never called: the types are the test.
function typeChecks(pool: Pool): void {
  const r = pool.applyAsync(square, [7])
  expectType<Equal<typeof r, AsyncResult<number>>>(true)
  expectType<Equal<ReturnType<typeof pool.apply<typeof asyncSquare>>, Promise<number>>>(true)
  expectType<Equal<Awaited<ReturnType<typeof pool.map<typeof square>>>, number[]>>(true)
  pool.applyAsync(add, [1, 2], { callback: (v: number) => v, timeout: 10 })
  pool.applyAsync(noArgs)
  pool.starmap(add, [[1, 2]])
  // @ts-expect-error wrong argument type
  pool.applyAsync(square, ['7'])
  // @ts-expect-error too many arguments
  pool.applyAsync(square, [7, 8])
  // @ts-expect-error arguments are required when the function takes some
  pool.applyAsync(add)
  // @ts-expect-error map items must fit the first parameter
  pool.map(square, ['a', 'b'])
  // @ts-expect-error starmap items are argument lists
  pool.starmap(add, [[1, 'x']])
  // @ts-expect-error the callback gets the result type
  pool.applyAsync(square, [1], { callback: (v: string) => v })
}

// Code that takes "a pool" is typed once, for Pool and RedisPool alike.
async function sumOfSquares(pool: PoolFront<object>, xs: number[]): Promise<number> {
  const ys: number[] = await pool.map(square, xs)
  return ys.reduce((a, b) => a + b, 0)
}
function anyPool(pool: Pool, redisPool: RedisPool): void {
  void sumOfSquares(pool, [1])
  void sumOfSquares(redisPool, [1])
  // @ts-expect-error the shared front keeps the typing: map items must fit the first parameter
  void redisPool.map(square, ['a'])
}

test('the pool API is typed from the user function (checked by tsc)', () => {
  assert.equal(typeof typeChecks, 'function')
  assert.equal(typeof anyPool, 'function')
})
