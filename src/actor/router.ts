/**
 * Moves frames between the places of one troupe. Places form the spawn tree
 * (see place.ts). Between a place and the actor hosts it spawned, frames ride
 * the actor channel (batched, see channel.ts): down when the destination is
 * below us, otherwise up. A destination outside that tree of actor hosts (a
 * Process target, a pool worker, a sibling reached only through them) is
 * reached through the process layer's router: every place serves one
 * gateway object, and refs carry its address (`gw`). Every place handles the
 * frames addressed to it here: deliveries to its actors, replies to its asks,
 * control, and death-watch notices.
 */
import { fromWireError, marshal, toWireError, unmarshal, type WireError } from '../codec/index.js'
import { ActorStoppedError, WorkerCrashedError } from '../errors.js'
import { connect, isUnder, onPlaceDown, placeLabel, serve, type ObjectAddress } from '../process/index.js'
import type { StopReason } from './actor.js'
import { K_FRAME, type Outbox } from './channel.js'
import { lookup, type Address } from './entity.js'
import type { ReplyTo } from './mailbox.js'
import { pendingById, pendingWhere } from './pending.js'
import { placeId } from './place.js'

/** A frame between places; `to` is the destination place id. */
/** `gw`: the destination place's gateway, used when the actor channels do not reach it. */
export type Frame =
  | { t: 'd'; to: string; gw?: ObjectAddress; id: number; m: unknown; p: boolean; rp?: string; ra?: number; rgw?: ObjectAddress }
  | { t: 'r'; to: string; gw?: ObjectAddress; a: number; ok: boolean; v: unknown; p: boolean }
  | { t: 'c'; to: string; gw?: ObjectAddress; id: number; op: 'close' | 'stop' }
  | { t: 'w'; to: string; gw?: ObjectAddress; id: number; wp: string; wi: number; wgw?: ObjectAddress }
  | { t: 'uw'; to: string; gw?: ObjectAddress; id: number; wp: string; wi: number }
  | { t: 'x'; to: string; gw?: ObjectAddress; wi: number; reason: EncodedReason }
  | { t: string; to: string; gw?: ObjectAddress; [k: string]: unknown }

/** A stop reason as it travels: the string, or the error as a WireError. */
export type EncodedReason = string | WireError

let parent: Outbox | undefined
const children = new Map<string, Outbox>()
const handlers = new Map<string, (frame: any) => void>()
let deadLetters = 0

/** Set the channel to the parent place (actor hosts only). */
export function setParent(out: Outbox): void {
  parent = out
}

/** Route frames for `childPlace` (and everything below it) into `out`. */
export function addChild(childPlace: string, out: Outbox): void {
  children.set(childPlace, out)
}

/** Stop routing into a child place (its host ended); the process router announces the place down. */
export function removeChild(childPlace: string): void {
  children.delete(childPlace)
}

// A place that ended (announced by the process router through the whole tree): asks and watches aimed into it
// cannot be answered any more, so they settle now instead of waiting.
onPlaceDown((place) => {
  for (const p of knownGateways.keys()) if (isUnder(p, place)) knownGateways.delete(p)
  const cause = new ActorStoppedError(`place ${place} ended`)
  for (const p of pendingWhere((p) => p.target !== undefined && isUnder(p.target, place))) {
    p.fail(new ActorStoppedError(`the place ${p.target} holding the actor ended before answering`, { cause }))
  }
  for (const [wi, w] of watches) {
    if (isUnder(w.place, place)) { watches.delete(wi); w.fn(cause) }
  }
})

let gateway: ObjectAddress | undefined
// Gateways of other places learned from refs that arrived here: how a plain Process target finds the root for subjects.
const knownGateways = new Map<string, ObjectAddress>()

