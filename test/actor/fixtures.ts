// Actors the tests spawn here, in threads and in child processes (exported so they can be located).
import { Actor, publish, subscribe, type ActorRef } from '../../src/actor/index.ts'
import { currentPlace } from '../../src/process/index.ts'

export type CounterMsg = { type: 'add'; n: number } | { type: 'get' } | { type: 'boom' } | { type: 'slow'; ms: number } | { type: 'where' }

/** Counts; answers `get`; throws on `boom`. */
export class Counter extends Actor<CounterMsg> {
  count = 0
  constructor(start = 0) {
    super()
    this.count = start
  }
  async receive(msg: CounterMsg): Promise<unknown> {
    switch (msg.type) {
      case 'add': this.count += msg.n; return this.count
      case 'get': return this.count
      case 'boom': throw new RangeError('boom')
      case 'slow': await new Promise((r) => setTimeout(r, msg.ms)); return 'slow done'
      case 'where': return currentPlace()
    }
  }
}

/** Synchronous counter for the hot path. */
export class Tally extends Actor<number | 'get'> {
  n = 0
  receive(msg: number | 'get'): number | undefined {
    if (msg === 'get') return this.n
    this.n += msg
    return undefined
  }
}

/** Forwards what it gets to a ref it was given. */
export class Echo extends Actor<{ to: ActorRef<string>; text: string }> {
  receive(msg: { to: ActorRef<string>; text: string }): void {
    void msg.to.send(`echo: ${msg.text}`)
  }
}

/** Records strings; answers 'log' with everything recorded. */
export class Recorder extends Actor<string | { type: 'log' }> {
  log: string[] = []
  receive(msg: string | { type: 'log' }): unknown {
    if (typeof msg === 'object') return this.log
    this.log.push(msg)
    return undefined
  }
}

/** Subscribes itself to a pattern on start; records what it receives. */
export class Listener extends Actor<unknown> {
  seen: unknown[] = []
  constructor(private readonly pattern: string) { super() }
  onStart(): void {
    subscribe(this.pattern, this.self)
  }
  receive(msg: unknown): unknown {
    if ((msg as { type?: string })?.type === 'seen') return this.seen
    if ((msg as { type?: string })?.type === 'publish') { const m = msg as unknown as { subject: string; body: unknown }; publish(m.subject, m.body); return 'published' }
    this.seen.push(msg)
    return undefined
  }
}

/** Exits its whole process/thread when told (for crash tests). */
export class Crasher extends Actor<'die' | 'ping'> {
  receive(msg: 'die' | 'ping'): unknown {
    if (msg === 'die') process.exit(3)
    return 'pong'
  }
}

/** Asks the ref it is given and answers with that answer (ask across places, from inside an actor). */
export class Relay extends Actor<{ to: ActorRef<{ type: 'get' }, number> }> {
  async receive(msg: { to: ActorRef<{ type: 'get' }, number> }): Promise<number> {
    return (await msg.to.ask({ type: 'get' }, { timeout: 5000 })) + 1000
  }
}

/** Records its lifecycle in a shared log (local supervision tests). */
export const lifeLog: string[] = []
export class Life extends Actor<'boom' | 'ping'> {
  constructor(private readonly tag: string) { super() }
  onStart(): void { lifeLog.push(`${this.tag} start`) }
  onStop(reason: unknown): void { lifeLog.push(`${this.tag} stop ${reason instanceof Error ? 'error' : String(reason)}`) }
  receive(msg: 'boom' | 'ping'): string {
    if (msg === 'boom') throw new Error(`${this.tag} exploded`)
    return `${this.tag} pong`
  }
}

/** Fails in onStart every time (restart intensity tests). */
export class FailsAtStart extends Actor<unknown> {
  onStart(): void { throw new Error('cannot start') }
  receive(): void {}
}

/** A Process target (not an actor) that uses an ActorRef it was handed: tell, ask, tell again. */
export async function useRefFromProcess(ref: ActorRef<CounterMsg, number>): Promise<void> {
  ref.send({ type: 'add', n: 5 })
  const v = await ref.ask({ type: 'get' }, { timeout: 10_000 })
  ref.send({ type: 'add', n: v })
}

/** Functions for Worker.submit. */
export function add(a: number, b: number): number {
  return a + b
}
/** Twice n (used by one test only, so it is located for the first time there). */
export function double(n: number): number {
  return n * 2
}

export async function napThenEcho<T>(ms: number, v: T): Promise<T> {
  await new Promise((r) => setTimeout(r, ms))
  return v
}
export function fails(msg: string): never {
  throw new TypeError(msg)
}

/** A Process target that publishes to a subject (it found the root through the ref it was given). */
export function publishFromProcess(_anyRootRef: ActorRef<unknown>, subject: string, body: string): void {
  publish(subject, body)
}

/** Checks each `{ i, s }` it gets arrives in order with its string whole; answers 'report' with what it saw. */
export class StringChecker extends Actor<{ i: number; s: string } | 'report'> {
  private next = 0
  private bad = 0
  private chars = 0
  receive(msg: { i: number; s: string } | 'report'): { count: number; bad: number; chars: number } | undefined {
    if (msg === 'report') return { count: this.next, bad: this.bad, chars: this.chars }
    if (msg.i !== this.next++ || msg.s.length !== 65536 || msg.s[msg.i % 65536] !== String.fromCharCode(97 + (msg.i % 26))) this.bad++
    this.chars += msg.s.length
    return undefined
  }
}

/** Arms a 5 ms timer on 'arm'; answers 'fired' with how many of its timers have fired. */
export class TimerUser extends Actor<'arm' | 'fired'> {
  private fired = 0
  receive(msg: 'arm' | 'fired'): number | undefined {
    if (msg === 'arm') { setTimeout(() => { this.fired++ }, 5); return undefined }
    return this.fired
  }
}

/** Ends itself normally when `quit.<tag>` is published (as the seed's actors end when the game is over). */
export class Quitter extends Actor<'quit' | 'ping'> {
  constructor(private readonly tag: string) { super() }
  onStart(): void { subscribe(`quit.${this.tag}`, this.self) }
  receive(msg: 'quit' | 'ping'): string | void {
    if (msg === 'quit') return this.stop()
    return `${this.tag} pong`
  }
}

/** Answers every ask with what it was sent. */
export class Mirror extends Actor<unknown> {
  receive(msg: unknown): unknown {
    return msg
  }
}
