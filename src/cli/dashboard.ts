/**
 * `troupe dashboard`: watch managers (and Redis) in the browser, and serve
 * Prometheus metrics. `runDashboard()` is also what `troupe manager
 * --dashboard PORT` calls.
 */
import type { Command } from 'commander'
import { AUTHKEY_ENV } from '../manager/index.js'
import { managerSource, redisSource, startDashboard, isLoopback, type Dashboard, type Source } from './dashboard/index.js'
import { UsageError } from './errors.js'
import { collect, integer, listenFailure, managerAddress, port } from './options.js'

/** What `troupe dashboard` (or `troupe manager --dashboard`) watches and where it serves. */
export interface RunDashboardOptions {
  /** Manager address(es) `HOST:PORT` or a Unix socket path: one source per manager, all with the same authkey. */
  connect?: string | string[]
  /** The managers' authkey; also what the access token is derived from. */
  authkey?: string
  /** `redis://host:port/db` to show Redis queues and reports. */
  redis?: string
  /** Key prefix of the Redis queues. Default `troupe`. */
  redisPrefix?: string
  /** Typeids of manager queues to show from the start. */
  queues?: string[]
  /** Port to serve on. Default 8686. */
  port?: number
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string
  /** Sampling period in ms. Default 1000. */
  intervalMs?: number
  /** Let the page act on queues (POST, token required); off by default. */
  allowActions?: boolean
  /** Told once when a source stops answering and once when it answers again (default: nothing). */
  onSourceChange?: (name: string, error: string | undefined) => void
}

/** Default port of `troupe dashboard`. */
export const DEFAULT_DASHBOARD_PORT = 8686

/** Build the sources and start the dashboard (throws a UsageError for options that cannot work). */
export async function runDashboard(opts: RunDashboardOptions): Promise<Dashboard> {
  const sources: Source[] = []
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  const managers = opts.connect === undefined ? [] : Array.isArray(opts.connect) ? opts.connect : [opts.connect]
  if (managers.length) {
    if (!authkey) throw new UsageError(`--authkey (or ${AUTHKEY_ENV}) is required to connect to the manager at ${managers.join(', ')}`)
    for (const address of managers) sources.push(managerSource({ address, authkey, queues: opts.queues }))
  } else if (opts.queues?.length) {
    throw new UsageError('--queue names a manager queue: give --connect HOST:PORT too')
  }
  if (opts.redis) sources.push(redisSource({ url: opts.redis, prefix: opts.redisPrefix }))
  if (sources.length === 0) throw new UsageError('nothing to watch: give --connect HOST:PORT (a manager) and/or --redis URL')
  const host = opts.host ?? '127.0.0.1'
  if (!isLoopback(host) && !authkey) {
    throw new UsageError(`a dashboard bound to ${host} can be reached from other machines; give --authkey (or ${AUTHKEY_ENV}) so it can require a token`)
  }
  if (opts.allowActions && !authkey) {
    throw new UsageError(`--allow-actions needs --authkey (or ${AUTHKEY_ENV}): actions always require the token derived from it`)
  }
  const dash = await startDashboard({
    sources, host, port: opts.port ?? DEFAULT_DASHBOARD_PORT, authkey, intervalMs: opts.intervalMs, allowActions: opts.allowActions,
  })
  if (opts.onSourceChange) {
    const down = new Map<string, string>()
    dash.collector.subscribe((snap) => {
      for (const s of snap.sources) {
        if (!s.ok && !down.has(s.name)) { down.set(s.name, s.error ?? 'no answer'); opts.onSourceChange!(s.name, s.error ?? 'no answer') }
        else if (s.ok && down.has(s.name)) { down.delete(s.name); opts.onSourceChange!(s.name, undefined) }
      }
    })
  }
  return dash
}

/** Register `troupe dashboard`. */
export function register(cli: Command): void {
  cli.command('dashboard')
    .description('serve a live web dashboard and Prometheus metrics (/metrics) for managers and/or Redis queues')
    .option('-c, --connect <host:port>', 'manager address (HOST:PORT or a Unix socket path); repeat for several managers', (v: string, acc: string[] = []) => collect(managerAddress('--connect')(v), acc))
    .option('-k, --authkey <key>', `manager authkey (default: $${AUTHKEY_ENV}); a dashboard bound beyond 127.0.0.1 requires a token derived from it`)
    .option('--redis <url>', 'also show the Redis queues at this URL (redis://host:port/db, or redis-cluster://host:port,... for a Redis Cluster)')
    .option('--redis-prefix <prefix>', 'key prefix of the Redis queues', 'troupe')
    .option('-q, --queue <typeid...>', 'manager queue typeids to show from the start (anonymous queues appear by themselves)')
    .option('-p, --port <n>', 'port to serve on (0 = any free one)', port('--port'), DEFAULT_DASHBOARD_PORT)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--interval <ms>', 'sampling period in ms', integer('--interval', 100, 60_000), 1000)
    .option('--allow-actions', 'let the page act: retry/requeue dead letters, purge, promote/drop delayed items, seal (POST, token required)')
    .action(async (o: { connect?: string[]; authkey?: string; redis?: string; redisPrefix: string; queue?: string[]; port: number; host: string; interval: number; allowActions?: boolean }) => {
      let dash: Dashboard
      try {
        dash = await runDashboard({
          connect: o.connect, authkey: o.authkey, redis: o.redis, redisPrefix: o.redisPrefix, allowActions: o.allowActions,
          queues: o.queue, port: o.port, host: o.host, intervalMs: o.interval,
          // Once per outage, not once per sample: the page shows the details.
          onSourceChange: (name, error) => process.stderr.write(error === undefined
            ? `troupe dashboard: ${name} answers again\n`
            : `troupe dashboard: ${name} is not answering: ${error} (retrying every ${o.interval / 1000}s; said once)\n`),
        })
      } catch (err) {
        throw listenFailure(err, `port ${o.port}`, 'choose another with --port')
      }
      const base = dash.url.replace(/\?.*$/, '')
      console.log(`troupe dashboard: ${dash.url}`)
      console.log(`  metrics: ${base}metrics${dash.url.includes('?') ? ' (send the token as "Authorization: Bearer <token>")' : ''}`)
      if (o.allowActions) console.log('  actions: enabled (POST /api/actions/..., token required)')
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        void dash.close().then(() => process.exit(0))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
}
