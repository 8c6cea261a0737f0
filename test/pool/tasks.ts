// Functions the pool tests run in worker threads and child processes.
import { threadId } from 'node:worker_threads'
import { existsSync, writeFileSync } from 'node:fs'

export function square(n: number): number {
  return n * n
}

export function add(a: number, b: number): number {
  return a + b
}

export async function asyncSquare(n: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 1))
  return n * n
}

export async function sleep<T>(ms: number, value: T): Promise<T> {
  await new Promise((r) => setTimeout(r, ms))
  return value
}

/** Blocks the worker's thread (no event loop turns) for `ms`. */
export function spin(ms: number): number {
  const end = Date.now() + ms
  let n = 0
  while (Date.now() < end) n++
  return n
}

export class QuotaError extends Error {
  constructor(message: string, readonly quota: number) {
    super(message)
    this.name = 'QuotaError'
  }
}

export function failWithQuota(quota: number): never {
  throw new QuotaError(`over quota ${quota}`, quota)
}

export function exitWith(code: number): never {
  process.exit(code)
}

/** Exits its worker the first time (marker file absent), succeeds the next. */
export function crashOnce(marker: string): string {
  if (!existsSync(marker)) {
    writeFileSync(marker, 'x')
    process.exit(7)
  }
  return 'second try'
}

export function whoami(): { pid: number; threadId: number } {
  return { pid: process.pid, threadId }
}

export function returnsFunction(): unknown {
  return () => 1
}

let initialised: string | undefined
export function init(tag: string): void {
  initialised = tag
}
export function initialisedWith(): string | undefined {
  return initialised
}
export function failingInit(): void {
  throw new RangeError('bad init')
}

export function length(b: Uint8Array): number {
  return b.byteLength
}

export function noArgs(): string {
  return 'none'
}

export function identity<T>(x: T): T {
  return x
}

export function describeNumber(x: number): string | number {
  return x % 2 === 0 ? x : `odd ${x}`
}

/** Reads its object's large string after an await (the worker must not have let go of it). */
export async function describeLater(o: { id: number; s: string }): Promise<string> {
  await new Promise((r) => setImmediate(r))
  return `${o.id}:${o.s.length}:${o.s.charAt(o.id % o.s.length)}`
}

/** A string of `n` copies of the character for `id`. */
export function bigText(id: number, n: number): string {
  return String.fromCharCode(65 + (id % 26)).repeat(n)
}

/** By `i % 4`: a large Latin-1 string, a large UTF-16 one, an object holding one, or a failure (a large result batch mixes them). */
export function bigMixed(i: number): unknown {
  const n = 4096 + i
  switch (i % 4) {
    case 0: return 'é'.repeat(n)
    case 1: return '€😀'.repeat(n)
    case 2: return { id: i, s: 'x'.repeat(n), small: 'ok', nested: { s: 'y'.repeat(n) } }
    default: throw new RangeError(`no ${i}`)
  }
}

/** Whether its two arguments arrived as one object, and a cycle in the first as a cycle. */
export function sameAndCyclic(x: { self?: unknown; s: string }, y: unknown): [boolean, boolean, number] {
  return [x === y, x.self === x, x.s.length]
}
