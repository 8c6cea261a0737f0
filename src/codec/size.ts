/**
 * A cheap guess of how many bytes a value takes once cloned or serialized,
 * for the batching channels (pool tasks and results, actor outboxes, queue
 * puts): they cap a message at about a MiB, because one message holding
 * hundreds of 64 KiB strings is deserialized into one young-generation burst
 * that survives scavenges together and gets copied and promoted; that, not
 * the copy itself, doubled the CPU of a task carrying a large string.
 *
 * The walk is bounded: strings and binary count their length, other leaves 8
 * bytes; a long array is sampled (SAMPLE items, spread out) and scaled, an
 * object counts its first KEYS keys and is scaled, and nesting below DEPTH
 * counts a flat 64. A wrong guess only makes a batch larger or smaller.
 */
const SAMPLE = 8
const KEYS = 32
const DEPTH = 4

/** Approximate serialized size of `v` in bytes (see above). */
export function approxBytes(v: unknown): number {
  return size(v, DEPTH)
}

function size(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string': return (v as string).length
    case 'object': break
    default: return 8
  }
  if (v === null) return 1
  if (ArrayBuffer.isView(v)) return v.byteLength
  if (v instanceof ArrayBuffer) return v.byteLength
  if (depth === 0) return 64
  if (Array.isArray(v)) {
    const n = v.length
    if (n <= SAMPLE) {
      let s = 8
      for (let i = 0; i < n; i++) s += size(v[i], depth - 1)
      return s
    }
    let s = 0
    const step = n / SAMPLE
    for (let k = 0; k < SAMPLE; k++) s += size(v[Math.floor(k * step)], depth - 1)
    return 8 + Math.round((s / SAMPLE) * n)
  }
  if (v instanceof Map || v instanceof Set) return 8 + v.size * 16
  let s = 8
  let keys = 0
  for (const k in v) {
    if (++keys > KEYS) return Math.round((s * Object.keys(v).length) / KEYS)
    s += k.length + size((v as Record<string, unknown>)[k], depth - 1)
  }
  return s
}
