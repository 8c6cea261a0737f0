/**
 * `troupe`: the core. Processes, pools, queues and sync primitives, managers,
 * actors, the pickle codec and dashboard reporting. It never loads a Redis
 * client: the Redis places are `troupe/redis` (src/redis.ts); server
 * internals and test probes are `troupe/internal` (src/internal.ts). Each
 * name here is a deliberate part of the public API.
 */
export * from './errors.js'
export { isMainModule, currentPlace, type Kind, type ModuleRef, type PlaceInfo } from './process/index.js'
export { Process, currentProcess, activeChildren, parentProcess, cpuCount, type ProcessOptions, type Transferable } from './process/index.js'
export {
  Pool, AsyncResult, type PoolFront, type PoolCounters, type PoolOptions, type ApplyOptions, type MapOptions, type IMapOptions, type PoolStats, type WorkerStats, type PoolFunction,
  type ResultOf, type WaitOptions, type Percentiles,
} from './pool/index.js'
export * from './sync/index.js'
export {
  encodePickle, decodePickle, decodePickleWithProtocol, tuple, Tuple, isTuple, float, PyFloat, FrozenSet, ByteArray, OrderedDict, Slice,
  PyGlobal, PyObject, pyException, pyText, py2Unicode, isPy2Unicode, py2Int, isPy2Int,
  pyHashKey, pyEquals, pyLess, pySort, pyRepr, pyStr, pyTypeName, type PyFlavor, type PickleEncodeOptions, type PickleDecodeOptions,
} from './codec/index.js'
export {
  Actor, spawn, supervise, Supervisor, publish, subscribe, unsubscribe, watch, isTerminated, Worker, Result,
  type ActorRef, type ActorClass, type ActorHooks, type AskOptions, type JoinOptions, type SpawnOptions, type Placement, type MailboxOptions,
  type MailboxStats, type Overflow, type StopReason, type Terminated, type ReplyHandle, type ChildSpec, type SupervisorOptions, type Strategy,
  type RestartType, type WorkerOptions,
} from './actor/index.js'
// Reporting to the dashboard (light: the dashboard server itself is `troupe dashboard` / src/cli/dashboard).
export {
  enableReports, WorkerActivity, startReporting, reportPool, reportActors, describeTask,
  type Reporting, type ReportingOptions, type ReportTarget, type ActorTreeNode, type TaskHandle, type TaskInfo,
} from './cli/dashboard/reporting/index.js'
// Managers: shared objects served over TCP / Unix sockets with an authkey, typed pipelined proxies.
export {
  BaseManager, Manager, connect as connectManager, typed, proxyInfo, isProxy, releaseProxy, defaultAuthkey, AUTHKEY_ENV,
  SharedQueue, SharedJoinableQueue, type SharedQueueStats, SharedLock, SharedRLock, SharedSemaphore, SharedBoundedSemaphore, SharedEvent, SharedCondition,
  SharedBarrier, SharedDict, SharedList, SharedNamespace, SharedValue, SharedArray,
  type ManagerOptions, type ServeOptions, type RegisterOptions, type Signature, type Proxied, type ProxyHandle, type BlockOptions,
} from './manager/index.js'
