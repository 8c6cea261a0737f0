import { Worker } from 'node:worker_threads'
import { fork, type ChildProcess } from 'node:child_process'
import { constants as osConstants } from 'node:os'
import { fileURLToPath } from 'node:url'
import { assertNotBootstrapping, programMainUrl, type ModuleRef } from './locate.js'
import { currentPlace } from './place.js'
import { attachChild, frameTransfer, isRouterFrame, withoutTransfer } from './router.js'
import { reviverModules } from '../codec/index.js'
import { armWait } from '../timers.js'
import { ParentPipe, PIPE_STDIO } from './pipe.js'

/**
 * What a message may move to a thread instead of copying it (ArrayBuffer, MessagePort, ...).
 * Read off `Worker.postMessage` so it matches whichever @types/node the user has
 * (`Transferable` before @types/node 26, `Transferable` since).
 */
export type Transferable = NonNullable<Parameters<Worker['postMessage']>[1]>[number]

/** Where a Process, pool worker or actor runs. */
export type Kind = 'thread' | 'process'

/** How a spawned thread or child process ended. */
export interface ExitInfo {
  /** Exit code when it exited by itself or was terminated (threads). */
  code: number | null
  /** Signal name when a child process was killed by one. */
  signal: NodeJS.Signals | null
  /** Python's convention: the exit code, or minus the signal number (`-9` for SIGKILL). */
  exitCode: number
}

/** What a spawned thread or child process runs and with what. */
export interface EndpointOptions {
  kind: Kind
  /** The function run inside, as `(boot: Boot) => unknown`, named by module and export. */
  runtime: ModuleRef
  /** Bootstrap data for the runtime (structured-clone / v8 serializable). */
  data?: unknown
  /** Transferables inside `data` (threads only). */
  transfer?: Transferable[]
  /** A name for logs and `currentProcess().name`. */
  name?: string
  /** Extra environment for a child process. */
  env?: NodeJS.ProcessEnv
  /** `inherit` (default) shares the parent's stdout/stderr; `pipe` exposes them. */
  stdio?: 'inherit' | 'pipe'
}

/** What the worker entry hands to a runtime function. */
export interface Boot {
  data: unknown
  link: Link
  info: { name: string; kind: Kind; parentPid: number }
}

/** The message channel between a runtime and its parent. */
export interface Link {
  send(msg: unknown, transfer?: Transferable[]): void
  onMessage(fn: (msg: any) => void): void
  /** Let this thread/process exit when nothing else keeps it alive. */
  unref(): void
  ref(): void
}

/** Signal number by name, for Python-style negative exit codes. */
export function signalNumber(signal: NodeJS.Signals): number {
  return (osConstants.signals as Record<string, number>)[signal] ?? 0
}

const here = import.meta.url
// How long an exited child's data pipe may stay open before its exit is reported anyway (ms).
const EXIT_DRAIN_MS = 2000
// Under tsx the library runs from src/*.ts; compiled, from dist/*.js.
const entryUrl = new URL(here.endsWith('.ts') ? './entry.ts' : './entry.js', here)

/**
 * Module URLs a new worker thread must load before anything else so it can
 * import what the parent imports. Child processes inherit `execArgv` and run
 * `--import` hooks themselves; worker threads on Node 20 do not get hooks that
 * a loader registers only on the main thread (tsx does exactly that), so the
 * thread bootstrap registers tsx's API itself and re-imports other `--import`
 * modules.
 */
function threadPreloads(): { tsxApi?: string; imports: string[] } {
  const out: { tsxApi?: string; imports: string[] } = { imports: [] }
  const argv = process.execArgv
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    let spec: string | undefined
    if (flag === '--import' || flag === '--loader' || flag === '--experimental-loader') spec = argv[++i]
    else if (/^--(import|loader|experimental-loader)=/.test(flag)) spec = flag.slice(flag.indexOf('=') + 1)
    if (!spec) continue
    if (spec === 'tsx' || /[\\/]tsx[\\/]dist[\\/]/.test(spec)) {
      try {
        out.tsxApi = spec === 'tsx' ? import.meta.resolve('tsx/esm/api') : new URL('./esm/api/index.mjs', spec.startsWith('file:') ? spec : `file://${spec}`).href
      } catch { /* tsx not resolvable from here: the import below will say what is missing */ }
    } else out.imports.push(spec)
  }
  return out
}

