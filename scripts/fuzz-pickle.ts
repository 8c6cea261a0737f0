/**
 * Fuzz troupe's pickle decoder: random bytes, random opcode streams and
 * mutations of real pickles. The decoder must return or throw DecodeError /
 * ForbiddenGlobalError, never anything else, never hang; whatever it returns
 * must encode again (or be refused with UnsendableValueError).
 *
 *   node --import tsx scripts/fuzz-pickle.ts [iterations=2000000] [seed]
 */
import { decodePickle, encodePickle, tuple, float, FrozenSet, ByteArray, pyException, pyToken } from '../src/codec/index.ts'
import { DecodeError, ForbiddenGlobalError, UnsendableValueError } from '../src/errors.ts'

/** What a fuzz run saw. */
export interface FuzzReport { runs: number; decoded: number; decodeErrors: number; forbidden: number; reencoded: number; failures: { input: string; error: string }[] }

/** A small seeded xorshift generator: the same seed gives the same inputs. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 0x100000000
  }
}

function seeds(): Buffer[] {
  const values: unknown[] = [
    tuple(1, 'a', null, 2.5, Buffer.from('x'), [1, 2], new Map([['k', true]]), 2n ** 70n, -1, new Set([1, 2]), 'é☃😀'),
    tuple(null, 'create', tuple('get_task'), new Map()),
    tuple('#RETURN', tuple('7f4385bb4750', tuple('empty', 'full', 'get', 'put', 'qsize', 'task_done'))),
    tuple('#ERROR', pyException('queue', 'Empty')),
    tuple('#PROXY', tuple(tuple('value', 'child'), pyToken('Box', tuple('127.0.0.1', 48943), '7f4385563a10'))),
    { nested: [[[[1]]], new FrozenSet([1]), ByteArray.fromBytes(Buffer.from('ab')), float(2)] },
    [2n ** 2100n, -(2n ** 64n), 65535, 65536, -2147483648, 'x'.repeat(300)],
  ]
  const out: Buffer[] = []
  for (const v of values) for (const protocol of [2, 4, 5] as const) out.push(encodePickle(v, { protocol }))
  // Hand-written shapes CPython emits: FRAME + MEMOIZE + STACK_GLOBAL + NEWOBJ + BUILD (a Token), protocol 0 text.
  out.push(Buffer.from('80049538000000000000008c186d756c746970726f63657373696e672e6d616e6167657273948c05546f6b656e949394298194' +
    '8c03426f78948c093132372e302e302e31944d2fbf86948c0c376634333835353633613130948794622e', 'hex'))
  out.push(Buffer.from("(I1\nL1180591620717411303424L\nF2.5\nS'a\\'b'\nVx\\u2603\np0\n(lp1\nI1\na(dp2\nS'k'\nNsI01\ng0\ntp3\n.", 'latin1'))
  out.push(Buffer.from("((S'bad'\nibuiltins\nValueError\n(cbuiltins\nKeyError\nS'k'\noc__builtin__\nset\n(lp0\nI1\na\x85Rt.", 'latin1'))
  return out
}

const OPS = [0x28, 0x2e, 0x30, 0x31, 0x32, 0x46, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x52, 0x53, 0x54, 0x55, 0x56, 0x58,
  0x61, 0x62, 0x63, 0x64, 0x7d, 0x65, 0x67, 0x68, 0x69, 0x6a, 0x6c, 0x5d, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x29,
  0x75, 0x47, 0x80, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x42, 0x43, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91,
  0x92, 0x93, 0x94, 0x95, 0x96]

function randomOps(r: () => number): Buffer {
  const out: number[] = [0x80, 2 + Math.floor(r() * 4)]
  const n = 1 + Math.floor(r() * 40)
  for (let i = 0; i < n; i++) {
    const op = OPS[Math.floor(r() * OPS.length)]!
    out.push(op)
    // A few argument bytes, small enough that lengths often point inside the input.
    const args = Math.floor(r() * 4)
    for (let j = 0; j < args; j++) out.push(r() < 0.7 ? Math.floor(r() * 8) : Math.floor(r() * 256))
    if (op === 0x63 || op === 0x49 || op === 0x46) out.push(...Buffer.from(r() < 0.5 ? 'builtins\nset\n' : '12\n'))
  }
  out.push(0x2e)
  return Buffer.from(out)
}

/** 1-4 byte-level edits of `src` (flips, inserts, deletes, truncation, splices from `corpus`). */
export function mutate(src: Buffer, r: () => number, corpus: Buffer[]): Buffer {
  const b = Array.from(src)
  const edits = 1 + Math.floor(r() * 4)
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(r() * (b.length + 1))
    switch (Math.floor(r() * 7)) {
      case 0: if (b.length) b[at % b.length] = Math.floor(r() * 256); break
      case 1: b.splice(at, 0, Math.floor(r() * 256)); break
      case 2: b.splice(at, 1 + Math.floor(r() * 4)); break
      case 3: b.length = Math.min(b.length, at); break
      case 4: if (b.length) b[at % b.length] = [0x00, 0xff, 0x7f, 0x80, 0x28, 0x2e, 0x94][Math.floor(r() * 7)]!; break
      case 5: { const other = corpus[Math.floor(r() * corpus.length)]!; const from = Math.floor(r() * other.length); b.splice(at, 0, ...other.subarray(from, from + 1 + Math.floor(r() * 16))); break }
      default: { const from = Math.floor(r() * b.length); b.splice(at, 0, ...b.slice(from, from + 1 + Math.floor(r() * 8))) }
    }
  }
  return Buffer.from(b)
}

