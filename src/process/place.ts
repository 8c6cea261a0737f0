import { availableParallelism, cpus } from 'node:os'
import { isMainThread, threadId } from 'node:worker_threads'
import type { Kind } from './endpoint.js'

/** What `currentProcess()` reports: who and where this code runs. */
export interface PlaceInfo {
  name: string
  kind: Kind | 'main'
  pid: number
  parentPid: number
  threadId: number
}

let info: PlaceInfo = { name: 'MainProcess', kind: 'main', pid: process.pid, parentPid: process.ppid, threadId }
let parent: { name: string; pid: number } | null = null

/** Record this place's identity (called by the worker entry). */
export function setPlaceInfo(p: { name: string; kind: Kind; parentPid: number; parentName?: string }): void {
  info = { name: p.name, kind: p.kind, pid: process.pid, parentPid: p.kind === 'thread' ? process.pid : p.parentPid, threadId }
  parent = { name: p.parentName ?? 'MainProcess', pid: p.parentPid }
}

/**
 * The place that started this one (Python's `parent_process()`): its name and
 * pid, or null in the main process. For a thread, the pid is this process's.
 */
export function parentProcess(): { name: string; pid: number } | null {
  return parent ? { ...parent } : null
}

/** How many CPUs this process may use (Python's `cpu_count()`; Node's `availableParallelism()`). */
export function cpuCount(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : cpus().length
}

/** Name, kind, pid, parent pid and thread id of the code calling it (Python's `current_process()`). */
export function currentPlace(): PlaceInfo {
  return { ...info }
}

/** A short label for error origins and logs: `MainProcess (pid 1)`, `worker-2 (thread 3, pid 1)`. */
export function placeLabel(): string {
  return isMainThread && info.kind !== 'process'
    ? `${info.name} (pid ${info.pid})`
    : info.kind === 'thread' ? `${info.name} (thread ${info.threadId}, pid ${info.pid})` : `${info.name} (pid ${info.pid})`
}
