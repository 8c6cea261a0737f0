import type { AsyncResult } from './async-result.js'
import { Deque } from './deque.js'

/** Split a list into chunks of `size` items. */
export function toChunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Reads chunks of `size` items from a sync or async iterable, one chunk per call; `[]` at the end. */
function chunkReader<T>(source: Iterable<T> | AsyncIterable<T>, size: number): { next(): Promise<T[]> | T[]; close(): void } {
  const asyncIt = (source as AsyncIterable<T>)[Symbol.asyncIterator]?.()
  if (asyncIt) {
    let done = false
    return {
      async next() {
        const chunk: T[] = []
        while (!done && chunk.length < size) {
          const r = await asyncIt.next()
          if (r.done) done = true
          else chunk.push(r.value)
        }
        return chunk
      },
      close() { if (!done) { done = true; void asyncIt.return?.() } },
    }
  }
  const it = (source as Iterable<T>)[Symbol.iterator]()
  let done = false
  return {
    // Sync sources stay sync: no await per item.
    next() {
      const chunk: T[] = []
      while (!done && chunk.length < size) {
        const r = it.next()
        if (r.done) done = true
        else chunk.push(r.value)
      }
      return chunk
    },
    close() { if (!done) { done = true; it.return?.() } },
  }
}

/**
 * The engine of `imap` / `imapUnordered`: keeps at most `window` chunks
 * submitted and not yet consumed, reading the input only as results are
 * taken, so an endless or huge input never floods the pool.
 */
export async function* iterateChunks<R>(
  submit: (chunk: unknown[]) => AsyncResult<R[]>,
  source: Iterable<unknown> | AsyncIterable<unknown>,
  size: number,
  window: number,
  ordered: boolean,
): AsyncGenerator<R, void, undefined> {
  const reader = chunkReader(source, size)
  const pending = new Deque<AsyncResult<R[]>>()
  // Unordered: finished chunks, in the order they finished.
  const finished = new Deque<AsyncResult<R[]>>()
  let wake: (() => void) | undefined
  let exhausted = false
  let out = 0
  try {
    for (;;) {
      while (!exhausted && out < window) {
        const chunk = await reader.next()
        if (chunk.length === 0) { exhausted = true; break }
        const r = submit(chunk)
        out++
        if (ordered) pending.push(r)
        else r.onSettled(() => { finished.push(r); wake?.() })
      }
      if (out === 0) return
      let r: AsyncResult<R[]>
      if (ordered) r = pending.shift()!
      else {
        while (finished.length === 0) await new Promise<void>((resolve) => { wake = resolve })
        wake = undefined
        r = finished.shift()!
      }
      out--
      const values = await r
      for (const v of values) yield v
    }
  } finally {
    reader.close()
  }
}
