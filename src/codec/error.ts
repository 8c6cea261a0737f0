import { errorClasses, TroupeError } from '../errors.js'

/** An error as it travels between places: plain data every codec can carry. */
export interface WireError {
  name: string
  message: string
  stack: string
  /** Where it was thrown: `worker 2 (thread 5)`, `pid 4242`, `127.0.0.1:5000`. */
  origin: string
  /** Own enumerable properties that could be sent (`code`, `errno`, user fields). */
  props: Record<string, unknown>
  cause?: WireError
}

const builtins: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
}

function plainProps(err: object): Record<string, unknown> {
  const props: Record<string, unknown> = {}
  for (const key of Object.keys(err)) {
    if (key === 'origin' || key === 'remoteStack' || key === 'cause') continue
    const v = (err as Record<string, unknown>)[key]
    const t = typeof v
    // Only data that every codec carries; anything else is described, not dropped silently.
    if (v === null || t === 'string' || t === 'number' || t === 'boolean') props[key] = v
    else if (t === 'bigint') props[key] = v
    else if (t === 'object') {
      try { props[key] = JSON.parse(JSON.stringify(v)) } catch { props[key] = String(v) }
    }
  }
  return props
}

/** Turn anything thrown into a WireError, stamped with the place it came from. */
export function toWireError(err: unknown, origin: string): WireError {
  if (err instanceof Error) {
    const wire: WireError = {
      name: err.name || err.constructor?.name || 'Error',
      message: err.message,
      stack: err.stack ?? `${err.name}: ${err.message}`,
      origin: (err as TroupeError).origin ? `${(err as TroupeError).origin} via ${origin}` : origin,
      props: plainProps(err),
    }
    if (err.cause !== undefined) wire.cause = toWireError(err.cause, origin)
    return wire
  }
  return { name: 'Error', message: `non-Error value thrown: ${safeString(err)}`, stack: '', origin, props: { thrown: safeString(err) } }
}

function safeString(v: unknown): string {
  try { return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v) } catch { return String(v) }
}

/**
 * Rebuild an Error from a WireError: the same class when it is a builtin or a
 * troupe error, otherwise an Error whose `name` is the remote class name. The
 * stack shows the local frames after the remote ones, marked by origin.
 */
export function fromWireError(wire: WireError): Error {
  const Cls = builtins[wire.name] ?? errorClasses[wire.name]
  const err: Error & { origin?: string; remoteStack?: string } = Cls ? new Cls(wire.message) : new Error(wire.message)
  if (!Cls) Object.defineProperty(err, 'name', { value: wire.name, enumerable: false, configurable: true, writable: true })
  Object.assign(err, wire.props)
  err.origin = wire.origin
  err.remoteStack = wire.stack
  const localFrames = (err.stack ?? '').split('\n').slice(1).join('\n')
  err.stack = `${wire.stack || `${wire.name}: ${wire.message}`}\n    [received from ${wire.origin}]\n${localFrames}`
  if (wire.cause) (err as { cause?: unknown }).cause = fromWireError(wire.cause)
  return err
}
