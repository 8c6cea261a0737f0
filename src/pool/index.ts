export { Pool, type PoolOptions, type ApplyOptions, type MapOptions, type IMapOptions, type PoolStats, type WorkerStats, type PoolFunction, type ResultOf } from './pool.js'
export { AsyncResult, type WaitOptions } from './async-result.js'
export type { Percentiles } from './stats.js'
