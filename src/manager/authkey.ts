import { randomBytes } from 'node:crypto'

/** The environment variable through which child processes inherit the default authkey (and the CLI reads one). */
export const AUTHKEY_ENV = 'TROUPE_AUTHKEY'

/**
 * The default authkey of this process: `TROUPE_AUTHKEY` when set, otherwise a
 * random key created once and put into the environment so every child
 * process and thread started afterwards shares it (Python's
 * `current_process().authkey`).
 */
export function defaultAuthkey(): Buffer {
  let key = process.env[AUTHKEY_ENV]
  if (!key) {
    key = randomBytes(32).toString('hex')
    process.env[AUTHKEY_ENV] = key
  }
  return Buffer.from(key, 'utf8')
}
