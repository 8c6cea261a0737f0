// The anchors' side of bench/pool.ts (piscina and the raw postMessage pool): the same tasks, one
// object argument each (piscina's calling convention).
export function add({ a, b }) {
  return a + b
}

export function byteLength(buf) {
  return buf.byteLength
}

export function objLen(o) {
  return o.a + o.b + o.s.length
}

// 64 distinct 64 KiB strings, built (and flattened) once per worker: a task returns one of them.
const STRINGS = Array.from({ length: 64 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(64 * 1024))
for (const s of STRINGS) s.charCodeAt(100)

export function bigString(i) {
  return STRINGS[i & 63]
}
