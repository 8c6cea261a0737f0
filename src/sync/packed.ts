/**
 * A batch of queue items serialized once by the producer's place and kept as
 * bytes until a consumer's place unpacks it. The queue's home only counts and
 * forwards it, so an item crossing thread -> home -> thread is cloned once
 * each way instead of being rebuilt as objects in the home (which costs the
 * home thread a deserialize, a serialize and the garbage of every item).
 */
import { DefaultDeserializer, DefaultSerializer } from 'node:v8'
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

// Strings at least this long travel as top-level values after the items, not inside them. A deserializer
// keeps every object it made (its back-reference map) until its wrapper is collected, so a large string
// inside an item survives the next scavenge and is copied there; a top-level string is in no map.
const LOOSE_STRING = 1024

/** The items with their large strings (as items or values of plain objects) taken out: `holes` says where they go. */
function loosen(items: unknown[]): { skeleton: unknown[]; holes: (number | string)[]; strings: string[] } | undefined {
  let out: { skeleton: unknown[]; holes: (number | string)[]; strings: string[] } | undefined
  for (let i = 0; i < items.length; i++) {
    const x = items[i]
    if (typeof x === 'string') {
      if (x.length < LOOSE_STRING) continue
      out ??= { skeleton: items.slice(), holes: [], strings: [] }
      out.skeleton[i] = 0
      out.holes.push(i, -1)
      out.strings.push(x)
    } else if (typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype) {
      let copy: Record<string, unknown> | undefined
      for (const k in x) {
        const v = (x as Record<string, unknown>)[k]
        if (typeof v !== 'string' || v.length < LOOSE_STRING) continue
        out ??= { skeleton: items.slice(), holes: [], strings: [] }
        // The placeholder keeps the key where it was, so the rebuilt item has its keys in the same order.
        if (!copy) out.skeleton[i] = copy = { ...(x as Record<string, unknown>) }
        copy[k] = 0
        out.holes.push(i, k)
        out.strings.push(v)
      }
    }
  }
  return out
}

/** Serialize already-marshalled items; undefined when v8 cannot (shared memory, ports): send them as they are then. */
export function pack(items: unknown[], portables: boolean): Packed | undefined {
  try {
    const loose = loosen(items)
    const ser = new DefaultSerializer()
    ser.writeHeader()
    ser.writeValue(loose ? loose.skeleton : items)
    ser.writeValue(loose ? loose.holes : null)
    if (loose) for (const s of loose.strings) ser.writeValue(s)
    return { [TAG]: ser.releaseBuffer(), n: items.length, p: portables }
  } catch {
    return undefined
  }
}

/** The items of a packed batch, with their portables revived. */
export function unpack<T>(v: Packed): T[] {
  const des = new DefaultDeserializer(v[TAG] as Buffer)
  des.readHeader()
  let items = des.readValue() as unknown[]
  const holes = des.readValue() as (number | string)[] | null
  if (holes) {
    // Fresh containers: the deserialized ones stay in its map until the next collection, and must not hold the strings.
    items = items.slice()
    let last = -1
    for (let h = 0; h < holes.length; h += 2) {
      const i = holes[h] as number
      const k = holes[h + 1]!
      const s = des.readValue() as string
      if (k === -1) items[i] = s
      else {
        if (i !== last) items[i] = { ...(items[i] as Record<string, unknown>) }
        ;(items[i] as Record<string, unknown>)[k] = s
      }
      last = i
    }
  }
  return (v.p ? unmarshal(items, true) : items) as T[]
}
