/**
 * Actors on Redis: a counter whose mailbox is a Redis stream. This process is
 * a node that hosts it (any process with a RedisActorSystem can be one; the
 * actor runs on one node at a time and moves when that node dies). Messages
 * wait in Redis until the actor takes them; asks are answered through this
 * node's inbox; a watcher anywhere learns when it ends.
 *
 * Run: node --conditions=troupe-source --import tsx examples/redis-actors.ts   (Redis at $TROUPE_REDIS or 127.0.0.1:6379)
 */
import { Actor, isMainModule, watch, type StopReason } from 'troupe'
import { RedisActorSystem } from 'troupe/redis'

/** Adds what it is sent; answers 'get' with the total. Exported: a node loads it by module and name. */
export class Counter extends Actor<{ add: number } | 'get'> {
  total = 0
  receive(msg: { add: number } | 'get'): number {
    if (msg !== 'get') this.total += msg.add
    return this.total
  }
}

async function main(): Promise<void> {
  const redis = process.env.TROUPE_REDIS ?? 'redis://127.0.0.1:6379'
  await using system = new RedisActorSystem({ redis, prefix: `example-actors-${process.pid}` })
  const counter = await system.spawn(Counter, { name: 'counter' })
  for (let n = 1; n <= 10; n++) counter.send({ add: n })
  console.log(`total: ${await counter.ask('get', { timeout: 10_000 })}`)
  const ended = new Promise<StopReason>((resolve) => watch(counter, resolve))
  counter.close()
  console.log(`ended: ${await ended}`)
}

// No top-level await: this module is also what the node imports to find Counter.
if (isMainModule(import.meta)) void main()
