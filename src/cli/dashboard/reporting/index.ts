/**
 * The reporting half of the dashboard: what workers, pools and actor systems
 * use to publish their numbers. Light on purpose (no HTTP server, no
 * prom-client, Redis loaded only when used), so troupe's root index can
 * export it.
 */
export {
  ReportBoard, reportBoard, enableReports, WorkerActivity, startReporting, redisReportsKey, REPORTS_TYPEID, RECENT_DURATIONS, RECENT_FAILURES,
  describeTask, failureError,
  type TaskHandle, type TaskInfo, type Reporting, type ReportingOptions, type ReportTarget, type CreatesObjects, type Registers,
} from './report.js'
export { poolReporter, reportPool, type HasPoolStats } from './pool.js'
export { actorsReporter, reportActors, type ActorRoot, type ActorTreeNode } from './actors.js'
