import type { StopReason } from './actor.js'

/**
 * How an actor, a thread/process actor's stand-in or a supervisor tells the
 * world it ended: `join()` waiters settle first (rejected when the reason is an
 * Error), then every `onExit` callback runs with the reason. One instance per
 * life; it fires once.
 */
export class ExitSignal {
  private readonly callbacks = new Set<(reason: StopReason) => void>()
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = []

  /** Call `fn` with the reason when it fires; returns a cancel function. */
  onExit(fn: (reason: StopReason) => void): () => void {
    this.callbacks.add(fn)
    return () => this.callbacks.delete(fn)
  }

  /** A promise that resolves when it fires normally and rejects with an Error reason. */
  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  /** Whether anyone is joining or watching (an unobserved crash is warned about instead). */
  get observed(): boolean {
    return this.callbacks.size > 0 || this.waiters.length > 0
  }

  /** Settle the joiners, then run the callbacks; a callback's throw is its own. */
  fire(reason: StopReason): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) reason instanceof Error ? w.reject(reason) : w.resolve()
    for (const fn of [...this.callbacks]) {
      try { fn(reason) } catch { /* a watcher's failure is its own */ }
    }
  }
}
