import { isMainThread, threadId } from 'node:worker_threads'

/**
 * This place's id in the troupe spawn tree. The root is its pid; a child
 * thread or process started to host an actor gets `<parent>/<n>`, so a frame
 * finds any place by walking the tree (down when the id starts with ours,
 * otherwise up) with no routing tables.
 */
let id = isMainThread ? String(process.pid) : `${process.pid}.t${threadId}`
let root = id

/** This place's id. */
export function placeId(): string {
  return id
}

/** The root place's id (where subject subscriptions live). */
export function rootPlaceId(): string {
  return root
}

/** Set by the actor host when this thread/process hosts an actor. */
export function setPlaceId(newId: string): void {
  id = newId
  root = newId.split('/')[0]!
}
