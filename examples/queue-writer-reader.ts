/**
 * A writer and a reader process sharing a Queue (seed 004): the writer puts
 * messages, the reader takes them and reports each one back, and the parent
 * prints what crossed between the two processes.
 *
 *   node --conditions=troupe-source --import tsx examples/queue-writer-reader.ts
 */
import { Process, Queue, currentProcess, isMainModule } from 'troupe'

/** A message as the writer sends it. */
export interface Message { from: number; seq: number; text: string }

/** Put five messages, then close the queue so the reader's loop ends. */
export async function writer(q: Queue<Message>, count: number): Promise<void> {
  const pid = currentProcess().pid
  for (let seq = 1; seq <= count; seq++) await q.put({ from: pid, seq, text: `message ${seq} of ${count}` })
  await q.close()
}

/** Read until the queue is closed and drained, reporting each message with the reader's pid. */
export async function reader(q: Queue<Message>, seen: Queue<{ by: number; msg: Message } | null>): Promise<void> {
  for await (const msg of q) await seen.put({ by: currentProcess().pid, msg })
  await seen.put(null)
}

async function main(): Promise<void> {
  const q = new Queue<Message>()
  const seen = new Queue<{ by: number; msg: Message } | null>()
  const w = new Process({ target: writer, args: [q, 5], kind: 'process', name: 'writer' })
  const r = new Process({ target: reader, args: [q, seen], kind: 'process', name: 'reader' })
  await r.start()
  await w.start()
  for (let item = await seen.get(); item; item = await seen.get()) {
    console.log(`writer ${item.msg.from} -> reader ${item.by}: ${item.msg.text}`)
  }
  await Promise.all([w.join(), r.join()])
  console.log(`parent ${process.pid}: writer exit ${w.exitCode}, reader exit ${r.exitCode}`)
}

if (isMainModule(import.meta)) await main()
