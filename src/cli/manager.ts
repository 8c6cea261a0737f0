/**
 * `troupe manager`: serve shared queues over TCP or a Unix socket, guarded by
 * an authkey. Each `--queue NAME[:MAXSIZE]` is a typeid whose every `create`
 * returns the same queue (seed 004's `register('get_task', callable=...)`);
 * the SyncManager types (`Queue`, `dict`, `Lock`, ...) are served too.
 */
import type { Command } from 'commander'
import { Manager, SharedQueue, SharedJoinableQueue, AUTHKEY_ENV } from '../manager/index.js'
import { UsageError } from './errors.js'
import { listenFailure, port, queueSpec, tcpAddress } from './options.js'

/** Options of `runManager` (the `troupe manager` flags). */
export interface RunManagerOptions {
  /** `HOST:PORT` to listen on (port 0 = ephemeral). */
  address?: string
  /** Unix socket path to listen on instead. */
  socket?: string
  /** The authkey (default: `$TROUPE_AUTHKEY`). */
  authkey?: string
  /** `NAME` or `NAME:MAXSIZE` of shared queues. */
  queue?: string[]
  /** `NAME` or `NAME:MAXSIZE` of shared joinable queues. */
  joinableQueue?: string[]
  /** Serve the web dashboard on this port too. */
  dashboard?: number
  /** Let the dashboard act (retry dead letters, purge, seal...); see docs/dashboard.md. */
  allowActions?: boolean
}

function parseQueueSpec(spec: string): { name: string; maxsize: number } {
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(spec)
  if (!m) throw new UsageError(`--queue takes NAME or NAME:MAXSIZE, not '${spec}'`)
  return { name: m[1]!, maxsize: m[2] ? Number(m[2]) : 0 }
}

/** Default address of `troupe manager`. */
export const DEFAULT_MANAGER_ADDRESS = '127.0.0.1:50000'

/** Start serving; resolves with the manager once it listens (the line `listening on ADDRESS` is printed). */
export async function runManager(opts: RunManagerOptions): Promise<Manager> {
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  if (!authkey) throw new UsageError(`give --authkey KEY or set ${AUTHKEY_ENV}`)
  if (opts.address && opts.socket) throw new UsageError('give either --address or --socket, not both')
  const address = opts.socket ?? opts.address ?? DEFAULT_MANAGER_ADDRESS
  const manager = new Manager({ address, authkey })
  const names: string[] = []
  for (const spec of opts.queue ?? []) {
    const { name, maxsize } = parseQueueSpec(spec)
    const q = new SharedQueue(maxsize)
    manager.register(name, () => q)
    names.push(name)
  }
  for (const spec of opts.joinableQueue ?? []) {
    const { name, maxsize } = parseQueueSpec(spec)
    const q = new SharedJoinableQueue(maxsize)
    manager.register(name, () => q)
    names.push(name)
  }
  if (opts.dashboard !== undefined) {
    const { enableReports } = await import('./dashboard/report.js')
    enableReports(manager)
  }
  try {
    await manager.serve()
  } catch (err) {
    throw listenFailure(err, opts.socket ? `socket ${opts.socket}` : address, opts.socket ? 'remove the stale file or choose another --socket' : 'choose another --address, or port 0 for any free one')
  }
  console.log(`troupe manager listening on ${manager.address}${names.length ? ` (queues: ${names.join(', ')})` : ''}`)
  if (opts.dashboard !== undefined) {
    const { runDashboard } = await import('./dashboard.js')
    try {
      const dash = await runDashboard({ connect: manager.address, authkey, queues: names, port: opts.dashboard, allowActions: opts.allowActions })
      console.log(`dashboard on ${dash.url}`)
    } catch (err) {
      await manager.shutdown()
      throw listenFailure(err, `dashboard port ${opts.dashboard}`, 'choose another with --dashboard PORT, or 0 for any free one')
    }
  }
  return manager
}

/** Register `troupe manager`. */
export function register(cli: Command): void {
  cli.command('manager')
    .description('serve shared queues (and the SyncManager types) to other processes and hosts')
    .option('--address <host:port>', `TCP address to listen on (default ${DEFAULT_MANAGER_ADDRESS}; port 0 = pick one); IPv6 as [::1]:PORT`, tcpAddress('--address'))
    .option('--socket <path>', 'Unix socket path to listen on (instead of --address)')
    .option('--authkey <key>', `shared secret (required; default: $${AUTHKEY_ENV})`)
    .option('--queue <name[:maxsize]>', 'serve a shared queue under this typeid (repeatable)', queueSpec('--queue'), [])
    .option('--joinable-queue <name[:maxsize]>', 'serve a shared joinable queue under this typeid (repeatable)', queueSpec('--joinable-queue'), [])
    .option('--dashboard [port]', 'also serve the web dashboard (default port 8686)', port('--dashboard'))
    .option('--allow-actions', 'let the dashboard act: retry dead letters, purge, seal... (POST, token required)')
    .action(async (o: Omit<RunManagerOptions, 'dashboard'> & { dashboard?: number | true }) => {
      const dashboard = o.dashboard === true ? 8686 : o.dashboard
      const manager = await runManager({ ...o, dashboard })
      const stop = (sig: string) => {
        console.log(`troupe manager: ${sig}, shutting down`)
        const force = setTimeout(() => process.exit(0), 3000)
        force.unref()
        void manager.shutdown().then(() => process.exit(0))
      }
      process.once('SIGINT', () => stop('SIGINT'))
      process.once('SIGTERM', () => stop('SIGTERM'))
    })
}
