/**
 * Values packed as bytes for a thread link: queue batches and pool result batches;
 * and the list encoding process links use too (`encodeList`, process/pipe.ts).
 *
 * A batch of queue items serialized once by the producer's place and kept as
 * bytes until a consumer's place unpacks it. The queue's home only counts and
 * forwards it, so an item crossing thread -> home -> thread is serialized
 * once and its bytes moved (transferred) on each hop, instead of being
 * rebuilt as objects in the home (which costs the home thread a deserialize,
 * a serialize and the garbage of every item).
 */
import { deserialize, serialize } from 'node:v8'
import { unmarshal } from './marshal.js'

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
 * The batch with bytes that fill their ArrayBuffer alone: itself, or a copy of just its bytes when they are
 * a view into a larger buffer (bytes that came over a process link may view the link's whole read buffer,
 * and a thread link would copy all of that).
 */
export function ownBytes(v: Packed): Packed {
  return movableBuffer(v) ? v : { [TAG]: new Uint8Array(v[TAG]), n: v.n, p: v.p }
}

/**
 * The ArrayBuffer a thread link may move instead of copying: only one the bytes fill alone. Bytes that
 * came over a process link may be a view into the link's whole read buffer; moving that would take the
 * other views with it, so those are copied (structured clone copies the whole buffer under a view).
 */
export function movableBuffer(v: Packed): ArrayBuffer | undefined {
  const b = v[TAG]
  return b.byteOffset === 0 && b.buffer instanceof ArrayBuffer && b.byteLength === b.buffer.byteLength ? b.buffer : undefined
}

// Strings at least this long travel as raw bytes after the items, not inside them: writing them is a
// copy instead of a serializer's growing buffer, and reading them back makes strings no deserializer
// holds. (A deserializer keeps every object it made until its wrapper is collected, so a large string
// inside an item survived the next scavenge and was copied there.)
export const LOOSE_STRING = 1024
// v8 serialization starts with its version tag (0xff); a list with loose strings starts with this instead.
const LOOSE = 0
// LOOSE, the head's length (u32 LE), the head: v8 bytes of [items with a placeholder per loose string, holes].
const HEAD = 5

/**
 * Where loose strings go back: per string, the item index, the key (-1: the item itself; a string: a
 * plain object's key; a number >= 0: an array's index), its byte length, 1 if UTF-16.
 */
type Holes = (number | string)[]

interface Loosened { skeleton: unknown[]; holes: Holes; strings: string[]; bytes: number }

/** Whether `v` is a plain object or array none of whose values is an object (nothing in it can refer to anything). */
function flat(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  if (proto === Array.prototype) {
    const a = v as unknown[]
    for (let j = 0; j < a.length; j++) { const e = a[j]; if (typeof e === 'object' ? e !== null : typeof e === 'function') return false }
    return true
  }
  if (proto !== Object.prototype) return false
  for (const k in v) { const e = (v as Record<string, unknown>)[k]; if (typeof e === 'object' ? e !== null : typeof e === 'function') return false }
  return true
}

/**
 * Whether the items' containers may be taken apart: each one flat (or bytes) and there once. A copy of
 * a container that something else refers to (another item, itself, an item twice) would arrive as
 * two objects; v8 serialization keeps such identities, so those lists go whole.
 */
function looseSafe(items: unknown[]): boolean {
  let seen: Set<object> | undefined
  for (let i = 0; i < items.length; i++) {
    const x = items[i]
    if (typeof x === 'function') return false
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x)) continue
    if (!flat(x)) return false
    if (seen?.has(x)) return false
    ;(seen ??= new Set()).add(x)
  }
  return true
}

/**
 * The items with their large strings (as items, values of plain objects or elements of arrays) taken
 * out, or undefined when there are none or the list must go whole (see looseSafe).
 */
function loosen(items: unknown[]): Loosened | undefined {
  if (!looseSafe(items)) return undefined
  let out: Loosened | undefined
  const take = (i: number, k: number | string, v: string) => {
    out ??= { skeleton: items.slice(), holes: [], strings: [], bytes: 0 }
    // Latin-1 when every code unit fits a byte (a one-byte string answers this without a scan), else UTF-16 code units as they are.
    const wide = /[^\x00-\xff]/.test(v) ? 1 : 0
    const n = v.length << wide
    out.holes.push(i, k, n, wide)
    out.strings.push(v)
    out.bytes += n
    return out
  }
  for (let i = 0; i < items.length; i++) {
    const x = items[i]
    if (typeof x === 'string') {
      if (x.length >= LOOSE_STRING) take(i, -1, x).skeleton[i] = 0
    } else if (Array.isArray(x) && Object.getPrototypeOf(x) === Array.prototype) {
      let copy: unknown[] | undefined
      for (let j = 0; j < x.length; j++) {
        const v = x[j]
        if (typeof v !== 'string' || v.length < LOOSE_STRING) continue
        // A copy would drop named properties beside the elements (v8 keeps them): such an array stays whole.
        if (!copy && Object.keys(x).length !== x.length) break
        const o = take(i, j, v)
        if (!copy) o.skeleton[i] = copy = x.slice()
        copy[j] = 0
      }
    } else if (typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype) {
      let copy: Record<string, unknown> | undefined
      for (const k in x) {
        const v = (x as Record<string, unknown>)[k]
        if (typeof v !== 'string' || v.length < LOOSE_STRING) continue
        const o = take(i, k, v)
        // The placeholder keeps the key where it was, so the rebuilt item has its keys in the same order.
        if (!copy) o.skeleton[i] = copy = { ...(x as Record<string, unknown>) }
        copy[k] = 0
      }
    }
  }
  return out
}

