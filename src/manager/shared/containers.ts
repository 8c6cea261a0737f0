import { Empty } from '../../errors.js'
import { pyEquals, pyHashKey, pySort } from '../../codec/index.js'

/**
 * A dict served by a manager (Python's `dict` proxy). Keys are compared as
 * Python compares them (`pyHashKey`): `(1, 2)`, `b'k'` and `frozenset()` keys
 * are found again however they travelled, `1`, `1.0` and `true` are one key,
 * and unhashable keys (arrays, Maps, Sets) are refused with TypeError.
 * The first key stored is the one kept, as in Python.
 */
export class Dict<K = string, V = unknown> {
  private readonly map = new Map<string, [K, V]>()

  constructor(init?: Iterable<[K, V]> | Record<string, V>) {
    if (init) this.update(init)
  }

  /** The value for `key`, or `fallback` (default undefined). */
  get(key: K, fallback?: V): V | undefined {
    const e = this.map.get(pyHashKey(key))
    return e ? e[1] : fallback
  }
  /** Set `key` to `value`. */
  set(key: K, value: V): void {
    const h = pyHashKey(key)
    const e = this.map.get(h)
    if (e) e[1] = value
    else this.map.set(h, [key, value])
  }
  /** Whether `key` is present. */
  has(key: K): boolean { return this.map.has(pyHashKey(key)) }
  /** Remove `key`; returns whether it was there. */
  delete(key: K): boolean { return this.map.delete(pyHashKey(key)) }
  /** Remove and return the value of `key` (or `fallback`). */
  pop(key: K, fallback?: V): V | undefined {
    const h = pyHashKey(key)
    const e = this.map.get(h)
    if (!e) return fallback
    this.map.delete(h)
    return e[1]
  }
  /** The value of `key`, setting it to `value` first when absent. */
  setdefault(key: K, value: V): V {
    const h = pyHashKey(key)
    const e = this.map.get(h)
    if (e) return e[1]
    this.map.set(h, [key, value])
    return value
  }
  /** Add `delta` (default 1) to a numeric value atomically on the server and return the result. */
  increment(key: K, delta = 1): number {
    const v = ((this.get(key) as unknown as number | undefined) ?? 0) + delta
    this.set(key, v as unknown as V)
    return v
  }
  /** Set many entries. */
  update(entries: Iterable<[K, V]> | Record<string, V>): void {
    const it = Symbol.iterator in Object(entries) ? entries as Iterable<[K, V]> : Object.entries(entries) as [K, V][]
    for (const [k, v] of it) this.set(k, v)
  }
  /** All keys. */
  keys(): K[] { return [...this.map.values()].map((e) => e[0]) }
  /** All values. */
  values(): V[] { return [...this.map.values()].map((e) => e[1]) }
  /** All [key, value] pairs. */
  items(): [K, V][] { return [...this.map.values()].map((e) => [e[0], e[1]]) }
  /** Number of entries. */
  size(): number { return this.map.size }
  /** Remove every entry. */
  clear(): void { this.map.clear() }
  /** A copy as a Map. */
  copy(): Map<K, V> { return new Map(this.items()) }
  /** A copy as a plain object (string keys). */
  toObject(): Record<string, V> { return Object.fromEntries(this.items()) as Record<string, V> }
  /** Remove and return the last pair inserted (Python's popitem); undefined when empty. */
  _popLast(): [K, V] | undefined {
    let last: string | undefined
    for (const h of this.map.keys()) last = h
    if (last === undefined) return undefined
    const e = this.map.get(last)!
    this.map.delete(last)
    return [e[0], e[1]]
  }
}

/** A list served by a manager (Python's `list` proxy). */
export class List<T = unknown> {
  private arr: T[]

  constructor(init: Iterable<T> = []) { this.arr = [...init] }

