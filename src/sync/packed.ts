/**
 * A batch of queue items serialized once by the producer's place and kept as
 * bytes until a consumer's place unpacks it. The queue's home only counts and
 * forwards it, so an item crossing thread -> home -> thread is cloned once
 * each way instead of being rebuilt as objects in the home (which costs the
 * home thread a deserialize, a serialize and the garbage of every item).
 */
import { serialize, deserialize } from 'node:v8'
import { unmarshal } from '../codec/index.js'

const TAG = '\u0000troupe:packed'

/** Several items as bytes; a plain record so every transport and `marshal` carry it as is. */
export interface Packed { [TAG]: Uint8Array; n: number; p: boolean }

/** Whether a queue element is a packed batch. */
export function isPacked(v: unknown): v is Packed {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[TAG] instanceof Uint8Array
}

/** How many items an element stands for. */
export function weight(v: unknown): number {
  return isPacked(v) ? v.n : 1
}

/** The size of a packed batch's bytes. */
export function packedBytes(v: Packed): number {
  return v[TAG].byteLength
}

/**
 * The ArrayBuffer a thread link may move instead of copying: only one the bytes fill alone. Bytes that
 * came over a process link are a view into the whole IPC read buffer; moving that would take the other
 * views with it, so those are copied (structured clone copies the whole buffer under a view).
 */
export function movableBuffer(v: Packed): ArrayBuffer | undefined {
  const b = v[TAG]
  return b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.byteLength === b.buffer.byteLength ? b.buffer : undefined
}

/** Serialize already-marshalled items; undefined when v8 cannot (shared memory, ports): send them as they are then. */
export function pack(items: unknown[], portables: boolean): Packed | undefined {
  try {
    return { [TAG]: serialize(items), n: items.length, p: portables }
  } catch {
    return undefined
  }
}

/** The items of a packed batch, with their portables revived. */
export function unpack<T>(v: Packed): T[] {
  const items = deserialize(v[TAG]) as T[]
  return (v.p ? unmarshal(items, true) : items) as T[]
}
