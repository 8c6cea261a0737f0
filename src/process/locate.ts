import inspector from 'node:inspector'
import { isMainThread } from 'node:worker_threads'
import { realpathSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { MissingMainGuardError, UnlocatableFunctionError } from '../errors.js'
import { armWait } from '../timers.js'

/**
 * How troupe names user code so another thread or process can load it:
 * the URL of the module that defines it and the name it is exported under.
 */
export interface ModuleRef {
  url: string
  name: string
}

const cache = new WeakMap<Function, ModuleRef>()
let session: inspector.Session | undefined

// The inspector answers synchronously when the session lives in this thread,
// so locating needs no await: `[[FunctionLocation]]` gives the script id of a
// function's source, and `Debugger.enable` replays every parsed script's URL.
function post<T>(method: string, params?: object): T {
  let result: T | undefined
  let error: Error | null = null
  session!.post(method, params ?? {}, (err, res) => { error = err; result = res as T })
  if (error) throw error
  return result as T
}

/** The URL of the module whose source defines `fn`, or undefined for built-ins and eval'd code. */
export function definingModuleUrl(fn: Function): string | undefined {
  if (!session) { session = new inspector.Session(); session.connect() }
  const slot = Symbol.for('troupe.locate.target')
  const g = globalThis as Record<symbol, unknown>
  g[slot] = fn
  try {
    const { result } = post<{ result: { objectId: string } }>('Runtime.evaluate', { expression: `globalThis[Symbol.for('troupe.locate.target')]` })
    const props = post<{ internalProperties?: { name: string; value?: { value?: { scriptId: string } } }[] }>(
      'Runtime.getProperties', { objectId: result.objectId, ownProperties: true })
    post('Runtime.releaseObject', { objectId: result.objectId })
    const scriptId = props.internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value?.scriptId
    if (!scriptId) return undefined
    let url: string | undefined
    const onParsed = (ev: { params: { scriptId: string; url: string } }) => { if (ev.params.scriptId === scriptId) url = ev.params.url }
    session.on('Debugger.scriptParsed', onParsed)
    try {
      post('Debugger.enable')
      post('Debugger.disable')
    } finally {
      session.off('Debugger.scriptParsed', onParsed)
    }
    return url || undefined
  } finally {
    delete g[slot]
  }
}

function label(fn: Function): string {
  return fn.name ? `'${fn.name}'` : 'an anonymous function'
}

/** `locate(fn)`, answered at once when `fn` was located before (the common case on a hot path). */
export function locateNow(fn: Function): ModuleRef | Promise<ModuleRef> {
  return cache.get(fn) ?? locate(fn)
}

/**
 * Find the module and export name of a function or class so another thread or
 * process can import it. The result is cached per function. Fails with
 * UnlocatableFunctionError saying what to change when `fn` is not exported by
 * the module that defines it (closures, arrow functions in a local variable,
 * built-ins).
 */
export async function locate(fn: Function): Promise<ModuleRef> {
  const hit = cache.get(fn)
  if (hit) return hit
  if (typeof fn !== 'function') throw new UnlocatableFunctionError(`expected a function or class, got ${typeof fn}`)
  const url = definingModuleUrl(fn)
  if (!url || !/^(file|data):/.test(url)) {
    throw new UnlocatableFunctionError(
      `cannot locate ${label(fn)}: it is not defined in a module file (a built-in, a bound function or eval'd code). ` +
      'Define it with `export function ...` in a module, and pass that function.')
  }
  let ns: Record<string, unknown>
  try {
    const imported = await importUnlessEvaluating(url)
    if (imported === stillEvaluating) {
      // The entry module is still running its top-level await (e.g. `if (isMainModule(import.meta)) await main()`),
      // so its namespace cannot be imported yet: trust the function's own name; `load()` checks it in the worker.
      if (!fn.name || !/^[A-Za-z_$][\w$]*$/.test(fn.name)) throw new UnlocatableFunctionError(`cannot locate ${label(fn)}: its module ${url} is still evaluating and the function has no usable name`)
      const ref = { url, name: fn.name }
      cache.set(fn, ref)
      return ref
    }
    ns = imported
  } catch (err) {
    if (err instanceof UnlocatableFunctionError) throw err
    throw new UnlocatableFunctionError(`cannot locate ${label(fn)}: importing its module ${url} failed: ${(err as Error).message}`, { cause: err })
  }
  for (const [name, value] of Object.entries(ns)) {
    if (value === fn) {
      const ref = { url, name }
      cache.set(fn, ref)
      return ref
    }
  }
  throw new UnlocatableFunctionError(
    `cannot locate ${label(fn)}: it is defined in ${url} but not exported from it, so another thread or process cannot import it. ` +
    `Export it at the top level of that module (\`export function ${fn.name || 'name'}(...)\` or \`export class ...\`) and pass the exported value; ` +
    'closures and functions created at run time cannot be sent.')
}

const stillEvaluating = Symbol('still evaluating')

/**
 * `import(url)`, except for the program's entry module while its top-level
 * await is pending: importing it then would wait for itself forever.
 */
async function importUnlessEvaluating(url: string): Promise<Record<string, unknown> | typeof stillEvaluating> {
  const entry = process.argv[1]
  let isEntry = false
  try { isEntry = isMainThread && !!entry && url.startsWith('file:') && realpathSync(fileURLToPath(url)) === realpathSync(entry) } catch { /* not a file */ }
  const imported = import(url) as Promise<Record<string, unknown>>
  if (!isEntry) return imported
  let disarm = (): void => {}
  // An entry module that finished evaluating answers within a loader round trip; one under top-level await never does.
  const pending = new Promise<typeof stillEvaluating>((r) => { disarm = armWait({ timeout: 250 }, () => r(stillEvaluating), () => {}) })
  try {
    return await Promise.race([imported, pending])
  } finally {
    disarm()
  }
}

/** Import a located function or class in this thread or process. */
export async function load<T = unknown>(ref: ModuleRef): Promise<T> {
  let ns: Record<string, unknown>
  // A worker importing the program's entry module runs its top-level code: while it does, starting
  // threads or processes means the code is not guarded (see assertNotBootstrapping).
  const main = inTroupeWorker() && isProgramMain(ref.url)
  if (main) loadingMain.push(ref)
  try {
    ns = await import(ref.url) as Record<string, unknown>
  } catch (err) {
    if (err instanceof MissingMainGuardError) throw err
    throw new UnlocatableFunctionError(`cannot import ${ref.url} to load '${ref.name}': ${(err as Error).message}`, { cause: err })
  } finally {
    if (main) loadingMain.splice(loadingMain.indexOf(ref), 1)
  }
  if (!(ref.name in ns)) throw new UnlocatableFunctionError(`${ref.url} has no export named '${ref.name}'`)
  return ns[ref.name] as T
}

// ---------------------------------------------------------------- the program's entry module

let programMain: string | undefined
// Loads of the entry module in progress in this worker (normally none, or one for a moment).
const loadingMain: ModuleRef[] = []

function realUrl(url: string): string {
  try { return pathToFileURL(realpathSync(fileURLToPath(url))).href } catch { return url }
}

/** The URL of the program's entry module (the root process's `argv[1]`); workers get it at boot. */
export function programMainUrl(): string | undefined {
  if (programMain === undefined && !inTroupeWorker() && isMainThread && process.argv[1]) {
    try { programMain = pathToFileURL(realpathSync(process.argv[1])).href } catch { /* not a file */ }
  }
  return programMain
}

/** Set by the worker entry from the boot record. */
export function setProgramMainUrl(url: string | undefined): void {
  programMain = url
}

function isProgramMain(url: string): boolean {
  const main = programMainUrl()
  return main !== undefined && url.startsWith('file:') && realUrl(url) === main
}

/**
 * Refuse to start a thread, process, pool or hosted actor while this worker
 * imports the program's entry module: that module's top-level code is
 * running again here, so it lacks the `isMainModule(import.meta)` guard.
 * Without this it would start workers that import it again, without end.
 */
export function assertNotBootstrapping(what: string): void {
  if (loadingMain.length === 0) return
  const ref = loadingMain[0]!
  const file = (() => { try { return fileURLToPath(ref.url) } catch { return ref.url } })()
  throw new MissingMainGuardError(
    `${what} was started by the top-level code of ${file} while a troupe ${isMainThread ? 'child process' : 'worker thread'} imported that module to find '${ref.name}'. ` +
    'The program is missing its main-module guard: put its top-level code under `if (isMainModule(import.meta)) { ... }` ' +
    "(Python's `if __name__ == '__main__':`), so the workers that import the module only see its exports.")
}

const WORKER_FLAG = Symbol.for('troupe.inWorker')

/** Mark this thread/process as one troupe started (set by the worker entry). */
export function markTroupeWorker(): void {
  (globalThis as Record<symbol, unknown>)[WORKER_FLAG] = true
}

/** True in threads and child processes that troupe started. */
export function inTroupeWorker(): boolean {
  return (globalThis as Record<symbol, unknown>)[WORKER_FLAG] === true
}

/**
 * True when the module with this `import.meta` is the program's entry point
 * in the main thread, and false when a troupe worker imported it to find a
 * function. Guard top-level program code with it when tasks live in the entry
 * module (the `if __name__ == '__main__':` of Python's spawn).
 */
export function isMainModule(meta: ImportMeta): boolean {
  if (!isMainThread || inTroupeWorker() || !process.argv[1]) return false
  try {
    return realpathSync(fileURLToPath(meta.url)) === realpathSync(process.argv[1])
  } catch {
    return false
  }
}
