/**
 * The JSON counterpart of `checkV8`: counts the values and nesting of JSON
 * text from an untrusted peer before `JSON.parse` builds them, so one frame
 * cannot cost more than its limits. JSON cannot express holes or shared
 * objects, so values and depth are all there is to bound.
 */
import { DecodeError } from '../errors.js'
import { V8_DEFAULT_LIMITS, type V8Limits } from './v8-check.js'

// JSON.parse spends about what V8's reader spends on an object on every value (bench/decode-stall.ts):
// each value weighs this many of checkV8's units, and long strings one per 16 bytes, as there.
const VALUE_WEIGHT = 16
const BYTES_PER_VALUE = 16

/** Check JSON text in `bytes` from offset `from`; returns its weighted value count, throws DecodeError past the limits. */
export function checkJson(bytes: Uint8Array, from = 0, limits: V8Limits = {}): number {
  const maxValues = limits.maxValues ?? V8_DEFAULT_LIMITS.maxValues
  const maxDepth = limits.maxDepth ?? V8_DEFAULT_LIMITS.maxDepth
  const fail = (why: string, at: number) => new DecodeError(`refused JSON payload at byte ${at} of ${bytes.length}: ${why}`)
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let values = 0
  let depth = 0
  for (let i = from; i < b.length; i++) {
    const c = b[i]!
    if (c === 0x22) {
      // A string: jump to its closing quote (one preceded by an even run of backslashes).
      const start = i
      for (let q = b.indexOf(0x22, i + 1); ; q = b.indexOf(0x22, q + 1)) {
        if (q < 0) throw fail('unterminated string', start)
        let k = q - 1
        while (k > start && b[k] === 0x5c) k--
        if ((q - 1 - k) % 2 === 0) { i = q; break }
      }
      values += VALUE_WEIGHT + Math.floor((i - start) / BYTES_PER_VALUE)
    } else if (c === 0x5b || c === 0x7b) {
      values += VALUE_WEIGHT
      if (++depth > maxDepth) throw fail(`nesting deeper than ${maxDepth} (maxDepth)`, i)
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    } else if (c !== 0x2c && c !== 0x3a && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
      // A number, true, false or null: one value, however long.
      const start = i
      while (i + 1 < b.length && !DELIMITER[b[i + 1]!]) i++
      values += VALUE_WEIGHT + Math.floor((i - start) / BYTES_PER_VALUE)
    }
    if (values > maxValues) throw fail(`more than ${maxValues} values (the per-frame limit, maxFrameValues)`, i)
  }
  return values
}

const DELIMITER = new Uint8Array(256)
for (const c of [0x2c, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0x22, 0x20, 0x0a, 0x0d, 0x09]) DELIMITER[c] = 1
