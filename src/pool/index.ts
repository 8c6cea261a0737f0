export { Pool, type PoolOptions, type ApplyOptions, type PoolStats, type WorkerStats } from './pool.js'
export { PoolFront, type PoolFunction, type ResultOf, type BaseApplyOptions, type MapOptions, type IMapOptions, type PoolCounters } from './front.js'
export { AsyncResult, type WaitOptions } from './async-result.js'
export type { Percentiles } from './stats.js'