/** Remember another place's gateway (from a ref that arrived here). */
export function rememberGateway(gw: ObjectAddress | undefined): void {
  if (gw && gw.place !== placeId() && !knownGateways.has(gw.place)) knownGateways.set(gw.place, gw)
}
const reviverModule = new URL(import.meta.url.endsWith('.ts') ? './remote.ts' : './remote.js', import.meta.url).href

/** The address refs to entity `id` of this place carry to other places. */
export function localAddress(id: number, name: string): Address {
  return { place: placeId(), id, name, gw: gatewayAddress(), module: reviverModule }
}

/** The address of this place's gateway (served on first use): frames from places outside the actor channels come in here. */
export function gatewayAddress(): ObjectAddress {
  gateway ??= serve((method, args) => {
    if (method === 'frame') handle(args[0] as Frame)
  }).address
  return gateway
}

/** Handle frames of type `t` addressed to this place (subjects register here). */
export function onFrame(t: string, fn: (frame: any) => void): void {
  handlers.set(t, fn)
}

/** Send a frame to its place. */
export function route(frame: Frame): void {
  const me = placeId()
  const to = frame.to
  if (to === me) return handle(frame)
  if (to.startsWith(`${me}/`)) {
    const slash = to.indexOf('/', me.length + 1)
    const child = children.get(slash < 0 ? to : to.slice(0, slash))
    if (child) return child.post(K_FRAME, frame)
  } else if (parent) return parent.post(K_FRAME, frame)
  // Not on an actor channel: through the process router to the destination's gateway.
  const gw = frame.gw && frame.gw.place === to ? frame.gw : knownGateways.get(to)
  if (gw) {
    try {
      return connect(gw).notify('frame', [frame])
    } catch { /* unsendable or no route: undeliverable below */ }
  }
  undeliverable(frame)
}

function undeliverable(frame: Frame): void {
  if (frame.t === 'd' && (frame as { rp?: string }).rp) {
    const f = frame as { rp: string; ra: number; rgw?: ObjectAddress; to: string; id: number }
    replyTo(f.rp, f.ra, f.rgw).settle(false, new ActorStoppedError(`no actor ${f.id} at place ${f.to}: that place is gone or unreachable from here`))
  } else if (frame.t === 'w') {
    const f = frame as { wp: string; wi: number; wgw?: ObjectAddress; to: string }
    route({ t: 'x', to: f.wp, gw: f.wgw, wi: f.wi, reason: encodeReason(new ActorStoppedError(`place ${f.to} is gone or unreachable`)) })
  } else deadLetters++
}

/** Messages that found no one (sent to ended actors or unreachable places). */
export function deadLetterCount(): number {
  return deadLetters
}

/** A reply token for an ask that came from another place. */
export function replyTo(place: string, askId: number, gw?: ObjectAddress): ReplyTo {
  return answerWith((ok, v, p) => route({ t: 'r', to: place, gw, a: askId, ok, v, p }))
}

/**
 * A reply token that hands the answer, made ready for another place, to `send`: the value
 * marshalled (`p`: it holds portables), or the error (or a value that cannot be sent) as a WireError.
 */
export function answerWith(send: (ok: boolean, v: unknown, p: boolean) => void): ReplyTo {
  let done = false
  return {
    settle(ok: boolean, value: unknown): void {
      if (done) return
      done = true
      if (ok) {
        let m
        try {
          m = marshal(value, 'reply')
        } catch (err) {
          send(false, toWireError(err, placeLabel()), false)
          return
        }
        send(true, m.value, m.portables)
      } else send(false, toWireError(value, placeLabel()), false)
    },
  }
}

/** Settle this place's ask `askId` with an answer that came from another place (see answerWith). */
export function settleAnswer(askId: number, ok: boolean, v: unknown, p: boolean): void {
  const pending = pendingById(askId)
  if (!pending) return
  if (ok) {
    try { pending.settle(true, unmarshal(v, p)) } catch (err) { pending.fail(err) }
  } else pending.fail(fromWireError(v as WireError))
}