const preloads = threadPreloads()

// A program run as `node --input-type=module -e '...'` would make the CommonJS bootstrap below parse as ESM
// (and re-run the eval'd code): threads inherit every flag except those.
// Undefined (inherit, the default) unless such a flag is there; an explicit list is validated, so it keeps
// only options Node accepts for workers.
const threadExecArgv = (() => {
  const out: string[] = []
  const argv = process.execArgv
  let dropped = false
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (flag === '-e' || flag === '--eval' || flag === '-p' || flag === '--print' || flag === '--input-type') { i++; dropped = true; continue }
    if (/^--(input-type|eval|print)=/.test(flag)) { dropped = true; continue }
    if (flag === '--import' || flag === '--require' || flag === '-r' || flag === '--loader' || flag === '--experimental-loader') { out.push(flag, argv[++i]!); continue }
    if (process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!)) out.push(flag)
  }
  return dropped ? out : undefined
})()

// Runs as the thread's first script (eval'd, CommonJS): set up the loader, then import the entry.
const threadBootstrap = `
const { workerData } = require('node:worker_threads');
(async () => {
  const pre = workerData.preloads;
  if (pre.tsxApi) (await import(pre.tsxApi)).register();
  for (const spec of pre.imports) await import(spec);
  await import(workerData.entry);
})().catch((err) => { process.exitCode = 1; throw err; });
`

/**
 * A spawned worker thread or child process with one message channel, the
 * same shape for both kinds. Process, Pool and actors all start their
 * workers through this.
 */
export class Endpoint {
  readonly kind: Kind
  readonly name: string
  /** OS pid (the parent's pid for a thread). */
  readonly pid: number
  /** Worker thread id (threads only). */
  readonly threadId: number | undefined
  /** Resolves once, when the thread or process has ended. */
  readonly exited: Promise<ExitInfo>
  /** The child's stdout/stderr when spawned with `stdio: 'pipe'`. */
  readonly stdout: NodeJS.ReadableStream | null
  readonly stderr: NodeJS.ReadableStream | null
  private readonly worker?: Worker
  private readonly child?: ChildProcess
  private readonly pipe?: ParentPipe
  private exitInfo: ExitInfo | undefined
  private resolveExit!: (info: ExitInfo) => void
  // A thread has no signals; when we stop one, its exit is reported as the signal a process would get.
  private stopSignal: NodeJS.Signals | null = null
  private onMsg: (msg: any) => void = () => {}

