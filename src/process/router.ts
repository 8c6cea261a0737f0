/**
 * Place-to-place references. Every place troupe runs code in (the main
 * thread, each troupe thread or child process, recursively) has an address
 * shaped like a path: the root is its pid (`"4242"`), a child is its parent's
 * address plus a number (`"4242/3"`, `"4242/3/1"`). An object served in one
 * place gets an ObjectAddress `{ place, id }`; any other place can `connect()`
 * to it and send requests and notifications. Frames travel over the Endpoint
 * links only: down to a child when the target is under it, else up to the
 * parent, so siblings and grandchildren reach each other through their
 * common ancestor.
 *
 * Failure never hangs a caller: when a link ends, its place and everything
 * under it are announced "down" across the tree; pending requests to those
 * places reject with ConnectionClosedError, and handlers serving requests
 * from them see their `ctx.signal` abort.
 */
import { marshal, unmarshal, toWireError, fromWireError, PORTABLE_TAG, type WireError } from '../codec/index.js'
import { AbortError, ClosedError, ConnectionClosedError } from '../errors.js'
import { hold, release } from '../timers.js'
import { placeLabel } from './place.js'

/** Where a served object lives: the place's address and the object's id there. */
export interface ObjectAddress {
  place: string
  id: number
}

/** What a handler learns about a request besides its arguments. */
export interface RequestContext {
  /** Address of the place that sent it. */
  from: string
  /** Aborts when the caller cancels (its `signal`) or the caller's place ends. */
  signal: AbortSignal
  /** Move `buffer` (inside the reply) to the caller instead of copying it, over thread links; absent for a caller in this place. The handler must not use it after replying. */
  transfer?(buffer: ArrayBuffer): void
}

/** Answers requests (its return value, awaited, is the reply) and notifications (return value ignored). */
export type Handler = (method: string, args: unknown[], ctx: RequestContext) => unknown

/** An object this place serves; `close()` stops answering (later requests reject with ClosedError). */
export interface Served {
  readonly address: ObjectAddress
  close(): void
}

/** Options of `Remote.request`. */
export interface RequestOptions {
  /** Cancels: the server's handler sees `ctx.signal` abort and its answer settles the call. */
  signal?: AbortSignal
  /** The args already went through `marshal` (hot paths that check values as they are buffered): whether they hold portables. */
  marshalled?: { portables: boolean }
  /** ArrayBuffers inside `args` to move instead of copy over thread links (the caller must not use them after). */
  transfer?: ArrayBuffer[]
}

/** A connection to a served object, usable from any place (including its own). */
export interface Remote {
  readonly address: ObjectAddress
  /** Call `method`; resolves with the handler's result or rejects with its error (class, message, remote stack, origin kept). */
  request<T = unknown>(method: string, args: unknown[], opts?: RequestOptions): Promise<T>
  /** Fire and forget; dropped silently when the place is gone. */
  notify(method: string, args: unknown[]): void
}

// `t`: ArrayBuffers inside the frame that each thread link moves rather than copies. They travel in the
// frame itself (structured clone keeps identity), so a place forwarding it moves them on as well.
type Frame =
  | { $r: 'req'; to: string; from: string; obj: number; cid: number; m: string; a: unknown[]; p: boolean; t?: ArrayBuffer[] }
  | { $r: 'ntf'; to: string; from: string; obj: number; m: string; a: unknown[]; p: boolean }
  | { $r: 'res'; to: string; from: string; cid: number; v?: unknown; e?: WireError; p: boolean; t?: ArrayBuffer[] }
  | { $r: 'cancel'; to: string; from: string; cid: number }
  | { $r: 'down'; place: string }

type Out = (frame: Frame) => void

interface Pending { to: string; resolve(v: unknown): void; reject(e: unknown): void }

let here = String(process.pid)
let parent: Out | undefined
const children = new Map<string, Out>()
let childSeq = 0
const served = new Map<number, Handler>()
let objSeq = 0
const pending = new Map<number, Pending>()
let callSeq = 0
const active = new Map<string, { from: string; ctl: AbortController }>()
const downListeners = new Set<(place: string) => void>()
const exitHooks = new Set<() => unknown>()
const never = new AbortController().signal

