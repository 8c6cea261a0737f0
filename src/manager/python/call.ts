/**
 * Calling a served object the way CPython calls it: arguments bound to a
 * Python signature (wrong arity, unknown or repeated keywords raise
 * TypeError, as they do in CPython's server), Python's timeout conventions,
 * and Python exceptions raised by class (`KeyError((1, 2))`, not a message).
 */
import { isPyNumber, pyNumberValue, pyRepr, pyTypeName, pyText } from '../../codec/index.js'

/** A Python exception to raise in the client: its class (`module`, `name`) and its args. */
export class PyError extends Error {
  constructor(readonly pyModule: string, readonly pyName: string, readonly pyArgs: unknown[], message?: string) {
    super(message ?? pyArgs.map((a) => (typeof a === 'string' ? a : pyRepr(a))).join(', '))
    this.name = pyName
  }
}

/** Raise the builtin exception `name` with `args` (`raise KeyError(key)`). */
export function pyRaise(name: string, ...args: unknown[]): PyError {
  return new PyError('builtins', name, args)
}

/** A parsed signature: positional(-or-keyword) names, which are optional, `/` and `*` markers, `*args` and `**kw`. */
export interface Signature {
  readonly name: string
  readonly params: readonly { name: string; optional: boolean; positionalOnly: boolean; keywordOnly: boolean }[]
  readonly varargs?: string
  readonly varkw?: string
}

/**
 * A signature written as Python writes one: `sig('get', 'block?', 'timeout?')`.
 * A `?` marks a parameter with a default (the method supplies it), `/` ends the
 * positional-only ones (C methods: `list.append(x, /)`), `*` starts the
 * keyword-only ones, `*args` and `**kw` collect the rest.
 */
export function sig(name: string, ...spec: string[]): Signature {
  const params: { name: string; optional: boolean; positionalOnly: boolean; keywordOnly: boolean }[] = []
  let varargs: string | undefined
  let varkw: string | undefined
  let keywordOnly = false
  for (const s of spec) {
    if (s === '/') { for (const p of params) p.positionalOnly = true; continue }
    if (s === '*') { keywordOnly = true; continue }
    if (s.startsWith('**')) { varkw = s.slice(2); continue }
    if (s.startsWith('*')) { varargs = s.slice(1); keywordOnly = true; continue }
    params.push({ name: s.replace(/\?$/, ''), optional: s.endsWith('?'), positionalOnly: false, keywordOnly })
  }
  return { name, params, varargs, varkw }
}

/** Bound arguments: each parameter's value (undefined when defaulted), plus `*args` / `**kw` when declared. */
export type Bound = Record<string, unknown> & { args?: unknown[]; kw?: Map<string, unknown> }

/** Bind a call's `args` and `kwds` to `s` as CPython does, raising TypeError for a call that does not fit. */
export function bind(s: Signature, args: readonly unknown[], kwds: Map<unknown, unknown> | undefined): Bound {
  const out: Bound = {}
  const positional = s.params.filter((p) => !p.keywordOnly)
  if (args.length > positional.length && !s.varargs) {
    const max = positional.length
    const min = positional.filter((p) => !p.optional).length
    throw pyRaise('TypeError', `${s.name}() takes ${min === max ? `${max}` : `from ${min} to ${max}`} positional argument${max === 1 ? '' : 's'} but ${args.length} ${args.length === 1 ? 'was' : 'were'} given`)
  }
  positional.forEach((p, i) => { if (i < args.length) out[p.name] = args[i] })
  if (s.varargs) out[s.varargs] = args.slice(positional.length)
  const extra = new Map<string, unknown>()
  for (const [k, v] of kwds ?? []) {
    const key = pyText(k)
    if (key === undefined) throw pyRaise('TypeError', 'keywords must be strings')
    const p = s.params.find((q) => q.name === key)
    if (!p || p.positionalOnly) {
      if (s.varkw) { extra.set(key, v); continue }
      throw pyRaise('TypeError', `${s.name}() got an unexpected keyword argument '${key}'`)
    }
    if (key in out) throw pyRaise('TypeError', `${s.name}() got multiple values for argument '${key}'`)
    out[key] = v
  }
  if (s.varkw) out[s.varkw] = extra
  const missing = s.params.filter((p) => !p.optional && !(p.name in out))
  if (missing.length) throw pyRaise('TypeError', `${s.name}() missing ${missing.length} required argument${missing.length > 1 ? 's' : ''}: ${missing.map((p) => `'${p.name}'`).join(' and ')}`)
  return out
}

/** The largest wait a JS timer can express (ms); Python waits this long or longer are "forever". */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A Python timeout in seconds as troupe's milliseconds: None (or a wait longer
 * than a timer can hold) is forever (undefined). Not a number: TypeError, as
 * CPython's comparison `timeout < 0` raises.
 */
export function timeoutMs(timeout: unknown, what = 'timeout'): number | undefined {
  if (timeout === null || timeout === undefined) return undefined
  if (!isPyNumber(timeout)) throw pyRaise('TypeError', `'${what}' must be a real number, not ${pyTypeName(timeout)}`)
  const ms = pyNumberValue(timeout) * 1000
  return ms > MAX_TIMER_MS ? undefined : Math.max(0, ms)
}