  constructor(opts: EndpointOptions) {
    // An unguarded entry module, re-run by a worker that imports it, would start workers without end.
    assertNotBootstrapping(`a ${opts.kind}${opts.name ? ` (${opts.name})` : ''}`)
    this.kind = opts.kind
    this.name = opts.name ?? `${opts.kind}`
    // Every link also carries the router's frames, so references work between all places (see router.ts).
    const route = attachChild(opts.kind === 'thread' ? (frame) => this.send(frame, frameTransfer(frame)) : (frame) => this.send(withoutTransfer(frame)))
    const boot = { runtime: opts.runtime, data: opts.data, name: this.name, kind: opts.kind, parentPid: process.pid, parentName: currentPlace().name, address: route.address, revivers: reviverModules(), main: programMainUrl() }
    this.exited = new Promise((r) => { this.resolveExit = r })
    void this.exited.then(() => route.detach())
    if (opts.kind === 'thread') {
      const worker = new Worker(threadBootstrap, {
        eval: true,
        execArgv: threadExecArgv,
        workerData: { ...boot, preloads, entry: entryUrl.href },
        transferList: opts.transfer,
        name: this.name,
        stdout: opts.stdio === 'pipe',
        stderr: opts.stdio === 'pipe',
      })
      this.worker = worker
      this.pid = process.pid
      this.threadId = worker.threadId
      this.stdout = opts.stdio === 'pipe' ? worker.stdout : null
      this.stderr = opts.stdio === 'pipe' ? worker.stderr : null
      worker.on('message', (m) => isRouterFrame(m) ? route.deliver(m) : this.onMsg(m))
      // An uncaught error ends the thread with exit code 1; the runtime reports its own errors as messages.
      worker.on('error', () => {})
      worker.on('exit', (code) => this.stopSignal ? this.settle(null, this.stopSignal) : this.settle(code, null))
    } else {
      // Messages travel on a data pipe of their own (pipe.ts); the IPC channel only tells the child its parent is gone.
      const child = fork(fileURLToPath(entryUrl), [], {
        env: { ...process.env, ...opts.env, TROUPE_CHILD: '1' },
        stdio: [...(opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] as const : ['inherit', 'inherit', 'inherit'] as const), 'ipc', ...PIPE_STDIO],
      })
      this.child = child
      this.pid = child.pid ?? -1
      this.threadId = undefined
      this.stdout = child.stdout
      this.stderr = child.stderr
      child.on('error', () => {})
      if (child.pid === undefined) {
        // Spawning failed (the 'error' event says why): there are no pipes.
        child.on('exit', (code, signal) => this.settle(code, signal))
      } else {
        const pipe = this.pipe = new ParentPipe(child.stdio, (m) => isRouterFrame(m) ? route.deliver(m) : this.onMsg(m))
        // The exit is reported once every message the child sent has been handled (a pool's last results),
        // or after EXIT_DRAIN_MS should something the child started still hold its end of the pipe.
        child.on('exit', (code, signal) => {
          const disarm = armWait({ timeout: EXIT_DRAIN_MS }, () => this.settle(code, signal), () => {})
          void pipe.drained.then(() => { disarm(); this.settle(code, signal) })
        })
        pipe.send(boot)
      }
    }
  }

  /** Post a message to the runtime inside (transfers apply to threads only). */
  send(msg: unknown, transfer?: Transferable[]): void {
    if (this.exitInfo) return
    if (this.worker) this.worker.postMessage(msg, transfer)
    else this.pipe?.send(msg)
  }

  /** Set the one handler for messages from the runtime. */
  onMessage(fn: (msg: any) => void): void {
    this.onMsg = fn
  }

  /** Whether it has not yet exited. */
  get alive(): boolean {
    return this.exitInfo === undefined
  }

  /** Exit information once ended. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo
  }

  /** Stop it: SIGTERM for a child process, `Worker.terminate()` for a thread (reported as -15 like Python). */
  terminate(): Promise<ExitInfo> {
    return this.stop('SIGTERM')
  }

  /** Kill it at once: SIGKILL for a child process, `Worker.terminate()` for a thread (reported as -9). */
  kill(): Promise<ExitInfo> {
    return this.stop('SIGKILL')
  }

  private stop(signal: NodeJS.Signals): Promise<ExitInfo> {
    if (this.exitInfo) return this.exited
    if (this.worker) {
      this.stopSignal ??= signal
      void this.worker.terminate()
    } else this.child?.kill(signal)
    return this.exited
  }

  private settle(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitInfo) return
    this.exitInfo = { code, signal, exitCode: signal ? -signalNumber(signal) : code ?? 0 }
    this.resolveExit(this.exitInfo)
  }

  /** Do not keep the parent's event loop alive for this worker. */
  unref(): void {
    this.worker?.unref()
    if (this.child) { this.child.unref(); (this.child as unknown as { channel?: { unref(): void } }).channel?.unref(); this.pipe?.unref() }
  }

  /** Keep the parent's event loop alive while this worker runs (the default). */
  ref(): void {
    this.worker?.ref()
    if (this.child) { this.child.ref(); (this.child as unknown as { channel?: { ref(): void } }).channel?.ref(); this.pipe?.ref() }
  }
}
