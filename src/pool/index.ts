export { Pool, type PoolOptions, type ApplyOptions, type MapOptions, type IMapOptions, type PoolStats, type WorkerStats, type PoolFunction, type ResultOf } from './pool.js'
export { AsyncResult, type WaitOptions } from './async-result.js'
export type { Percentiles } from './stats.js'
export { RedisPool, type RedisPoolOptions, type RedisApplyOptions, type RedisPoolStats } from './redis.js'
