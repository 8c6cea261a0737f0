import { connectTo, formatAddress, DEFAULT_MAX_FRAME, SpinPolicy, type Address, type FrameConnection } from '../net/index.js'
import { fromWireError, type WireError } from '../codec/index.js'
import { ConnectionClosedError, TaskDoneError } from '../errors.js'
import { decodeReplies, encodeBatch, checkFrame, Status, CONNECTION_REPLY_ID, type FrameLimits, type ProxyInfo, type Request } from './protocol.js'
import { registerDialect, type ChannelOptions, type ChannelResult, type ManagerChannel, type RequestOptions } from './channel.js'
import { sleep } from '../timers.js'

interface Pending { resolve(r: ChannelResult): void; reject(e: Error): void; method: string }

/** Longest a client polls for one reply (ms) when polling pays. */
const REPLY_POLL_MS = 0.2

function noReply(method: string): Pending {
  return { resolve: () => {}, reject: () => {}, method }
}

/**
 * troupe's channel: one connection, many requests in flight. Requests made
 * in the same event-loop turn are coalesced into one frame (a producer that
 * issues 1,000 puts without awaiting each sends one frame); replies are
 * matched by id. The socket keeps the process alive only while calls are pending.
 */
export class TroupeChannel implements ManagerChannel {
  readonly dialect = 'troupe'
  readonly address: Address
  readonly closed: Promise<void>
  private readonly conn: FrameConnection
  private readonly pending = new Map<number, Pending>()
  private outbox: Request[] = []
  // Requests in the outbox that may be merged with their neighbours, by id.
  private mergeable = new Map<number, 'putMany' | 'taskDone'>()
  private flushQueued = false
  private nextId = 1
  private isClosed = false
  // The requests a merged putMany stands for, while its frame is being built (so it can be split again).
  private readonly runs = new Map<number, Request[]>()
  private readonly limits: FrameLimits & { maxFrameSize: number }
  // Why the server said it is closing this connection (a reply with id 0), for the calls still pending.
  private serverError: WireError | undefined

  private constructor(conn: FrameConnection, address: Address, opts: ChannelOptions) {
    this.conn = conn
    this.address = address
    this.limits = { maxFrameSize: opts.maxFrameSize ?? DEFAULT_MAX_FRAME, maxValues: opts.maxFrameValues, maxDepth: opts.maxDepth }
    conn.unref()
    // A reply is often microseconds away: poll for it while that measurably beats sleeping (net/hot.ts).
    if (opts.poll !== false) conn.pollAnswers(new SpinPolicy(REPLY_POLL_MS))
    conn.onFrame((f) => this.onFrame(f))
    this.closed = conn.closed.then(() => undefined)
    conn.onClose((reason) => this.onClosed(reason))
  }

  /** Connect and authenticate. */
  static async open(opts: ChannelOptions): Promise<TroupeChannel> {
    const conn = await connectTo(opts.address, opts)
    return new TroupeChannel(conn, opts.address, opts)
  }

  request(ident: string, method: string, args: unknown[], opts?: RequestOptions): Promise<ChannelResult> {
    if (this.isClosed) return Promise.reject(new ConnectionClosedError(`connection to manager ${formatAddress(this.address)} is closed`))
    const id = this.nextId++
    const signal = opts?.signal
    const req: Request = signal ? [id, ident, method, args, 1] : [id, ident, method, args]
    const p = new Promise<ChannelResult>((resolve, reject) => this.push(req, { resolve, reject, method }))
    if (opts?.merge && !signal) this.mergeable.set(id, opts.merge)
    if (signal) {
      // The server parks the call; cancelling it there (not just here) is what keeps a queued item from being taken.
      const onAbort = () => this.push([this.nextId++, '', 'cancel', [id]], noReply('cancel'))
      if (signal.aborted) onAbort()
      else { signal.addEventListener('abort', onAbort, { once: true }); p.then(() => signal.removeEventListener('abort', onAbort), () => signal.removeEventListener('abort', onAbort)) }
    }
    return p
  }

  decrefSoon(ident: string): void {
    if (!this.isClosed) this.push([this.nextId++, '', 'decref', [ident]], noReply('decref'))
  }

  private push(req: Request, p: Pending): void {
    if (this.pending.size === 0) this.conn.ref()
    this.pending.set(req[0], p)
    this.outbox.push(req)
    if (!this.flushQueued) {
      this.flushQueued = true
      // Everything requested during this turn leaves in one frame. On an idle connection the frame
      // leaves at the end of this microtask run (lowest latency for a lone call); with calls already
      // in flight it waits for the end of this event-loop turn, so calls issued between awaits
      // (a taskDone per item of a `for await` loop) share one frame instead of one frame each.
      if (this.pending.size > 1) setImmediate(this.flushBound)
      else queueMicrotask(this.flushBound)
    }
  }

  private readonly flushBound = () => this.flush()

  private flush(): void {
    this.flushQueued = false
    if (this.isClosed || !this.outbox.length) return
    const batch = this.mergeable.size ? this.merge(this.outbox) : this.outbox
    this.outbox = []
    this.mergeable.clear()
    this.send(batch)
    this.runs.clear()
  }

