import { placeAddress } from '../process/index.js'

/**
 * This place's id: its address in the troupe spawn tree kept by the process
 * layer's router (the root is its pid; each troupe thread or child process is
 * its parent's address plus a number: `4711/2`, `4711/2/1`). A frame finds
 * any place by walking the tree: down when the id starts with ours,
 * otherwise up.
 */
export function placeId(): string {
  return placeAddress()
}

/** The root place's id (where subject subscriptions live). */
export function rootPlaceId(): string {
  const id = placeAddress()
  const slash = id.indexOf('/')
  return slash < 0 ? id : id.slice(0, slash)
}
