/**
 * `troupe dashboard`: watch a manager (and Redis) in the browser, and serve
 * Prometheus metrics. `runDashboard()` is also what `troupe manager
 * --dashboard PORT` calls.
 */
import { InvalidArgumentError, type Command } from 'commander'
import { AUTHKEY_ENV } from '../manager/index.js'
import { managerSource, redisSource, startDashboard, isLoopback, type Dashboard, type Source } from './dashboard/index.js'

/** What `troupe dashboard` (or `troupe manager --dashboard`) watches and where it serves. */
export interface RunDashboardOptions {
  /** Manager address `HOST:PORT` or a Unix socket path. */
  connect?: string
  /** The manager's authkey; also what the access token is derived from. */
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
}

/** Default port of `troupe dashboard`. */
export const DEFAULT_DASHBOARD_PORT = 8686

/** Build the sources and start the dashboard (throws a TypeError for options that cannot work). */
export async function runDashboard(opts: RunDashboardOptions): Promise<Dashboard> {
  const sources: Source[] = []
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  if (opts.connect) {
    if (!authkey) throw new TypeError(`--authkey (or ${AUTHKEY_ENV}) is required to connect to the manager at ${opts.connect}`)
    sources.push(managerSource({ address: opts.connect, authkey, queues: opts.queues }))
  } else if (opts.queues?.length) {
    throw new TypeError('--queue names a manager queue: give --connect HOST:PORT too')
  }
  if (opts.redis) sources.push(redisSource({ url: opts.redis, prefix: opts.redisPrefix }))
  if (sources.length === 0) throw new TypeError('nothing to watch: give --connect HOST:PORT (a manager) and/or --redis URL')
  const host = opts.host ?? '127.0.0.1'
  if (!isLoopback(host) && !authkey) {
    throw new TypeError(`a dashboard bound to ${host} can be reached from other machines; give --authkey (or ${AUTHKEY_ENV}) so it can require a token`)
  }
  return startDashboard({ sources, host, port: opts.port ?? DEFAULT_DASHBOARD_PORT, authkey, intervalMs: opts.intervalMs })
}

function integer(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`)
    return n
  }
}

/** Register `troupe dashboard`. */
export function register(cli: Command): void {
  cli.command('dashboard')
    .description('serve a live web dashboard and Prometheus metrics (/metrics) for a manager and/or Redis queues')
    .option('-c, --connect <host:port>', 'manager address (HOST:PORT or a Unix socket path)')
    .option('-k, --authkey <key>', `manager authkey (default: $${AUTHKEY_ENV}); a dashboard bound beyond 127.0.0.1 requires a token derived from it`)
    .option('--redis <url>', 'also show the Redis queues at this URL (redis://host:port/db)')
    .option('--redis-prefix <prefix>', 'key prefix of the Redis queues', 'troupe')
    .option('-q, --queue <typeid...>', 'manager queue typeids to show from the start (anonymous queues appear by themselves)')
    .option('-p, --port <n>', 'port to serve on', integer('--port', 0, 65535), DEFAULT_DASHBOARD_PORT)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--interval <ms>', 'sampling period in ms', integer('--interval', 100, 60_000), 1000)
    .action(async (o: { connect?: string; authkey?: string; redis?: string; redisPrefix: string; queue?: string[]; port: number; host: string; interval: number }) => {
      let dash: Dashboard
      try {
        dash = await runDashboard({
          connect: o.connect, authkey: o.authkey, redis: o.redis, redisPrefix: o.redisPrefix,
          queues: o.queue, port: o.port, host: o.host, intervalMs: o.interval,
        })
      } catch (err) {
        const e = err as NodeJS.ErrnoException
        console.error(`troupe dashboard: ${e.code === 'EADDRINUSE' ? `port ${o.port} is in use (choose another with --port)` : e.message}`)
        process.exitCode = 2
        return
      }
      const base = dash.url.replace(/\?.*$/, '')
      console.log(`troupe dashboard: ${dash.url}`)
      console.log(`  metrics: ${base}metrics${dash.url.includes('?') ? ' (send the token as "Authorization: Bearer <token>")' : ''}`)
      const stop = (): void => {
        process.off('SIGINT', stop)
        process.off('SIGTERM', stop)
        void dash.close().then(() => process.exit(0))
      }
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
    })
}