  /**
   * Send a batch as one frame when it stays within the server's limits (the
   * same defaults on both sides), else in halves; a merged putMany that is too
   * big, or holds an item the server would refuse, goes as its original puts,
   * so only that put fails. A single request no frame can carry fails by
   * itself, here, instead of costing the connection.
   */
  private send(batch: Request[]): void {
    let payload: Buffer
    try {
      payload = encodeBatch(batch)
    } catch (err) {
      for (const r of batch) this.settleError(r[0], err as Error)
      return
    }
    const { problem, refused } = checkFrame(payload, this.limits, this.runs.size > 0)
    if (refused.some((i) => this.runs.has(batch[i]![0]))) {
      this.send(batch.flatMap((r, i) => (refused.includes(i) && this.unmerge(r[0])) || [r]))
      return
    }
    if (!problem) { this.conn.send(payload); return }
    if (batch.length > 1) {
      const mid = batch.length >> 1
      this.send(batch.slice(0, mid))
      this.send(batch.slice(mid))
      return
    }
    const [id, , method] = batch[0]!
    const run = this.unmerge(id)
    if (run) { this.send(run); return }
    problem.message = `'${method}' was not sent: ${problem.message}`
    this.settleError(id, problem)
  }

  // The original requests a merged one stands for (their callers' pendings are still in place), or undefined.
  private unmerge(id: number): Request[] | undefined {
    const run = this.runs.get(id)
    if (!run) return undefined
    this.runs.delete(id)
    this.pending.delete(id)
    return run
  }

  /**
   * Replace runs of consecutive mergeable calls on one object by one request:
   * 2,000 puts issued in a loop cost the server one `putMany`, not 2,000 calls.
   * Order is kept because only neighbours merge.
   */
  private merge(outbox: Request[]): Request[] {
    const out: Request[] = []
    let run: Request[] = []
    let kind: 'putMany' | 'taskDone' | undefined
    const close = () => {
      if (run.length === 1) out.push(run[0]!)
      else if (run.length > 1) out.push(this.merged(run, kind!))
      run = []
      kind = undefined
    }
    for (const r of outbox) {
      const k = this.mergeable.get(r[0])
      if (k && kind === k && run[0]![1] === r[1]) { run.push(r); continue }
      close()
      if (k) { run = [r]; kind = k } else out.push(r)
    }
    close()
    return out
  }

  private merged(run: Request[], kind: 'putMany' | 'taskDone'): Request {
    const id = this.nextId++
    const ids = run.map((r) => r[0])
    const take = (i: number) => { const p = this.pending.get(i); this.pending.delete(i); return p }
    if (kind === 'putMany') {
      this.pending.set(id, {
        method: 'put',
        resolve: () => { for (const i of ids) take(i)?.resolve({ kind: 'return', value: undefined }) },
        reject: (err) => { for (const i of ids) take(i)?.reject(err) },
      })
      this.runs.set(id, run)
      return [id, run[0]![1], 'putMany', [run.map((r) => r[3][0])]]
    }
    this.pending.set(id, {
      method: 'taskDone',
      // The server marks as many as it can; the calls beyond that fail exactly as they would one by one.
      resolve: (res) => {
        const done = res.kind === 'return' ? Number(res.value) : 0
        ids.forEach((i, n) => {
          if (n < done) take(i)?.resolve({ kind: 'return', value: undefined })
          else take(i)?.reject(new TaskDoneError('taskDone() called more times than items were put'))
        })
      },
      reject: (err) => { for (const i of ids) take(i)?.reject(err) },
    })
    return [id, run[0]![1], 'taskDoneBatch', [ids.length]]
  }

  private onFrame(frame: Buffer): void {
    let replies
    try {
      replies = decodeReplies(frame)
    } catch (err) {
      this.conn.close(err as Error)
      return
    }
    for (const [id, status, value] of replies) {
      if (id === CONNECTION_REPLY_ID) { if (status === Status.Error) this.serverError = value as WireError; continue }
      const p = this.pending.get(id)
      if (!p) continue
      this.pending.delete(id)
      if (status === Status.Return) p.resolve({ kind: 'return', value })
      else if (status === Status.Proxy) { const info = value as ProxyInfo; p.resolve({ kind: 'proxy', typeid: info.typeid, ident: info.ident, exposed: info.exposed }) }
      else p.reject(fromWireError(value as WireError))
    }
    if (this.pending.size === 0) this.conn.unref()
  }

  private settleError(id: number, err: Error): void {
    const p = this.pending.get(id)
    this.pending.delete(id)
    p?.reject(err)
    if (this.pending.size === 0) this.conn.unref()
  }

  private onClosed(reason: Error | undefined): void {
    this.isClosed = true
    const where = formatAddress(this.address)
    for (const [, p] of this.pending) {
      if (this.serverError) { p.reject(fromWireError(this.serverError)); continue }
      const err = new ConnectionClosedError(`connection to manager ${where} closed while '${p.method}' was in flight${reason ? `: ${reason.message}` : ''}`)
      err.origin = where
      p.reject(err)
    }
    this.pending.clear()
  }

  close(): void {
    this.flush()
    this.conn.close()
  }

  /** Wait (at most `timeoutMs`) until no call is in flight: a graceful close lets pipelined fire-and-forget calls land. */
  async drain(timeoutMs: number): Promise<void> {
    this.flush()
    const until = Date.now() + timeoutMs
    while (this.pending.size > 0 && !this.isClosed && Date.now() < until) await sleep(2)
  }
}

registerDialect('troupe', (opts) => TroupeChannel.open(opts))
