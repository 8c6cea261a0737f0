/**
 * Flag parsers shared by the commands: each checks one kind of value and says
 * what is wrong with it in the words of the flag (commander reports the
 * InvalidArgumentError as a usage error, exit code 2).
 */
import { InvalidArgumentError } from 'commander'
import { parseAddress } from '../net/index.js'
import { UsageError } from './errors.js'

/** An integer from `min` to `max`. */
export function integer(flag: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v)
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `${flag} must be an integer of at least ${min}` : `${flag} must be an integer from ${min} to ${max}`)
    }
    return n
  }
}

/** A TCP port (0 = any free one). */
export const port = (flag: string) => integer(flag, 0, 65535)

/** A non-negative number of seconds. */
export function seconds(flag: string) {
  return (v: string): number => {
    const n = Number(v)
    if (v.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`${flag} must be a number of seconds`)
    return n
  }
}

/** One of a few words. */
export function oneOf<T extends string>(flag: string, words: readonly T[]) {
  return (v: string): T => {
    if (!words.includes(v as T)) throw new InvalidArgumentError(`${flag} must be ${words.map((w) => `'${w}'`).join(' or ')}`)
    return v as T
  }
}

/** Append to a list (repeatable flags). */
export const collect = (v: string, acc: string[] = []): string[] => [...acc, v]

/** Whether `v` is a TCP address as the library reads it (net/address.ts), not a socket path. */
function isTcp(v: string): boolean {
  if (/[\s[\]]/.test(v.replace(/^\[[0-9a-fA-F:.]+\]/, ''))) return false
  try {
    return parseAddress(v).kind === 'tcp'
  } catch {
    return false
  }
}

/**
 * A TCP address `HOST:PORT` or `[IPV6]:PORT` to listen on. A bare word is
 * refused, not taken as a Unix socket path (that is what `--socket` is for).
 */
export function tcpAddress(flag: string) {
  return (v: string): string => {
    if (!isTcp(v)) throw new InvalidArgumentError(`${flag} must be HOST:PORT or [IPV6]:PORT (a Unix socket is --socket PATH), not '${v}'`)
    return v
  }
}

/** A manager to connect to: `HOST:PORT`, `[IPV6]:PORT`, or a Unix socket path (with a `/`). */
export function managerAddress(flag: string) {
  return (v: string): string => {
    if (v.includes('/')) return v
    if (!isTcp(v)) throw new InvalidArgumentError(`${flag} must be HOST:PORT, [IPV6]:PORT or a Unix socket path such as ./manager.sock, not '${v}'`)
    return v
  }
}

/** `NAME` or `NAME:MAXSIZE`. */
export function queueSpec(flag: string) {
  return (v: string, acc: string[] = []): string[] => {
    if (!/^[^:\s]+(?::\d+)?$/.test(v)) throw new InvalidArgumentError(`${flag} takes NAME or NAME:MAXSIZE, not '${v}'`)
    return [...acc, v]
  }
}

/** Turn a listen failure (port in use, not allowed) into a usage error that names the flag to change. */
export function listenFailure(err: unknown, what: string, hint: string): unknown {
  const e = err as NodeJS.ErrnoException
  if (e?.code === 'EADDRINUSE') return new UsageError(`${what} is in use (${hint})`, { cause: err })
  if (e?.code === 'EACCES') return new UsageError(`${what}: permission denied (${hint})`, { cause: err })
  if (e?.code === 'EADDRNOTAVAIL') return new UsageError(`${what} is not an address of this machine (${hint})`, { cause: err })
  return err
}
