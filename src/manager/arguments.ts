/**
 * Argument checks the registry runs before it calls a served method, so a
 * wrong argument is refused by name (TypeError, RangeError, as CPython would)
 * instead of reaching a shared object that trusts its caller: a count of
 * "x" that turns a task counter into NaN, an Array created with 2**32-1
 * zeros. A type declares one Signature per method (builtins.ts has them for
 * every built-in type); the checks live here once, for every dialect.
 */
import { V8_DEFAULT_LIMITS } from '../codec/index.js'
import { timeoutError } from '../timers.js'

/**
 * One kind per positional argument; a kind ending in `?` makes it and the
 * rest optional (`undefined` and `null` then pass). Kinds may be joined by
 * `|` (`'array|size'`):
 * - `any`, `string`, `bool`, `number` (finite), `index` (integer), `count` (integer >= 0),
 * - `size`: a count that allocates, at most MAX_SIZE,
 * - `array`, `object` (plain), `entries` (pairs, a Map or a plain object),
 * - `opts`: blocking options `{ block?: boolean, timeout?: ms >= 0 }`.
 */
export type Signature = readonly string[]

/** A size given as a number (an Array's length) may not exceed what one frame could carry as a list. */
export const MAX_SIZE = V8_DEFAULT_LIMITS.maxValues

/** Check `args` against `sig`; throws TypeError/RangeError naming `what` (`Queue.put`) and the argument. */
export function checkArguments(what: string, sig: Signature, args: readonly unknown[]): void {
  let required = sig.length
  for (let i = 0; i < sig.length; i++) if (sig[i]!.endsWith('?')) { required = i; break }
  if (args.length > sig.length) throw new TypeError(`${what}() takes ${range(required, sig.length)} argument${sig.length === 1 ? '' : 's'} but ${args.length} were given`)
  if (args.length < required) throw new TypeError(`${what}() takes ${range(required, sig.length)} argument${sig.length === 1 ? '' : 's'} but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`)
  for (let i = 0; i < args.length; i++) {
    const kinds = sig[i]!
    const optional = kinds.endsWith('?')
    const v = args[i]
    if (optional && (v === undefined || v === null)) continue
    let problem: Error | undefined
    for (const kind of (optional ? kinds.slice(0, -1) : kinds).split('|')) {
      problem = checkKind(kind, v)
      if (!problem) break
    }
    if (problem) {
      problem.message = `${what}() argument ${i + 1}: ${problem.message}`
      throw problem
    }
  }
}

function range(min: number, max: number): string {
  return min === max ? `${max}` : `${min} to ${max}`
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return `${(v as object).constructor?.name ?? 'an object'}`
  if (typeof v === 'string') return 'a string'
  // (A bigint's decimal text costs quadratic time: never written out.)
  if (typeof v === 'bigint') return 'a bigint'
  return `${typeof v} ${String(v).slice(0, 40)}`
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function checkKind(kind: string, v: unknown): Error | undefined {
  switch (kind) {
    case 'any': return undefined
    case 'string': return typeof v === 'string' ? undefined : new TypeError(`expected a string, got ${describe(v)}`)
    case 'bool': return typeof v === 'boolean' ? undefined : new TypeError(`expected a boolean, got ${describe(v)}`)
    case 'number': return typeof v === 'number' && Number.isFinite(v) ? undefined : new TypeError(`expected a finite number, got ${describe(v)}`)
    case 'index': return Number.isSafeInteger(v) ? undefined : new TypeError(`expected an integer, got ${describe(v)}`)
    case 'count':
    case 'size': {
      if (!Number.isSafeInteger(v)) return new TypeError(`expected an integer, got ${describe(v)}`)
      if ((v as number) < 0) return new RangeError(`expected a non-negative integer, got ${v}`)
      if (kind === 'size' && (v as number) > MAX_SIZE) return new RangeError(`a size of ${v} exceeds the limit of ${MAX_SIZE}`)
      return undefined
    }
    case 'array': return Array.isArray(v) ? undefined : new TypeError(`expected an array, got ${describe(v)}`)
    case 'object': return isPlain(v) ? undefined : new TypeError(`expected a plain object, got ${describe(v)}`)
    case 'entries': {
      if (v instanceof Map || isPlain(v)) return undefined
      if (Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2)) return undefined
      return new TypeError(`expected [key, value] pairs, a Map or a plain object, got ${describe(v)}`)
    }
    case 'opts': {
      if (!isPlain(v)) return new TypeError(`expected options { block?, timeout? }, got ${describe(v)}`)
      const { block, timeout } = v
      if (block !== undefined && block !== null && typeof block !== 'boolean') return new TypeError(`block must be a boolean, got ${describe(block)}`)
      return timeoutError(timeout)
    }
    default: throw new Error(`unknown argument kind '${kind}' in a signature`)
  }
}
