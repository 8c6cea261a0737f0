import type { Cancel, StopReason, Terminated } from './actor.js'
import { LocalRef, WATCH, type ActorRef, type Watchable } from './ref.js'

/**
 * Death watch: when `target` ends, `watcher` is told why. A watcher actor
 * receives a `Terminated` message (`{ type: 'troupe.terminated', ref, reason }`);
 * a function is called with the reason. Works for actors in any place (a
 * thread, a process, Redis); an actor already gone is reported at once. Returns a function that stops
 * watching.
 */
export function watch(target: ActorRef<any, any>, watcher: ActorRef<any, any> | ((reason: StopReason) => void)): Cancel {
  const notify = typeof watcher === 'function'
    ? watcher
    : (reason: StopReason) => {
        const notice: Terminated = { type: 'troupe.terminated', ref: target, reason }
        try {
          const r = watcher.send(notice)
          if (r) r.catch(() => {})
        } catch { /* the watcher ended too */ }
      }
  if (target instanceof LocalRef) {
    const e = target.entity
    if (!e.alive) {
      queueMicrotask(() => notify(e.exitReason ?? 'stopped'))
      return () => {}
    }
    return e.onExit(notify)
  }
  const w = (target as Partial<Watchable>)[WATCH]
  if (typeof w === 'function') return w.call(target, notify)
  throw new TypeError('watch() needs an ActorRef returned by spawn(), supervise() or received in a message')
}