  /** Item at index `i` (negative counts from the end). */
  get(i: number): T | undefined { return this.arr.at(i) }
  /** Replace the item at index `i`. */
  set(i: number, value: T): void {
    const j = i < 0 ? this.arr.length + i : i
    if (j < 0 || j >= this.arr.length) throw new RangeError(`list index ${i} out of range (length ${this.arr.length})`)
    this.arr[j] = value
  }
  /** Append one item; returns the new length. */
  append(value: T): number { return this.arr.push(value) }
  /** Append many items; returns the new length. */
  extend(values: T[]): number { this.arr.push(...values); return this.arr.length }
  /** Insert before index `i`. */
  insert(i: number, value: T): void { this.arr.splice(i, 0, value) }
  /** Remove and return the item at `i` (default: the last); Empty when the list is empty. */
  pop(i = -1): T {
    if (!this.arr.length) throw new Empty('pop from an empty list')
    const j = i < 0 ? this.arr.length + i : i
    return this.arr.splice(j, 1)[0]!
  }
  /** Remove the first item equal to `value` (Python's `==`: `[1, 2]` and `(1, 2)` by value); returns whether one was found. */
  remove(value: T): boolean {
    const i = this.index(value)
    if (i >= 0) this.arr.splice(i, 1)
    return i >= 0
  }
  /** Index of the first item equal to `value` (Python's `==`), or -1. */
  index(value: T): number { return this.arr.findIndex((x) => pyEquals(x, value)) }
  /** How many items equal `value` (Python's `==`, so `1`, `1.0` and `true` count alike). */
  count(value: T): number { return this.arr.filter((x) => pyEquals(x, value)).length }
  /** Reverse in place. */
  reverse(): void { this.arr.reverse() }
  /** Sort in place by Python's `<` (numbers, text, tuples and lists by value; TypeError for mixed kinds); `reverse` for descending order. */
  sort(opts?: { reverse?: boolean }): void {
    pySort(this.arr, {}, opts?.reverse === true)
  }
  /** Items from `start` to `end` (exclusive). */
  slice(start?: number, end?: number): T[] { return this.arr.slice(start, end) }
  /** Number of items. */
  length(): number { return this.arr.length }
  /** Remove every item. */
  clear(): void { this.arr = [] }
  /** A copy as an array. */
  toArray(): T[] { return [...this.arr] }
  /** The live items (the Python face works on them in place). */
  _items(): T[] { return this.arr }
}

/** A bag of named values (Python's `Namespace`). */
export class Namespace {
  private readonly attrs: Map<string, unknown>

  constructor(init: Record<string, unknown> = {}) { this.attrs = new Map(Object.entries(init)) }

  /** The value of attribute `name` (undefined when unset). */
  get(name: string): unknown { return this.attrs.get(name) }
  /** Set attribute `name`. */
  set(name: string, value: unknown): void { this.attrs.set(name, value) }
  /** Remove attribute `name`. */
  delete(name: string): boolean { return this.attrs.delete(name) }
  /** Whether attribute `name` is set. */
  has(name: string): boolean { return this.attrs.has(name) }
  /** Every attribute as a plain object. */
  toObject(): Record<string, unknown> { return Object.fromEntries(this.attrs) }
  /** The live attributes (the Python face works on them in place). */
  _attrs(): Map<string, unknown> { return this.attrs }
}

/** A single shared value (Python's `Value(typecode, value)`); the typecode is kept for Python peers. */
export class Value<T = number> {
  private v: T
  /** The array-module typecode given at creation ('i', 'd', ...), informational. */
  readonly typecode: string

  constructor(typecode: string, value: T) {
    this.typecode = typecode
    this.v = value
  }

  /** The current value. */
  get(): T { return this.v }
  /** Replace the value. */
  set(value: T): void { this.v = value }
  /** Add `delta` atomically on the server and return the result (numbers only). */
  increment(delta = 1): number {
    this.v = ((this.v as unknown as number) + delta) as unknown as T
    return this.v as unknown as number
  }
}

/** A fixed-length shared array (Python's `Array(typecode, sequence)`). */
export class SharedArray<T = number> {
  private readonly arr: T[]
  /** The array-module typecode given at creation. */
  readonly typecode: string

  constructor(typecode: string, init: Iterable<T> | number) {
    this.typecode = typecode
    this.arr = typeof init === 'number' ? new Array<T>(init).fill(0 as T) : [...init]
  }

  /** Item at index `i`. */
  get(i: number): T {
    if (i < 0 || i >= this.arr.length) throw new RangeError(`array index ${i} out of range (length ${this.arr.length})`)
    return this.arr[i]!
  }
  /** Set item `i`. */
  set(i: number, value: T): void {
    if (i < 0 || i >= this.arr.length) throw new RangeError(`array index ${i} out of range (length ${this.arr.length})`)
    this.arr[i] = value
  }
  /** The fixed length. */
  length(): number { return this.arr.length }
  /** Items from `start` to `end` (exclusive). */
  slice(start?: number, end?: number): T[] { return this.arr.slice(start, end) }
  /** A copy as an array. */
  toArray(): T[] { return [...this.arr] }
  /** The live items (the Python face checks values by typecode and writes them in place). */
  _items(): T[] { return this.arr }
}