/** True for messages that belong to the router rather than to a runtime. */
export function isRouterFrame(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && typeof (msg as { $r?: unknown }).$r === 'string'
}

/** This place's address (`"4242"`, `"4242/3/1"`). */
export function placeAddress(): string {
  return here
}

/** Whether `place` is `ancestor` or lives under it. */
export function isUnder(place: string, ancestor: string): boolean {
  return place === ancestor || (place.startsWith(ancestor) && place.charCodeAt(ancestor.length) === 47 /* '/' */)
}

/** Serve `handler` from this place; the returned address can be sent anywhere (inside a portable's data). */
export function serve(handler: Handler): Served {
  const id = ++objSeq
  served.set(id, handler)
  return { address: { place: here, id }, close: () => { served.delete(id) } }
}

/** Connect to an object served in any place. */
export function connect(address: ObjectAddress): Remote {
  return {
    address,
    request: <T>(method: string, args: unknown[], opts?: RequestOptions) => request<T>(address, method, args, opts?.signal, opts?.marshalled, opts?.transfer),
    notify: (method: string, args: unknown[]) => notify(address, method, args),
  }
}

/** Call `fn(place)` whenever a place (and so everything under it) is known to have ended; returns an unsubscribe. */
export function onPlaceDown(fn: (place: string) => void): () => void {
  downListeners.add(fn)
  return () => { downListeners.delete(fn) }
}

/** Run `fn` before this place exits at the end of a Process target (e.g. flush buffered puts); returns an unsubscribe. */
export function beforePlaceExit(fn: () => unknown): () => void {
  exitHooks.add(fn)
  return () => { exitHooks.delete(fn) }
}

/** Run every `beforePlaceExit` hook (the Process runtime calls this after the target returns). */
export async function runPlaceExitHooks(): Promise<void> {
  for (const fn of [...exitHooks]) {
    try { await fn() } catch (err) { process.emitWarning(`troupe: an exit hook failed: ${(err as Error).message}`) }
  }
}

function request<T>(address: ObjectAddress, method: string, args: unknown[], signal?: AbortSignal, marshalled?: { portables: boolean }, transfer?: ArrayBuffer[]): Promise<T> {
  if (address.place === here) {
    // Same place: call the handler directly, values pass by reference as in any local call.
    const handler = served.get(address.id)
    if (!handler) return Promise.reject(new ClosedError(`object ${address.id} in place ${here} is no longer served`))
    try {
      return Promise.resolve(handler(method, args, { from: here, signal: signal ?? never }) as T)
    } catch (err) {
      return Promise.reject(err)
    }
  }
  const m = marshalled ? { value: args, portables: marshalled.portables } : marshal(args, 'args')
  const cid = ++callSeq
  return new Promise<T>((resolve, reject) => {
    // A request in flight keeps this place alive until answered, even over an unref'd link (timers.ts).
    hold()
    if (signal) {
      // The server decides what a cancelled call returns, so the reply (or a down notice) still settles it.
      const onAbort = () => deliver({ $r: 'cancel', to: address.place, from: here, cid })
      if (signal.aborted) queueMicrotask(onAbort)
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        const off = () => signal.removeEventListener('abort', onAbort)
        pending.set(cid, { to: address.place, resolve: (v) => { off(); resolve(v as T) }, reject: (e) => { off(); reject(e) } })
      }
    }
    if (!pending.has(cid)) pending.set(cid, { to: address.place, resolve: resolve as (v: unknown) => void, reject })
    deliver({ $r: 'req', to: address.place, from: here, obj: address.id, cid, m: method, a: m.value as unknown[], p: m.portables, t: transfer?.length ? transfer : undefined })
  })
}

function notify(address: ObjectAddress, method: string, args: unknown[]): void {
  if (address.place === here) {
    const handler = served.get(address.id)
    if (handler) runNotify(handler, method, args, here)
    return
  }
  const m = marshal(args, 'args')
  deliver({ $r: 'ntf', to: address.place, from: here, obj: address.id, m: method, a: m.value as unknown[], p: m.portables })
}

