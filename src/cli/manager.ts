/**
 * `troupe manager`: serve shared queues over TCP or a Unix socket, guarded by
 * an authkey. Each `--queue NAME[:MAXSIZE]` is a typeid whose every `create`
 * returns the same queue (seed 004's `register('get_task', callable=...)`);
 * the SyncManager types (`Queue`, `dict`, `Lock`, ...) are served too.
 */
import { Command, InvalidArgumentError } from 'commander'
import { Manager, SharedQueue, SharedJoinableQueue, AUTHKEY_ENV } from '../manager/index.js'

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
}

function parseQueueSpec(spec: string): { name: string; maxsize: number } {
  const m = /^([^:]+)(?::(\d+))?$/.exec(spec)
  if (!m) throw new InvalidArgumentError(`'${spec}' is not NAME or NAME:MAXSIZE`)
  return { name: m[1]!, maxsize: m[2] ? Number(m[2]) : 0 }
}

/** Start serving; resolves with the manager once it listens (the line `listening on ADDRESS` is printed). */
export async function runManager(opts: RunManagerOptions): Promise<Manager> {
  const authkey = opts.authkey ?? process.env[AUTHKEY_ENV]
  if (!authkey) throw new InvalidArgumentError(`give --authkey KEY or set ${AUTHKEY_ENV}`)
  if (opts.address && opts.socket) throw new InvalidArgumentError('give either --address or --socket, not both')
  const manager = new Manager({ address: opts.socket ?? opts.address ?? '127.0.0.1:50000', authkey })
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
  await manager.serve()
  console.log(`troupe manager listening on ${manager.address}${names.length ? ` (queues: ${names.join(', ')})` : ''}`)
  if (opts.dashboard !== undefined) {
    const { runDashboard } = await import('./dashboard.js')
    const dash = await runDashboard({ connect: manager.address, authkey, queues: names, port: opts.dashboard })
    console.log(`dashboard on ${(dash as unknown as { url?: string }).url ?? `port ${opts.dashboard}`}`)
  }
  return manager
}

/** Register `troupe manager`. */
export function register(cli: Command): void {
  const collect = (v: string, acc: string[]) => [...acc, v]
  cli.command('manager')
    .description('serve shared queues (and the SyncManager types) to other processes and hosts')
    .option('--address <host:port>', 'TCP address to listen on (port 0 = pick one); IPv6 as [::1]:PORT')
    .option('--socket <path>', 'Unix socket path to listen on')
    .option('--authkey <key>', `shared secret (default: $${AUTHKEY_ENV})`)
    .option('--queue <name[:maxsize]>', 'serve a shared queue under this typeid (repeatable)', collect, [])
    .option('--joinable-queue <name[:maxsize]>', 'serve a shared joinable queue under this typeid (repeatable)', collect, [])
    .option('--dashboard [port]', 'also serve the web dashboard (default port 8686)', (v: string) => Number(v))
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
