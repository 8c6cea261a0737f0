/**
 * `troupe/redis`: the places that live in Redis. Durable queues, a pool
 * served by workers on any machine, actors with durable mailboxes placed by
 * fenced leases, and the task worker behind `troupe worker --redis`.
 *
 * The Redis engine (connections, consumers and leases, keys, Lua scripts) is
 * backends/redis behind its index; the pool and the actor system put the
 * fronts of the core (the Pool API, the actor loop) on it. Those two live in
 * pool/redis.ts and actor/redis.ts, their folders' Redis faces, kept out of
 * the folders' index.ts so that `troupe` itself never loads ioredis.
 */
export {
  RedisQueue, RedisJoinableQueue, serveTasks, runRedisWorker, QueueAdmin,
  type RedisQueueOptions, type RedisTask, type DeadLetter, type TaskWorkerOptions, type TaskWorkerStats,
  type RedisWorkerOptions, type RedisTarget, type RedisAddress, type ClusterAddress, type CodecName, type ValueCodec, type TaskRun, type DeadLetterInfo, type DelayedInfo,
} from './backends/index.js'
export { RedisPool, type RedisPoolOptions, type RedisApplyOptions, type RedisPoolStats } from './pool/redis.js'
export { RedisActorSystem, RedisActorRef, type RedisActorSystemOptions, type RedisSpawnOptions } from './actor/redis.js'
