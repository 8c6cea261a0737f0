/**
 * Translation between Python's view of a shared object and troupe's: method
 * names (`task_done` <-> `taskDone`), blocking arguments (`get(True, 0.1)` /
 * `get(timeout=0.1)` in seconds <-> `get({ block, timeout })` in ms), and
 * errors (troupe `Empty` <-> `queue.Empty`).
 */
import { pyException, pyText, PyFloat, PyGlobal, PyObject, isPyException, tuple, tupleFrom, type Tuple, type PyFlavor } from '../../codec/index.js'
import { fromWireError } from '../../codec/index.js'
import { RemoteError } from '../../errors.js'
import { PyError, pyRaise } from './call.js'
import { faceError } from './faces.js'

/** `taskDone` -> `task_done` (how Python code spells troupe's method names). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** `task_done` -> `taskDone`. Dunder names stay as they are. */
export function camelCase(name: string): string {
  if (name.startsWith('__')) return name
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase())
}

/** The exposed names a Python client should see for a troupe object. */
export function pythonExposed(exposed: readonly string[]): Tuple<string> {
  return tuple(...exposed.map(snakeCase)) as Tuple<string>
}

// Python's container protocol (what SyncManager's DictProxy/ListProxy call) onto troupe's shared containers.
const DUNDER: Record<string, readonly string[]> = {
  __getitem__: ['get'], __setitem__: ['set'], __delitem__: ['delete'], __contains__: ['has'], __len__: ['size', 'length'],
}

/** The troupe method a Python method name means on this object, or undefined when it is not exposed. */
export function troupeMethod(name: string, exposed: readonly string[]): string | undefined {
  if (exposed.includes(name)) return name
  const camel = camelCase(name)
  if (exposed.includes(camel)) return camel
  return DUNDER[name]?.find((m) => exposed.includes(m))
}

// Python's blocking signatures: leading value arguments, then the (block, timeout) style parameters.
const BLOCKING: Record<string, { lead: number; params: readonly string[]; queueOnly?: boolean }> = {
  put: { lead: 1, params: ['block', 'timeout'], queueOnly: true },
  get: { lead: 0, params: ['block', 'timeout'], queueOnly: true },
  acquire: { lead: 0, params: ['blocking', 'timeout'] },
  wait: { lead: 0, params: ['timeout'] },
}

/** A Python number (int, float, PyFloat) as a JS number, or undefined. */
function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof PyFloat) return v.value
  return undefined
}

/**
 * Arguments of a Python call as troupe arguments. For blocking methods the
 * Python `block`/`timeout` (seconds) become troupe's `{ block, timeout }` (ms);
 * otherwise positional args pass through and keyword args, if any, become a
 * trailing plain object.
 */
export function troupeArgs(obj: unknown, method: string, args: readonly unknown[], kwds: Map<unknown, unknown> | undefined): unknown[] {
  const kw = new Map<string, unknown>()
  if (kwds) for (const [k, v] of kwds) kw.set(pyText(k) ?? String(k), v)
  const spec = BLOCKING[method]
  const isQueue = typeof (obj as { getNowait?: unknown })?.getNowait === 'function'
  if (spec && (!spec.queueOnly || isQueue)) {
    const out = args.slice(0, spec.lead)
    const given = new Map<string, unknown>()
    spec.params.forEach((p, i) => { if (args.length > spec.lead + i) given.set(p, args[spec.lead + i]) })
    for (const [k, v] of kw) given.set(k, v)
    const opts: { block?: boolean; timeout?: number } = {}
    const block = given.get('block') ?? given.get('blocking')
    if (block === false || block === 0) opts.block = false
    const t = num(given.get('timeout'))
    // Python: None (or acquire's -1) means wait forever; seconds become milliseconds. Below 0 a queue refuses
    // (queue.Queue's ValueError), a lock too (other than -1), and a wait returns at once (threading's rule).
    if (t !== undefined && t >= 0) opts.timeout = t * 1000
    else if (t !== undefined && method === 'wait') opts.timeout = 0
    else if (t !== undefined && method === 'acquire' && t !== -1) throw pyRaise('ValueError', 'timeout value must be a non-negative number')
    else if (t !== undefined && method !== 'acquire' && opts.block !== false) throw pyRaise('ValueError', "'timeout' must be a non-negative number")
    if (opts.block !== undefined || opts.timeout !== undefined) out.push(opts)
    return out
  }
  const out = [...args]
  if (kw.size) out.push(Object.fromEntries(kw))
  return out
}

/**
 * How an error thrown by a troupe object reaches a Python client: errors with
 * a Python twin go as that exception (`#ERROR`, so `except queue.Empty` works),
 * the rest as a `#TRACEBACK` text that Python raises as RemoteError.
 */
export function pythonError(err: unknown, origin: string, flavor: PyFlavor = {}): ['#ERROR', PyObject] | ['#TRACEBACK', string] {
  const e = err instanceof Error ? err : new Error(String(err))
  const py: PyError | undefined = e instanceof PyError ? e : faceError(e, flavor)
  if (py) return ['#ERROR', new PyObject(new PyGlobal(py.pyModule, py.pyName), tupleFrom([...py.pyArgs]))]
  switch (e.name) {
    case 'Empty': return ['#ERROR', pyException('queue', 'Empty')]
    case 'Full': return ['#ERROR', pyException('queue', 'Full')]
    case 'TaskDoneError': return ['#ERROR', pyException('builtins', 'ValueError', 'task_done() called too many times')]
    case 'TimeoutError': return ['#ERROR', pyException('builtins', 'TimeoutError', e.message)]
    case 'TypeError': return ['#ERROR', pyException('builtins', 'TypeError', e.message)]
    case 'RangeError': return ['#ERROR', pyException('builtins', 'ValueError', e.message)]
    default: return ['#TRACEBACK', tracebackText(e, origin)]
  }
}

/** A Python-style traceback text for an error raised in troupe, naming where it happened. */
export function tracebackText(e: Error, origin: string): string {
  const frames = (e.stack ?? '').split('\n').slice(1).map((l) => `  ${l.trim()}`).join('\n')
  return `Traceback (most recent call last):\n  [troupe manager ${origin}]\n${frames}\n${e.name}: ${e.message}\n`
}

/**
 * An exception a Python server sent (`#ERROR`) as a JS error: `queue.Empty`
 * and `queue.Full` become troupe's Empty and Full, others keep their Python
 * class name (`err.name === 'KeyError'`), all with `origin` set.
 */
export function errorFromPython(value: unknown, origin: string): Error {
  if (isPyException(value)) {
    const args = value.args.map((a) => pyText(a) ?? safeRepr(a))
    const name = value.callable.name
    return fromWireError({ name, message: args.join(', ') || name, stack: `${value.type}: ${args.join(', ')}`, origin, props: { pythonType: value.type } })
  }
  const err = new RemoteError(`Python server sent an error value troupe cannot read: ${safeRepr(value)}`)
  err.origin = origin
  return err
}

/** A `#TRACEBACK` text from a Python server as a RemoteError carrying the remote traceback. */
export function tracebackError(text: string, origin: string): RemoteError {
  const last = text.trim().split('\n').pop() ?? 'remote error'
  const err = new RemoteError(`Python raised ${last}`)
  err.origin = origin
  err.remoteStack = text
  return err
}

function safeRepr(v: unknown): string {
  try { return typeof v === 'string' ? v : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}` : x)) ?? String(v) } catch { return String(v) }
}
