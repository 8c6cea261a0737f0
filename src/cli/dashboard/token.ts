import { createHmac, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'

/**
 * The access token of a dashboard bound beyond loopback: the first 32 hex
 * digits of HMAC-SHA256(authkey, 'troupe-dashboard'). Anyone holding the
 * manager's authkey can compute it; the token alone cannot be turned back
 * into the authkey, so sharing a dashboard link does not share the cluster.
 */
export function dashboardToken(authkey: string | Uint8Array): string {
  return createHmac('sha256', authkey).update('troupe-dashboard').digest('hex').slice(0, 32)
}

/** Whether only this machine can reach a server bound to `host`. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h.startsWith('::ffff:127.')
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined | null, expected: string): boolean {
  if (!presented) return false
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}
