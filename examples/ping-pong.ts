/**
 * Seed 000, Ping-Pong: a Pinger and a Ponger, each in its own child process,
 * talk only through subjects (`evt.ping`, `evt.pong`). Each waits `interval`
 * ms before answering and has a receive timeout, so their onTimeout handlers
 * fire while they wait. The main process supervises both: kill the Ponger's
 * process and it is restarted, and the Pinger pings again until answered.
 *
 *   node --conditions=troupe-source --import tsx examples/ping-pong.ts [--rounds 3] [--interval 2000] [--timeout 1000]
 */
import { parseArgs } from 'node:util'
import { Actor, isMainModule, publish, spawn, subscribe, supervise } from 'troupe'

/** Game settings, sent to both actors as constructor arguments. */
export interface Game { rounds: number; interval: number; timeout: number }

type Ball = { n: number }

/** Serves pings and counts rounds; pings again if a pong is overdue (the Ponger may have been restarted). */
export class Pinger extends Actor<Ball | { type: 'serve' }> {
  private round = 0
  private sentAt = 0
  private waiting = false

  constructor(private readonly game: Game) {
    super()
    this.receiveTimeout = game.timeout
  }

  onStart(): void {
    subscribe('evt.pong', this.self)
    console.log(`Pinger ready (pid ${process.pid})`)
    this.schedule(this.game.interval, { type: 'serve' })
  }

  receive(msg: Ball | { type: 'serve' }): void {
    if ('type' in msg) return this.serve()
    if (!this.waiting || msg.n !== this.round) return
    this.waiting = false
    console.log(`Pinger got pong ${msg.n}`)
    if (msg.n >= this.game.rounds) {
      publish('evt.done', { rounds: msg.n })
      return
    }
    this.schedule(this.game.interval, { type: 'serve' })
  }

  onTimeout(): void {
    console.log(`Pinger: nothing for ${this.game.timeout} ms`)
    // A pong long overdue means the ping was lost (the Ponger died): serve the same ball again.
    if (this.waiting && performance.now() - this.sentAt > 2 * this.game.interval + this.game.timeout) {
      console.log(`Pinger: pong ${this.round} is overdue, pinging again`)
      this.send()
    }
  }

  private serve(): void {
    this.round++
    this.send()
  }

  private send(): void {
    this.waiting = true
    this.sentAt = performance.now()
    console.log(`Pinger sends ping ${this.round}`)
    publish('evt.ping', { n: this.round })
  }
}

/** Answers every ping with a pong after `interval` ms. */
export class Ponger extends Actor<Ball | { type: 'answer'; n: number }> {
  constructor(private readonly game: Game) {
    super()
    this.receiveTimeout = game.timeout
  }

  onStart(): void {
    subscribe('evt.ping', this.self)
    console.log(`Ponger ready (pid ${process.pid})`)
  }

  receive(msg: Ball | { type: 'answer'; n: number }): void {
    if ('type' in msg) {
      console.log(`Ponger sends pong ${msg.n}`)
      publish('evt.pong', { n: msg.n })
      return
    }
    console.log(`Ponger got ping ${msg.n}`)
    this.schedule(this.game.interval, { type: 'answer', n: msg.n })
  }

  onTimeout(): void {
    console.log(`Ponger: nothing for ${this.game.timeout} ms`)
  }
}

/** Lives in the main process and calls back when the game is over. */
export class Referee extends Actor<{ rounds: number }> {
  constructor(private readonly onDone: (rounds: number) => void) { super() }
  onStart(): void { subscribe('evt.done', this.self) }
  receive(msg: { rounds: number }): void { this.onDone(msg.rounds) }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, interval: { type: 'string', default: '2000' }, timeout: { type: 'string', default: '1000' } } })
  const game: Game = { rounds: Number(values.rounds), interval: Number(values.interval), timeout: Number(values.timeout) }
  let finished!: (rounds: number) => void
  const over = new Promise<number>((r) => { finished = r })
  const referee = spawn(Referee, { args: [finished] })
  const sup = supervise([
    { actor: Ponger, on: 'process', name: 'ponger', args: [game] },
    { actor: Pinger, on: 'process', name: 'pinger', args: [game] },
  ], { strategy: 'one-for-one', maxRestarts: 5, withinMs: 60_000, name: 'ping-pong' })
  const rounds = await over
  await sup.stop()
  await referee.stop()
  console.log(`Game over after ${rounds} rounds`)
}

// No top-level await here: locating Pinger/Ponger imports this module, which must finish evaluating first.
if (isMainModule(import.meta)) main().catch((err) => { console.error(err); process.exit(1) })
