/**
 * A FIFO ring buffer: O(1) push, shift and unshift with no per-item
 * allocation. The pool keeps its queue and each worker's in-flight tasks here
 * (an Array's shift() is O(n) once it holds many thousands).
 */
export class Deque<T> {
  private items: (T | undefined)[] = new Array(16)
  private head = 0
  private count = 0

  /** How many items it holds. */
  get length(): number {
    return this.count
  }

  /** Add at the back. */
  push(item: T): void {
    if (this.count === this.items.length) this.grow()
    this.items[(this.head + this.count) & (this.items.length - 1)] = item
    this.count++
  }

  /** Add at the front (a task that must run next). */
  unshift(item: T): void {
    if (this.count === this.items.length) this.grow()
    this.head = (this.head - 1) & (this.items.length - 1)
    this.items[this.head] = item
    this.count++
  }

  /** Remove and return the front item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) & (this.items.length - 1)
    this.count--
    return item
  }

  /** Remove and return the back item. */
  pop(): T | undefined {
    if (this.count === 0) return undefined
    const i = (this.head + this.count - 1) & (this.items.length - 1)
    const item = this.items[i]
    this.items[i] = undefined
    this.count--
    return item
  }

  /** The front item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  /** Remove everything and return it in order. */
  drain(): T[] {
    const out: T[] = []
    for (let x = this.shift(); x !== undefined; x = this.shift()) out.push(x)
    return out
  }

  private grow(): void {
    const old = this.items
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & (old.length - 1)]
    this.items = next
    this.head = 0
  }
}
