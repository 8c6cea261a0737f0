/**
 * The dashboard: a web page, an event stream and Prometheus metrics about a
 * troupe cluster, read-only unless started with actions allowed. `startDashboard()` is what `troupe dashboard` and
 * `troupe manager --dashboard PORT` call.
 */
import { readFileSync } from 'node:fs'
import { Collector, type Source } from './collector.js'
import { DashboardMetrics } from './metrics.js'
import { serveDashboard, type DashboardServer } from './server.js'
import { dashboardToken, isLoopback } from './token.js'

export { Collector, ActionRefused, type Source, type SourceSample, type CollectorOptions, type Durations } from './collector.js'
export { DashboardMetrics, TASK_DURATION_BUCKETS, type BuildInfo } from './metrics.js'
export { serveDashboard, type DashboardServer, type DashboardServerOptions } from './server.js'
export { dashboardToken, isLoopback } from './token.js'
export { managerSource, type ManagerSourceOptions } from './manager-source.js'
export { redisSource, type RedisSourceOptions } from './redis-source.js'
export * from './reporting/index.js'
export type * from './model.js'

/** What to watch and where to serve it. */
export interface StartDashboardOptions {
  /** What to sample (a manager, Redis, in-process objects). */
  sources: Source[]
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string
  /** Port; 0 picks a free one. Default 0. */
  port?: number
  /**
   * The manager's authkey. A dashboard bound beyond loopback requires the
   * token derived from it (see `dashboardToken`) and refuses to start without one.
   */
  authkey?: string | Uint8Array
  /** Require the token even on loopback. Default false. */
  requireToken?: boolean
  /** Sampling period. Default 1000 ms. */
  intervalMs?: number
  /** A worker, pool or actor system whose report stops changing for this long is shown as lost. Default max(5 s, 5 intervals). */
  lostAfterMs?: number
  /**
   * Serve the actions (retry dead letters, purge, promote/drop delayed, seal) as POST
   * requests; off by default. They always require the token, even on loopback.
   */
  allowActions?: boolean
}

/** A running dashboard. */
export interface Dashboard {
  /** The address to open (with `?token=` when one is required). */
  url: string
  port: number
  collector: Collector
  server: DashboardServer
  /** Stop sampling, close the sources and the server. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

const pkgVersion = (() => {
  try {
    // src/cli/dashboard and dist/cli/dashboard are both three levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  } catch {
    return ''
  }
})()

/** Start sampling the sources and serve the dashboard. */
export async function startDashboard(options: StartDashboardOptions): Promise<Dashboard> {
  const host = options.host ?? '127.0.0.1'
  let token: string | undefined
  // A dashboard that can act always asks for the token, on loopback too: any local process could otherwise purge a queue.
  if (!isLoopback(host) || options.requireToken || options.allowActions) {
    if (options.authkey === undefined || options.authkey.length === 0) {
      throw new TypeError(options.allowActions
        ? 'a dashboard that allows actions needs an authkey to derive its access token from'
        : `a dashboard bound to ${host} is reachable from other machines and needs an authkey to derive its access token from`)
    }
    token = dashboardToken(options.authkey)
  }
  const collector = new Collector(options.sources, { intervalMs: options.intervalMs, lostAfterMs: options.lostAfterMs, actions: options.allowActions, metrics: new DashboardMetrics({ build: { version: pkgVersion } }) })
  collector.start()
  let server: DashboardServer
  try {
    server = await serveDashboard({ collector, host, port: options.port ?? 0, token, version: pkgVersion })
  } catch (err) {
    await collector.stop()
    throw err
  }
  const close = async (): Promise<void> => {
    await server.close()
    await collector.stop()
  }
  return { url: server.url, port: server.port, collector, server, close, [Symbol.asyncDispose]: close }
}