function runNotify(handler: Handler, method: string, args: unknown[], from: string): void {
  try {
    const r = handler(method, args, { from, signal: never }) as Promise<unknown> | undefined
    if (r && typeof r.then === 'function') r.then(undefined, warnNotify)
  } catch (err) {
    warnNotify(err)
  }
}

function warnNotify(err: unknown): void {
  process.emitWarning(`troupe: a notification handler failed: ${(err as Error)?.message ?? String(err)}`)
}

function nextHop(to: string): Out | 'local' | undefined {
  if (to === here) return 'local'
  if (isUnder(to, here)) {
    const rest = to.slice(here.length + 1)
    const slash = rest.indexOf('/')
    return children.get(`${here}/${slash < 0 ? rest : rest.slice(0, slash)}`)
  }
  return parent
}

function deliver(frame: Frame, source?: Out): void {
  if (frame.$r === 'down') return placeDown(frame.place, source)
  const hop = nextHop(frame.to)
  if (hop === 'local') return handleLocal(frame)
  if (!hop) return bounce(frame, new ConnectionClosedError(`no route to place ${frame.to}: it has ended or is not reachable from ${here}`))
  try {
    hop(frame)
  } catch (err) {
    bounce(frame, err)
  }
}

/** A request that cannot go on gets its error as the reply; other frames are dropped. */
function bounce(frame: Frame, err: unknown): void {
  if (frame.$r === 'req') deliver({ $r: 'res', to: frame.from, from: here, cid: frame.cid, e: toWireError(err, placeLabel()), p: false })
}

// Portables may name the module that registers their reviver (`data.module`); a place that never imported it
// imports it before reviving. Frames wait behind such an import so their order is kept.
const importedModules = new Set<string>()
let importChain: Promise<void> | undefined
let chained = 0

/** Run `fn` after the frames already waiting for an import, keeping arrival order. */
function afterImports(fn: () => unknown): void {
  chained++
  importChain = (importChain ?? Promise.resolve()).then(fn).then(() => {}, warnNotify).finally(() => { if (--chained === 0) importChain = undefined })
}

function modulesToImport(v: unknown, out: Set<string>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 64 || ArrayBuffer.isView(v)) return
  if (Array.isArray(v)) { for (const x of v) modulesToImport(x, out, depth + 1); return }
  if (v instanceof Map) { for (const x of v.values()) modulesToImport(x, out, depth + 1); return }
  const rec = v as Record<string, unknown>
  if (typeof rec[PORTABLE_TAG] === 'string') {
    const mod = (rec.data as { module?: unknown } | undefined)?.module
    if (typeof mod === 'string' && !importedModules.has(mod)) out.add(mod)
  }
  for (const key of Object.keys(rec)) modulesToImport(rec[key], out, depth + 1)
}

/**
 * Revive a value that arrived from another place, importing first the modules
 * its portables name (`data.module`) so their revivers are registered.
 */
export async function reviveAsync(value: unknown): Promise<unknown> {
  const mods = new Set<string>()
  modulesToImport(value, mods)
  for (const url of mods) { await import(url); importedModules.add(url) }
  return unmarshal(value, true)
}

function handleLocal(frame: Exclude<Frame, { $r: 'down' }>): void {
  if (importChain) return afterImports(() => handleLocalNow(frame))
  if ((frame.$r === 'req' || frame.$r === 'ntf' || frame.$r === 'res') && frame.p) {
    const mods = new Set<string>()
    modulesToImport(frame.$r === 'res' ? frame.v : frame.a, mods)
    if (mods.size) {
      return afterImports(async () => {
        for (const url of mods) { try { await import(url) } catch { /* unmarshal will name the missing reviver */ } importedModules.add(url) }
        handleLocalNow(frame)
      })
    }
  }
  handleLocalNow(frame)
}