/** Encode a stop reason for another place. */
export function encodeReason(reason: StopReason): EncodedReason {
  return typeof reason === 'string' ? reason : toWireError(reason, placeLabel())
}

/** Decode a stop reason from another place. */
export function decodeReason(r: EncodedReason): StopReason {
  return typeof r === 'string' ? (r as StopReason) : fromWireError(r)
}

// ---- death watch across places ----

let nextWatch = 1
const watches = new Map<number, { place: string; fn: (reason: StopReason) => void }>()
const remoteWatchers = new Map<string, () => void>()

/** Watch an actor at another place: `fn` runs once with the reason it ended. Returns a cancel function. */
export function watchRemote(target: { place: string; id: number; gw?: ObjectAddress }, fn: (reason: StopReason) => void): () => void {
  const wi = nextWatch++
  watches.set(wi, { place: target.place, fn })
  route({ t: 'w', to: target.place, gw: target.gw, id: target.id, wp: placeId(), wi, wgw: gatewayAddress() })
  return () => {
    if (watches.delete(wi)) route({ t: 'uw', to: target.place, gw: target.gw, id: target.id, wp: placeId(), wi })
  }
}

function handle(frame: Frame): void {
  switch (frame.t) {
    case 'd': {
      const f = frame as Extract<Frame, { t: 'd' }>
      const e = lookup(f.id)
      const token = f.rp !== undefined ? replyTo(f.rp, f.ra!, f.rgw) : undefined
      if (!e) {
        if (token) token.settle(false, new ActorStoppedError(`actor ${f.id} at place ${f.to} has stopped`))
        else deadLetters++
        return
      }
      try {
        const r = e.tell(unmarshal(f.m, f.p), token)
        // A backpressured send from afar just waits its turn; if the actor ends first, it is a dead letter.
        if (r) r.catch(() => { deadLetters++ })
      } catch {
        deadLetters++
      }
      return
    }
    case 'r': {
      const f = frame as Extract<Frame, { t: 'r' }>
      settleAnswer(f.a, f.ok, f.v, f.p)
      return
    }
    case 'c': {
      const f = frame as Extract<Frame, { t: 'c' }>
      const e = lookup(f.id)
      if (f.op === 'close') e?.close()
      else void e?.stop()
      return
    }
    case 'w': {
      const f = frame as Extract<Frame, { t: 'w' }>
      const e = lookup(f.id)
      const key = `${f.wp}#${f.wi}`
      const notify = (reason: StopReason) => {
        remoteWatchers.delete(key)
        route({ t: 'x', to: f.wp, gw: f.wgw, wi: f.wi, reason: encodeReason(reason) })
      }
      if (!e || !e.alive) return notify(e?.exitReason ?? new ActorStoppedError(`actor ${f.id} at place ${f.to} is not running`))
      remoteWatchers.set(key, e.onExit(notify))
      return
    }
    case 'uw': {
      const f = frame as Extract<Frame, { t: 'uw' }>
      const key = `${f.wp}#${f.wi}`
      remoteWatchers.get(key)?.()
      remoteWatchers.delete(key)
      return
    }
    case 'x': {
      const f = frame as Extract<Frame, { t: 'x' }>
      const w = watches.get(f.wi)
      if (!w) return
      watches.delete(f.wi)
      w.fn(decodeReason(f.reason))
      return
    }
    default: {
      const h = handlers.get(frame.t)
      if (h) h(frame)
      else deadLetters++
    }
  }
}

/** A WorkerCrashedError for a hosted actor's thread/process that exited unexpectedly. */
export function crashError(name: string, kind: string, info: { code: number | null; signal: string | null; exitCode: number }): WorkerCrashedError {
  const how = info.signal ? `was killed by ${info.signal}` : `exited with code ${info.code}`
  const err = new WorkerCrashedError(`the ${kind} hosting actor '${name}' ${how}`)
  err.workerId = name
  err.exitCode = info.exitCode
  err.signal = info.signal
  return err
}
