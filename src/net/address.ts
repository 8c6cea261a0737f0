import { isIP } from 'node:net'

/** Where a manager listens or a client connects: a TCP host and port, or a Unix socket path. */
export type Address = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string }

/** What users may write for an address: `'127.0.0.1:5000'`, `'[::1]:0'`, `'/tmp/m.sock'`, or an object. */
export type AddressLike = string | Address | { host: string; port: number } | { path: string }

/**
 * Parse an address. A string with a `:port` suffix is TCP (IPv6 hosts in
 * brackets: `[::1]:5000`); anything else containing no colon, or starting with
 * `/` or `.`, is a Unix socket path. Port 0 asks the OS for an ephemeral port.
 */
export function parseAddress(a: AddressLike): Address {
  if (typeof a !== 'string') {
    if ('kind' in a) return a
    if ('path' in a) return { kind: 'unix', path: a.path }
    return checkPort({ kind: 'tcp', host: a.host, port: a.port }, `${a.host}:${a.port}`)
  }
  if (a.startsWith('/') || a.startsWith('.') || a.startsWith('unix:')) return { kind: 'unix', path: a.replace(/^unix:/, '') }
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(a)
  if (v6) return checkPort({ kind: 'tcp', host: v6[1]!, port: Number(v6[2]) }, a)
  const v4 = /^([^:/]*):(\d+)$/.exec(a)
  if (v4) return checkPort({ kind: 'tcp', host: v4[1] || '0.0.0.0', port: Number(v4[2]) }, a)
  if (!a.includes(':')) return { kind: 'unix', path: a }
  throw new TypeError(`cannot parse address '${a}': write HOST:PORT, [IPV6]:PORT or a Unix socket path`)
}

function checkPort(addr: Address & { kind: 'tcp' }, text: string): Address {
  if (!Number.isInteger(addr.port) || addr.port < 0 || addr.port > 65535) throw new TypeError(`bad port in address '${text}' (0..65535)`)
  return addr
}

/** Format an address the way users write it: `127.0.0.1:5000`, `[::1]:5000`, or the socket path. */
export function formatAddress(a: Address): string {
  if (a.kind === 'unix') return a.path
  return isIP(a.host) === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
