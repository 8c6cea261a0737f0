/**
 * troupe on Redis: durable queues (streams + consumer groups, leases,
 * reclaim, retries, dead letters, delayed items, idempotent results).
 */
export { RedisQueue, RedisJoinableQueue, type RedisQueueOptions, type GetOptions, type PutOptions, type DeadLetter, type RedisTask } from './queue.js'
export {
  Connection, transient, Outage, makeClient, connectClient, describeTarget, addressOf, checkSendable, isClusterTarget, parseClusterUrl, pipelined, scanKeys,
  type RedisTarget, type RedisAddress, type ClusterAddress, type RedisClient, type Command,
} from './connect.js'
export { queueKeys, allKeys, actorKeys, systemKeys, inboxKeys, type QueueKeys, type ActorKeys, type SystemKeys } from './keys.js'
export { codecFor, type CodecName, type ValueCodec } from './codec.js'
export { Consumer, type Delivery, type Entry, type ConsumerOptions, type AckReply } from './consumer.js'
export { putEntries } from './queue.js'
export { idMaker, consumerName, defaultRedis } from './ids.js'
export {
  serveTasks, runRedisWorker, spawnWorker, moduleRef, redisWorkerRuntime,
  type TaskWorkerOptions, type TaskWorkerStats, type RedisWorkerOptions, type WorkerBoot, type TaskRun,
} from './worker.js'
export { QueueAdmin, queueAdmin, preview as previewPayload, type DeadLetterInfo, type DelayedInfo } from './admin.js'
export {
  defineActor, SharedSet, actorState, takeActor, endActor, ExitFeed, Poster, Inbox,
  messageFields, controlOf, replyCommand, inboxStream, postCommand, postOutcome, UNSPAWNED_KEEP_MS, type HeldActor, type PostKind,
} from './mailbox.js'
