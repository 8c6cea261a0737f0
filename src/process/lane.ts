/**
 * Call order is the contract: what was submitted before `close()` runs
 * before the close, however long the submission had to wait first (to
 * locate a function, to start a thread). An API whose call must await
 * something before it can enqueue takes its place in a Lane when it is
 * called; the Lane runs each call's effect after every earlier one's. With
 * nothing waiting and nothing to await, the effect runs at once, so the
 * common case stays synchronous.
 */

/** Something to await before an effect, or the value itself. */
export type Prepared<P> = P | PromiseLike<P>

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as { then?: unknown }).then === 'function'
}

/** One line of calls whose effects run in call order. */
export class Lane {
  private waiting = 0
  private tail: Promise<unknown> = Promise.resolve()

  /** Whether some call is still waiting for its turn. */
  get busy(): boolean {
    return this.waiting > 0
  }

  /**
   * Run `effect(value)` once `prepared` has a value and every call made on
   * this lane before has run its effect (or failed to prepare). If
   * `prepared` rejects, the effect is skipped and the result rejects with
   * that error; later calls go on. Returns the effect's result: directly
   * when it could run at once, else as a promise.
   */
  run<P, R>(prepared: Prepared<P>, effect: (value: P) => R): R | Promise<Awaited<R>> {
    if (this.waiting === 0 && !isThenable(prepared)) return effect(prepared as P)
    this.waiting++
    const ready = Promise.resolve(prepared)
    // Handled here, so a preparation that fails while earlier calls still wait is not an unhandled rejection.
    ready.catch(noop)
    const turn = this.tail.then(() => ready).then(
      (v) => { this.waiting--; return effect(v as P) },
      (err) => { this.waiting--; throw err },
    )
    this.tail = turn.then(noop, noop)
    return turn as Promise<Awaited<R>>
  }

  /** Resolves once every call made so far has had its turn. */
  drained(): Promise<void> {
    return this.tail.then(noop)
  }
}

function noop(): void {}