/**
 * Serialize a list (throws what v8.serialize throws). `large`: some item may hold a string of
 * LOOSE_STRING or more, as an item or one level inside one (false skips looking for one).
 * The bytes are one exact allocation when strings were taken out, so a thread link can move it.
 */
export function encodeList(items: unknown[], large = true): Buffer {
  const loose = large ? loosen(items) : undefined
  return loose ? encodeLoose(loose) : serialize(items)
}

/** The bytes of a list whose large strings were taken out: a v8 head, then the strings raw. */
function encodeLoose(loose: Loosened): Buffer {
  const head = serialize([loose.skeleton, loose.holes])
  // One exact allocation the bytes fill alone (never the shared pool), so a thread link can move it.
  const bytes = Buffer.allocUnsafeSlow(HEAD + head.length + loose.bytes)
  bytes[0] = LOOSE
  bytes.writeUInt32LE(head.length, 1)
  head.copy(bytes, HEAD)
  let at = HEAD + head.length
  for (let j = 0; j < loose.strings.length; j++) {
    const n = loose.holes[4 * j + 2] as number
    if (loose.holes[4 * j + 3]) bytes.write(loose.strings[j]!, at, n, 'utf16le')
    else bytes.write(loose.strings[j]!, at, n, 'latin1')
    at += n
  }
  return bytes
}

/** The list `encodeList` encoded. */
export function decodeList(b: Buffer): unknown[] {
  if (b[0] !== LOOSE) return deserialize(b) as unknown[]
  const headLength = b.readUInt32LE(1)
  const [skeleton, holes] = deserialize(b.subarray(HEAD, HEAD + headLength)) as [unknown[], Holes]
  // Fresh containers: the deserialized ones are kept by the deserializer until the next collection, and must not hold the strings.
  const items = skeleton.slice()
  let at = HEAD + headLength
  let last = -1
  for (let h = 0; h < holes.length; h += 4) {
    const i = holes[h] as number
    const k = holes[h + 1]!
    const n = holes[h + 2] as number
    const s = holes[h + 3] ? b.toString('utf16le', at, at + n) : b.toString('latin1', at, at + n)
    at += n
    if (k === -1) items[i] = s
    else if (typeof k === 'number') {
      if (i !== last) items[i] = (items[i] as unknown[]).slice()
      ;(items[i] as unknown[])[k] = s
    } else {
      if (i !== last) items[i] = { ...(items[i] as Record<string, unknown>) }
      ;(items[i] as Record<string, unknown>)[k] = s
    }
    last = i
  }
  return items
}

/**
 * Serialize already-marshalled items; undefined when v8 cannot (shared memory, ports): send them as they are then.
 * `large`: some item may hold a string of LOOSE_STRING or more (false skips looking for one).
 */
export function pack(items: unknown[], portables: boolean, large = true): Packed | undefined {
  let bytes: Buffer
  try {
    bytes = encodeList(items, large)
  } catch {
    return undefined
  }
  return { [TAG]: bytes, n: items.length, p: portables }
}

/** The items of a packed batch, with their portables revived. */
export function unpack<T>(v: Packed): T[] {
  const u = v[TAG]
  // Bytes that crossed a thread link arrive as a plain Uint8Array: view them as a Buffer (no copy).
  const b = Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
  const items = decodeList(b)
  return (v.p ? unmarshal(items, true) : items) as T[]
}

/**
 * Values as they go over a thread link: packed when they may hold large strings (the strings as raw
 * bytes in a buffer that moves, instead of a structured clone of each), else as they are.
 */
export function packForThread(values: unknown[], large: boolean): { msg: unknown; transfer: ArrayBuffer[] | undefined } {
  // Only strings taken out pay for packing: other values (bytes, numbers) go as they are, by structured clone.
  let loose: Loosened | undefined
  try {
    loose = large ? loosen(values) : undefined
  } catch {
    loose = undefined
  }
  if (!loose) return { msg: values, transfer: undefined }
  let bytes: Buffer
  try {
    bytes = encodeLoose(loose)
  } catch {
    return { msg: values, transfer: undefined }
  }
  const packed: Packed = { [TAG]: bytes, n: values.length, p: false }
  const buffer = movableBuffer(packed)
  return buffer ? { msg: packed, transfer: [buffer] } : { msg: values, transfer: undefined }
}

/** Values as they arrived over a link: unpacked when they came packed. */
export function unpacked(msg: unknown): unknown {
  return isPacked(msg) ? unpack(msg) : msg
}
