/**
 * The runtime inside a worker thread or child process that hosts one actor
 * (started by proxy.ts through the spine's Endpoint). It runs the actor in a
 * local cell, takes batches from the spawner (tells, asks, routed frames,
 * control), and reports failures instead of dying, so the spawner's
 * supervisor decides: restart in place, or stop.
 */
import { fromWireError, toWireError, unmarshal, type WireError } from '../codec/index.js'
import { HotChild, load, placeLabel, type Boot } from '../process/index.js'
import type { Actor, StopReason } from './actor.js'
import { LocalCell } from './cell.js'
import { K_ASK, K_ASKP, K_CREDIT, K_CTL, K_FRAME, K_REPLY, K_REPLYX, K_TELL, K_TELLP, Outbox } from './channel.js'
import { setAlias, type SupervisorHooks } from './entity.js'
import type { ReplyTo } from './mailbox.js'
import { placeId } from './place.js'
import type { HostData } from './proxy.js'
import './remote.js'
import { answerWith, encodeReason, route, setParent } from './router.js'
import './subjects.js'

/** How long an idle thread host blocks on its channel before going back to its event loop (ms). */
const IDLE_WAIT_MS = 2

/** Entry point of an actor's thread/process (named by proxy.ts, run by the worker entry). */
export async function actorHost(boot: Boot): Promise<void> {
  const d = boot.data as HostData
  // A thread host talks to its spawner on a channel of its own (process/hot-channel.ts).
  const hot = d.hot ? new HotChild(d.hot) : undefined
  const link: Boot['link'] = hot
    ? { send: (m) => hot.send(m), onMessage: () => {}, ref: () => { hot.ref(); boot.link.ref() }, unref: () => { hot.unref(); boot.link.unref() } }
    : boot.link
  const toParent = new Outbox((batch) => link.send(batch))
  setParent(toParent)
  const cls = await load<new (...args: any[]) => Actor<unknown>>(d.actor)
  const args = unmarshal(d.args, d.argsPortables) as unknown[]

  const hooks: SupervisorHooks = {
    childFailed: (child, err, during) => toParent.post(K_CTL, { t: 'failed', error: toWireError(err, placeLabel()), answered: (child as LocalCell).lastFailureAnswered, during }),
    childExited: (_child, reason) => {
      toParent.post(K_CTL, { t: 'stopped', reason: encodeReason(reason) })
      toParent.flush()
      // Nothing left to host: let this thread/process exit once idle (its stdout gets flushed on the way out).
      setImmediate(() => link.unref())
    },
  }
  const cell = new LocalCell(cls, args, { name: d.name, receiveTimeout: d.receiveTimeout, mailbox: d.mailbox, supervisor: hooks, alias: d.alias })
  setAlias(d.alias, cell)

  // Tell the spawner how many messages left the mailbox: a bounded mailbox admits more (its window is the
  // capacity), and the spawner's stats() (queued, processed) stay true for every mailbox.
  let reported = 0
  let later: NodeJS.Timeout | undefined
  const credit = () => {
    if (later) { clearTimeout(later); later = undefined }
    const s = cell.stats()
    const done = s.processed + s.dropped
    if (done > reported) {
      toParent.post2(K_CREDIT, done - reported, s.dropped)
      reported = done
    }
  }
  // Unbounded: the count rides along with a reply already leaving in this batch (so stats() is right as soon
  // as an ask resolves), or follows within 100 ms; a stream of tells costs no extra message each.
  cell.onDrained = d.credit ? credit : () => {
    if (toParent.pending) credit()
    else later ??= setTimeout(credit, 100).unref()
  }

  // The spawner's asks are answered on the channel itself, a plain value as `[a, v]`.
  const answerSpawner = (a: number) => answerWith((ok, v, p) => {
    if (ok && !p) toParent.post2(K_REPLY, a, v)
    else toParent.post(K_REPLYX, [a, ok, v, p])
  })

  const onBatch = (batch: unknown[]): void => {
    for (let i = 0; i < batch.length; i += 2) {
      const kind = batch[i] as number
      const payload = batch[i + 1]
      switch (kind) {
        case K_TELL:
          tell(cell, payload, undefined)
          break
        case K_TELLP:
          tell(cell, unmarshal(payload, true), undefined)
          break
        case K_ASK:
        case K_ASKP: {
          const a = batch[i + 2] as number
          i++
          tell(cell, kind === K_ASK ? payload : unmarshal(payload, true), answerSpawner(a))
          break
        }
        case K_FRAME:
          route(payload as any)
          break
        case K_CTL:
          control(cell, payload as { op: string; reason?: string | WireError }, link)
          break
      }
    }
    if (hot) idleSoon()
  }

  // The latency trick of pool workers, for a thread host: once a batch has been handled and the
  // actor has nothing to do, block on the channel's counter for up to IDLE_WAIT_MS instead of
  // sleeping in the event loop, so the next batch (the next ask) is taken a few µs after it was
  // posted. Only while the actor is idle, and for at most IDLE_WAIT_MS at a time: its timers and
  // I/O wait that long at worst; then the channel's message listener takes over.
  let idleScheduled = false
  const idleSoon = (): void => {
    // A cold channel: the event loop's listener takes the next batch, no extra loop turn to look.
    if (idleScheduled || !hot!.runsHot) return
    idleScheduled = true
    setImmediate(idleWait)
  }
  const idleWait = (): void => {
    idleScheduled = false
    if (!cell.isIdle) return
    // One batch at a time, handled here; the actor runs in the microtasks after this callback, then
    // we come back for the next. (Taking every queued batch at once would hold all their messages in
    // the mailbox together: a burst of 64 KiB strings would outlive the young generation.)
    let m = hot!.take()
    if (m === undefined) {
      if (!hot!.waitForPost(IDLE_WAIT_MS)) return
      m = hot!.take()
    }
    if (m !== undefined) onBatch(m as unknown[])
  }

  if (hot) hot.onMessage(onBatch)
  boot.link.onMessage(onBatch)
  toParent.post(K_CTL, { t: 'ready', place: placeId() })
}

function tell(cell: LocalCell, msg: unknown, token: ReplyTo | undefined): void {
  try {
    const r = cell.tell(msg, token)
    if (r) r.catch(() => {})
  } catch { /* refused (closed/stopped): the spawner learns from 'stopped' */ }
}

function control(cell: LocalCell, c: { op: string; reason?: string | WireError }, link: Boot['link']): void {
  if (c.op === 'restart') { link.ref(); cell.restart() }
  else if (c.op === 'close') cell.close()
  else if (c.op === 'stop') {
    const reason: StopReason = c.reason === undefined ? 'stopped' : typeof c.reason === 'string' ? c.reason as StopReason : fromWireError(c.reason)
    void cell.stop(reason)
  }
}
