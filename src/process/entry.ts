/**
 * The first module every troupe thread and child process runs. It reads the
 * bootstrap record (workerData for a thread, the first message on the data
 * pipe for a child, see pipe.ts), marks this place as a troupe worker,
 * imports the runtime function
 * named in it and hands over the parent link.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads'
import { markTroupeWorker, load, setProgramMainUrl, type ModuleRef } from './locate.js'
import { setPlaceInfo } from './place.js'
import { attachParent, frameTransfer, isRouterFrame, withoutTransfer } from './router.js'
import type { Boot, Kind, Link } from './endpoint.js'
import { toWireError } from '../codec/error.js'
import { ChildPipe } from './pipe.js'

interface BootRecord { runtime: ModuleRef; data: unknown; name: string; kind: Kind; parentPid: number; parentName?: string; address?: string; revivers?: string[]; main?: string }

// Router frames from the parent go here once the boot record gave this place its address.
let toRouter: (frame: unknown) => void = () => {}

markTroupeWorker()

function threadLink(): Link {
  const port = parentPort!
  return {
    send: (msg, transfer) => port.postMessage(msg, transfer as any),
    onMessage: (fn) => { port.removeAllListeners('message'); port.on('message', (m) => isRouterFrame(m) ? toRouter(m) : fn(m)) },
    unref: () => port.unref(),
    ref: () => port.ref(),
  }
}

function childLink(pipe: ChildPipe, setHandler: (fn: (msg: any) => void) => void): Link {
  const channel = () => (process as unknown as { channel?: { ref(): void; unref(): void } }).channel
  return {
    send: (msg) => pipe.send(msg),
    onMessage: setHandler,
    unref: () => { channel()?.unref(); pipe.unref() },
    ref: () => { channel()?.ref(); pipe.ref() },
  }
}

async function run(boot: BootRecord, link: Link): Promise<void> {
  setPlaceInfo({ name: boot.name, kind: boot.kind, parentPid: boot.parentPid, parentName: boot.parentName })
  setProgramMainUrl(boot.main)
  if (boot.address) toRouter = attachParent(boot.address, isMainThread ? (frame) => link.send(withoutTransfer(frame)) : (frame) => link.send(frame, frameTransfer(frame)))
  try {
    // Optional parts the parent loaded (troupe/redis): what it sends, this place must revive.
    for (const url of boot.revivers ?? []) await import(url)
    const runtime = await load<(b: Boot) => unknown>(boot.runtime)
    await runtime({ data: boot.data, link, info: { name: boot.name, kind: boot.kind, parentPid: boot.parentPid } })
  } catch (err) {
    link.send({ t: 'boot-error', error: toWireError(err, `${boot.kind} ${boot.name} (pid ${process.pid})`) })
    process.exitCode = 1
    link.unref()
  }
}

if (!isMainThread) {
  void run(workerData as BootRecord, threadLink())
} else {
  // The first message on the data pipe is the boot record; the rest go to the router or the runtime.
  let handler: ((msg: any) => void) | undefined
  let runtimeHandler: (msg: any) => void = () => {}
  const pipe = new ChildPipe((m) => {
    if (handler) handler(m)
    else {
      handler = (msg) => isRouterFrame(msg) ? toRouter(msg) : runtimeHandler(msg)
      void run(m as BootRecord, link)
    }
  })
  const link = childLink(pipe, (fn) => { runtimeHandler = fn })
  // A child process dies with its parent: when the IPC channel closes, nothing is left to serve.
  process.once('disconnect', () => process.exit(process.exitCode ?? 0))
}