/** Run `iterations` fuzz inputs; never throws, reports anything that was not a named error. */
export function fuzz(iterations: number, seed = 0x5eed): FuzzReport {
  const r = rng(seed)
  const corpus = seeds()
  const report: FuzzReport = { runs: 0, decoded: 0, decodeErrors: 0, forbidden: 0, reencoded: 0, failures: [] }
  for (let i = 0; i < iterations; i++) {
    const kind = r()
    const input = kind < 0.1 ? Buffer.from(Array.from({ length: Math.floor(r() * 48) }, () => Math.floor(r() * 256)))
      : kind < 0.4 ? randomOps(r)
      : mutate(corpus[Math.floor(r() * corpus.length)]!, r, corpus)
    report.runs++
    let value: unknown
    try {
      // Odd runs refuse foreign globals, even runs relay them (they must then re-encode like any value).
      value = decodePickle(input, { maxDepth: 200, foreign: i & 1 ? 'refuse' : 'relay' })
      report.decoded++
    } catch (err) {
      if (err instanceof DecodeError) report.decodeErrors++
      else if (err instanceof ForbiddenGlobalError) report.forbidden++
      else if (report.failures.length < 20) report.failures.push({ input: input.toString('hex'), error: String((err as Error)?.stack ?? err) })
      continue
    }
    try {
      encodePickle(value)
      report.reencoded++
    } catch (err) {
      if (!(err instanceof UnsendableValueError) && report.failures.length < 20) report.failures.push({ input: input.toString('hex'), error: `re-encode: ${String((err as Error)?.stack ?? err)}` })
    }
  }
  return report
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const iterations = Number(process.argv[2] ?? 2_000_000)
  const seed = Number(process.argv[3] ?? Date.now() & 0xffffffff)
  const t0 = performance.now()
  const report = fuzz(iterations, seed)
  const s = (performance.now() - t0) / 1000
  console.log(`seed ${seed}: ${report.runs} inputs in ${s.toFixed(1)} s (${Math.round(report.runs / s)}/s); decoded ${report.decoded}, re-encoded ${report.reencoded}, DecodeError ${report.decodeErrors}, ForbiddenGlobalError ${report.forbidden}, other ${report.failures.length}`)
  for (const f of report.failures) console.log(`FAIL ${f.input}\n${f.error}`)
  process.exit(report.failures.length ? 1 : 0)
}