function handleLocalNow(frame: Exclude<Frame, { $r: 'down' }>): void {
  switch (frame.$r) {
    case 'req': {
      const handler = served.get(frame.obj)
      let moves: ArrayBuffer[] | undefined
      const reply = (v: unknown) => {
        let m
        try { m = marshal(v, 'result') } catch (err) { return fail(err) }
        deliver({ $r: 'res', to: frame.from, from: here, cid: frame.cid, v: m.value, p: m.portables, t: moves })
      }
      const fail = (err: unknown) => deliver({ $r: 'res', to: frame.from, from: here, cid: frame.cid, e: toWireError(err, placeLabel()), p: false })
      if (!handler) return fail(new ClosedError(`object ${frame.obj} in place ${here} is no longer served`))
      const key = `${frame.from}#${frame.cid}`
      const ctl = new AbortController()
      let result: unknown
      try {
        result = handler(frame.m, (frame.p ? unmarshal(frame.a) : frame.a) as unknown[], { from: frame.from, signal: ctl.signal, transfer: (b) => { (moves ??= []).push(b) } })
      } catch (err) {
        return fail(err)
      }
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        active.set(key, { from: frame.from, ctl })
        ;(result as Promise<unknown>).then(reply, fail).finally(() => active.delete(key))
      } else reply(result)
      return
    }
    case 'ntf': {
      const handler = served.get(frame.obj)
      if (!handler) return
      let args: unknown[]
      try { args = (frame.p ? unmarshal(frame.a) : frame.a) as unknown[] } catch (err) { return warnNotify(err) }
      return runNotify(handler, frame.m, args, frame.from)
    }
    case 'res': {
      const p = pending.get(frame.cid)
      if (!p) return
      pending.delete(frame.cid)
      release()
      if (frame.e) return p.reject(fromWireError(frame.e))
      try { p.resolve(frame.p ? unmarshal(frame.v) : frame.v) } catch (err) { p.reject(err) }
      return
    }
    case 'cancel':
      active.get(`${frame.from}#${frame.cid}`)?.ctl.abort(new AbortError('the caller cancelled this request'))
  }
}

function placeDown(place: string, source?: Out): void {
  for (const [cid, p] of pending) {
    if (isUnder(p.to, place)) {
      pending.delete(cid)
      release()
      p.reject(new ConnectionClosedError(`place ${place} ended while a request to it was pending`))
    }
  }
  for (const [key, a] of active) {
    if (isUnder(a.from, place)) { active.delete(key); a.ctl.abort(new ConnectionClosedError(`place ${place} ended`)) }
  }
  for (const fn of [...downListeners]) {
    try { fn(place) } catch (err) { warnNotify(err) }
  }
  // Tell the rest of the tree, never back where it came from (the tree has no cycles).
  const frame: Frame = { $r: 'down', place }
  if (parent && parent !== source) { try { parent(frame) } catch { /* parent gone: nothing to tell */ } }
  for (const [addr, out] of children) {
    if (out !== source && !isUnder(addr, place)) { try { out(frame) } catch { /* child gone: its own down follows */ } }
  }
}

/** @internal A link's view of a frame: what a thread link moves with it (undefined: nothing). */
export function frameTransfer(frame: unknown): ArrayBuffer[] | undefined {
  return (frame as { t?: ArrayBuffer[] }).t
}

/** @internal A frame as a process link sends it: IPC copies every buffer anyway, and the list would be written twice. */
export function withoutTransfer(frame: unknown): unknown {
  return (frame as { t?: ArrayBuffer[] }).t ? { ...(frame as object), t: undefined } : frame
}

/** @internal Endpoint: register a new child link; returns its address, the inbound path and the detach to call when it ends. */
export function attachChild(send: Out): { address: string; deliver(frame: unknown): void; detach(): void } {
  const address = `${here}/${++childSeq}`
  children.set(address, send)
  return {
    address,
    deliver: (frame) => deliver(frame as Frame, send),
    detach: () => {
      if (children.get(address) !== send) return
      children.delete(address)
      placeDown(address, send)
    },
  }
}

/** @internal Worker entry: adopt the address the parent gave this place and the link up to it; returns the inbound path. */
export function attachParent(address: string, send: Out): (frame: unknown) => void {
  here = address
  parent = send
  return (frame) => deliver(frame as Frame, send)
}
