/**
 * Moves frames between the places of one troupe. Places form the spawn tree
 * (see place.ts); a frame addressed to a place goes down when that place is
 * below us, otherwise up to our parent. Every place handles the frames
 * addressed to it here: deliveries to its actors, replies to its asks,
 * control, and death-watch notices.
 */
import { fromWireError, marshal, toWireError, unmarshal, type WireError } from '../codec/index.js'
import { ActorStoppedError, WorkerCrashedError } from '../errors.js'
import { placeLabel } from '../process/index.js'
import type { StopReason } from './actor.js'
import { K_FRAME, type Outbox } from './channel.js'
import { lookup } from './entity.js'
import type { ReplyTo } from './mailbox.js'
import { pendingById, pendingWhere } from './pending.js'
import { placeId } from './place.js'

/** A frame between places; `to` is the destination place id. */
export type Frame =
  | { t: 'd'; to: string; id: number; m: unknown; p: boolean; rp?: string; ra?: number }
  | { t: 'r'; to: string; a: number; ok: boolean; v: unknown; p: boolean }
  | { t: 'c'; to: string; id: number; op: 'close' | 'stop' }
  | { t: 'w'; to: string; id: number; wp: string; wi: number }
  | { t: 'uw'; to: string; id: number; wp: string; wi: number }
  | { t: 'x'; to: string; wi: number; reason: EncodedReason }
  | { t: string; to: string; [k: string]: unknown }

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

/**
 * Forget a child place that ended: asks and watches aimed into it cannot be
 * answered any more, so they settle now with `cause` instead of waiting.
 */
export function removeChild(childPlace: string, cause: Error): void {
  children.delete(childPlace)
  const inside = (place: string | undefined) => place !== undefined && (place === childPlace || place.startsWith(`${childPlace}/`))
  for (const p of pendingWhere((p) => inside(p.target))) {
    p.fail(new ActorStoppedError(`the ${describePlace(p.target!)} holding the actor died before answering`, { cause }))
  }
  for (const [wi, w] of watches) {
    if (inside(w.place)) { watches.delete(wi); w.fn(cause) }
  }
}

function describePlace(place: string): string {
  return `place ${place}`
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
  undeliverable(frame)
}

function undeliverable(frame: Frame): void {
  if (frame.t === 'd' && (frame as { rp?: string }).rp) {
    const f = frame as { rp: string; ra: number; to: string; id: number }
    replyTo(f.rp, f.ra).settle(false, new ActorStoppedError(`no actor ${f.id} at place ${f.to}: that place is gone or unreachable from here`))
  } else if (frame.t === 'w') {
    const f = frame as { wp: string; wi: number; to: string }
    route({ t: 'x', to: f.wp, wi: f.wi, reason: encodeReason(new ActorStoppedError(`place ${f.to} is gone or unreachable`)) })
  } else deadLetters++
}

/** Messages that found no one (sent to ended actors or unreachable places). */
export function deadLetterCount(): number {
  return deadLetters
}

/** A reply token for an ask that came from another place. */
export function replyTo(place: string, askId: number): ReplyTo {
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
          route({ t: 'r', to: place, a: askId, ok: false, v: toWireError(err, placeLabel()), p: false })
          return
        }
        route({ t: 'r', to: place, a: askId, ok: true, v: m.value, p: m.portables })
      } else route({ t: 'r', to: place, a: askId, ok: false, v: toWireError(value, placeLabel()), p: false })
    },
  }
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
export function watchRemote(target: { place: string; id: number }, fn: (reason: StopReason) => void): () => void {
  const wi = nextWatch++
  watches.set(wi, { place: target.place, fn })
  route({ t: 'w', to: target.place, id: target.id, wp: placeId(), wi })
  return () => {
    if (watches.delete(wi)) route({ t: 'uw', to: target.place, id: target.id, wp: placeId(), wi })
  }
}

function handle(frame: Frame): void {
  switch (frame.t) {
    case 'd': {
      const f = frame as Extract<Frame, { t: 'd' }>
      const e = lookup(f.id)
      const token = f.rp !== undefined ? replyTo(f.rp, f.ra!) : undefined
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
      const p = pendingById(f.a)
      if (!p) return
      if (f.ok) {
        try { p.settle(true, unmarshal(f.v, f.p)) } catch (err) { p.fail(err) }
      } else p.fail(fromWireError(f.v as WireError))
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
        route({ t: 'x', to: f.wp, wi: f.wi, reason: encodeReason(reason) })
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
