import { marshal, portable, registerPortable, type Portable } from '../codec/index.js'
import { ActorStoppedError } from '../errors.js'
import type { StopReason } from './actor.js'
import { aliasFor, describeReason, lookup, type Address } from './entity.js'
import type { MailboxStats } from './mailbox.js'
import { Pending, type AskOptions } from './pending.js'
import { placeId } from './place.js'
import { REF_TYPE, WATCH, joinWithin, type ActorRef, type JoinOptions, type Watchable } from './ref.js'
import { gatewayAddress, rememberGateway, route, watchRemote } from './router.js'

/** A ref to an actor in another place: every call becomes a frame routed through the spawn tree. */
export class RemoteRef<Msg = unknown, Reply = unknown> implements ActorRef<Msg, Reply>, Portable, Watchable {
  /** @internal */
  readonly addr: Address
  private reason: StopReason | undefined

  constructor(addr: Address) {
    this.addr = { place: addr.place, id: addr.id, name: addr.name, gw: addr.gw, module: addr.module }
  }

  /** The actor's name. */
  get name(): string {
    return this.addr.name
  }

  /** Fire and forget (see ActorRef.send). */
  send(msg: Msg): void {
    if (this.reason !== undefined) throw new ActorStoppedError(`actor '${this.addr.name}' has stopped (${describeReason(this.reason)})`)
    const m = marshal(msg, 'message')
    route({ t: 'd', to: this.addr.place, gw: this.addr.gw, id: this.addr.id, m: m.value, p: m.portables })
  }

  /** Request/reply (see ActorRef.ask). */
  ask<R = Reply>(msg: Msg, opts?: AskOptions): Promise<R> {
    const p = new Pending<R>(this.addr.name, opts)
    if (this.reason !== undefined) {
      p.fail(new ActorStoppedError(`actor '${this.addr.name}' has stopped (${describeReason(this.reason)})`))
      return p.promise
    }
    let m
    try {
      m = marshal(msg, 'message')
    } catch (err) {
      p.fail(err)
      return p.promise
    }
    p.target = this.addr.place
    const a = p.register()
    route({ t: 'd', to: this.addr.place, gw: this.addr.gw, id: this.addr.id, m: m.value, p: m.portables, rp: placeId(), ra: a, rgw: gatewayAddress() })
    return p.promise
  }

  /** Stop once what is queued has been processed. */
  close(): void {
    route({ t: 'c', to: this.addr.place, gw: this.addr.gw, id: this.addr.id, op: 'close' })
  }

  /** Stop after the current message; resolves once it has ended. */
  stop(): Promise<void> {
    const ended = this.join().catch(() => {})
    route({ t: 'c', to: this.addr.place, gw: this.addr.gw, id: this.addr.id, op: 'stop' })
    return ended
  }

  /** Resolves when it ends normally, rejects with the error that ended it. */
  join(opts?: JoinOptions): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      watchRemote(this.addr, (reason) => {
        this.reason = reason
        if (reason instanceof Error) reject(reason)
        else resolve()
      })
    })
    return joinWithin(done, opts, `join of actor '${this.addr.name}'`)
  }

  /** False once this place learned (through join/watch) that the actor ended. */
  get isAlive(): boolean {
    return this.reason === undefined
  }

  /** Why it ended, once known here. */
  get exitReason(): StopReason | undefined {
    return this.reason
  }

  /** Counters live with the spawner; not known here. */
  stats(): MailboxStats | undefined {
    return undefined
  }

  /** Watch this actor: `fn` runs once with the reason it ended. */
  [WATCH](fn: (reason: StopReason) => void): () => void {
    return watchRemote(this.addr, (reason) => { this.reason = reason; fn(reason) })
  }

  /** Describe this ref for another place. */
  [portable](): { type: string; data: unknown } {
    return { type: REF_TYPE, data: this.addr }
  }

  /** Shows up in logs as `ActorRef<name>`. */
  toString(): string {
    return `ActorRef<${this.addr.name}>`
  }
}

/** Rebuild a ref that arrived from another place: local when the actor lives (or is aliased) here. */
export function reviveRef(addr: Address): ActorRef<any, any> {
  rememberGateway(addr.gw)
  if (addr.place === placeId()) {
    const e = lookup(addr.id)
    if (e) return e.ref
  } else {
    const e = aliasFor(addr)
    if (e) return e.ref
  }
  return new RemoteRef(addr)
}

registerPortable(REF_TYPE, (data) => reviveRef(data as Address))
