// piscina's side of bench/pool.ts: the same trivial tasks, one object argument each (piscina's calling convention).
export function add({ a, b }) {
  return a + b
}

export function byteLength(buf) {
  return buf.byteLength
}
