import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { existsSync, lstatSync, unlinkSync } from 'node:fs'
import { AuthenticationError, ConnectionClosedError, TimeoutError } from '../errors.js'
import { parseAddress, formatAddress, type Address, type AddressLike } from './address.js'
import { FrameConnection, DEFAULT_MAX_FRAME } from './framing.js'
import { authkeyBytes, clientHandshake, serverHandshake, DEFAULT_HANDSHAKE_TIMEOUT } from './auth.js'
import { armWait } from '../timers.js'

/** Options shared by `listen` and `connectTo`. */
export interface WireOptions {
  /** The shared secret; both sides prove they know it without sending it. */
  authkey: string | Uint8Array
  /** Largest accepted frame payload in bytes (default 64 MiB). */
  maxFrameSize?: number
  /** How long the handshake may take, in ms (default 10 s). */
  handshakeTimeout?: number
}

/** Options for `listen`. */
export interface ListenOptions extends WireOptions {
  /** Called with each connection that passed the handshake. */
  onConnection(conn: FrameConnection): void
  /** Where to report refused or broken connections (default: stderr). */
  log?: (line: string) => void
}

/** A listening socket that authenticates every connection before handing it over. */
export interface Listener {
  /** The bound address, with the real port when 0 was asked for. */
  readonly address: Address
  /** Stop accepting; existing connections stay open. A Unix socket file is removed. */
  close(): Promise<void>
}

/** Write a line to stderr, prefixed so it is clear which part of troupe speaks. */
export function defaultLog(line: string): void {
  process.stderr.write(`[troupe] ${line}\n`)
}

/** A peer host's refusals are logged at most once per this many ms. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000

/**
 * Log refused connections at most once per peer host per minute: a client
 * retrying with a wrong authkey every second (a dashboard, a worker in a
 * restart loop) gets one line a minute, saying how many were refused since.
 */
function refusalLog(log: (line: string) => void): (host: string, line: string) => void {
  const hosts = new Map<string, { at: number; suppressed: number }>()
  return (host, line) => {
    const now = Date.now()
    const h = hosts.get(host)
    if (h && now - h.at < REFUSAL_LOG_INTERVAL_MS) { h.suppressed++; return }
    const more = h?.suppressed ? ` (${h.suppressed} more refused from ${host} in the last ${Math.round((now - h.at) / 1000)} s)` : ''
    hosts.set(host, { at: now, suppressed: 0 })
    if (hosts.size > 1024) for (const [k, v] of hosts) if (now - v.at >= REFUSAL_LOG_INTERVAL_MS) hosts.delete(k)
    log(`${line}${more}${h ? '' : ' (further refusals from this host: one line a minute)'}`)
  }
}

/** Listen on a TCP or Unix address; every connection must pass the HMAC handshake before `onConnection` sees it. */
export async function listen(addressLike: AddressLike, opts: ListenOptions): Promise<Listener> {
  const address = parseAddress(addressLike)
  const key = authkeyBytes(opts.authkey)
  const log = opts.log ?? defaultLog
  const timeout = opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT
  const refused = refusalLog(log)
  const server = createServer({ noDelay: true }, (socket: Socket) => {
    const conn = new FrameConnection(socket, { maxFrameSize: opts.maxFrameSize ?? DEFAULT_MAX_FRAME })
    serverHandshake(conn, key, timeout).then(
      () => opts.onConnection(conn),
      (err: Error) => {
        refused(socket.remoteAddress ?? conn.peer, `refused connection from ${conn.peer}: ${err.name}: ${err.message}`)
        conn.close(err)
      },
    )
  })
  await bind(server, address)
  const bound = server.address()
  const actual: Address = address.kind === 'unix' || !bound || typeof bound === 'string'
    ? address
    : { kind: 'tcp', host: address.host, port: bound.port }
  return {
    address: actual,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      if (address.kind === 'unix') try { unlinkSync(address.path) } catch { /* already gone */ }
    }),
  }
}

async function bind(server: Server, address: Address): Promise<void> {
  if (address.kind === 'unix' && existsSync(address.path) && lstatSync(address.path).isSocket() && !(await answers(address.path))) {
    // A socket file left by a process that died; nobody answers on it, so it is safe to replace.
    unlinkSync(address.path)
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = () => { server.off('error', reject); resolve() }
    if (address.kind === 'unix') server.listen(address.path, 128, done)
    else server.listen(address.port, address.host, 128, done)
  })
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

/** Connect to a listener and run the client side of the handshake. Wrong keys give AuthenticationError naming the address. */
export async function connectTo(addressLike: AddressLike, opts: WireOptions & { connectTimeout?: number }): Promise<FrameConnection> {
  const address = parseAddress(addressLike)
  const label = formatAddress(address)
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = address.kind === 'unix' ? netConnect(address.path) : netConnect({ host: address.host, port: address.port, noDelay: true })
    const disarm = armWait({ timeout: opts.connectTimeout ?? 10_000 }, () => { s.destroy(); reject(new TimeoutError(`could not connect to ${label} within ${opts.connectTimeout ?? 10_000} ms`)) }, () => {})
    s.once('connect', () => { disarm(); s.off('error', onErr); resolve(s) })
    const onErr = (err: Error) => {
      disarm()
      reject(new ConnectionClosedError(`cannot connect to ${label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err }))
    }
    s.once('error', onErr)
  })
  const conn = new FrameConnection(socket, { maxFrameSize: opts.maxFrameSize, peer: label })
  try {
    await clientHandshake(conn, authkeyBytes(opts.authkey), opts.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT)
  } catch (err) {
    conn.close(err as Error)
    if (err instanceof AuthenticationError) {
      const e = new AuthenticationError(`authentication with ${label} failed (${err.message}): check that both sides use the same authkey`)
      e.origin = label
      throw e
    }
    if (err instanceof ConnectionClosedError) throw new AuthenticationError(`${label} closed the connection during the handshake (wrong authkey?)`)
    throw err
  }
  return conn
}
