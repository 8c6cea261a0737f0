// Functions and classes the manager tests hand to other processes and to a started server.
import '../../src/manager/index.ts'
import type { Proxied, SharedQueue } from '../../src/manager/index.ts'

/** Put `n` numbers on a queue proxy received from the parent (runs in a child process or thread). */
export async function produceInto(q: Proxied<SharedQueue<number>>, n: number): Promise<void> {
  const sends: Promise<void>[] = []
  for (let i = 0; i < n; i++) sends.push(q.put(i))
  await Promise.all(sends)
}

/** A user-defined shared type for register()/start(). */
export class Counter {
  private n: number
  constructor(start = 0) { this.n = start }
  increment(by = 1): number { this.n += by; return this.n }
  value(): number { return this.n }
  child(): Counter { return new Counter(this.n * 10) }
  fail(): never { const e = new RangeError('counter exploded'); (e as RangeError & { detail: number }).detail = 7; throw e }
}

/** Factory a started (child process) server imports. */
export function makeCounter(start?: number): Counter {
  return new Counter(start)
}

/** Use a manager passed in whole (Python's `Process(target=f, args=(manager,))`): create objects on it from the child. */
export async function useManager(m: import('../../src/manager/index.ts').Manager, tag: string): Promise<void> {
  const results = await (m as unknown as { get_results(): Promise<Proxied<SharedQueue<unknown>>> }).get_results()
  const d = await m.dict<string, number>()
  await d.set('n', 41)
  await d.increment('n')
  await results.put([tag, await d.get('n'), typeof m.pid])
}
