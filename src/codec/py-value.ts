/**
 * Python's value semantics over troupe's JS value model (docs/interop.md):
 * type names, hashing and `==` (a dict keyed by `(1, 2)`, `b'k'` or
 * `frozenset()` finds its key again; `1 == 1.0 == True`), ordering (what
 * `list.sort` compares) and `repr`. They accept values in live form (Tuple,
 * FrozenSet, PyObject, ...) and in the marshalled form a manager stores
 * (tagged records), so a served dict or list can use them on what it holds.
 */
import { PORTABLE_TAG } from './marshal.js'
import {
  ByteArray, FrozenSet, OrderedDict, PyGlobal, PyObject, Slice, Tuple,
  TUPLE_PORTABLE, FROZENSET_PORTABLE, BYTEARRAY_PORTABLE, ODICT_PORTABLE, GLOBAL_PORTABLE, OBJECT_PORTABLE,
} from './pickle-types.js'

/** Which Python is looking: names, reprs and orderings differ between Python 2 and 3 (and a little in 3.12+). */
export interface PyFlavor {
  /** Python 2: `long`, `unicode`, mixed-type ordering, `u'...'` reprs. */
  py2?: boolean
  /** CPython 3.12 or later (OrderedDict's repr changed there). */
  py312?: boolean
}

/** The kinds of Python value troupe's value model holds. */
export type PyKind =
  | 'NoneType' | 'bool' | 'int' | 'long' | 'float' | 'str' | 'unicode' | 'bytes' | 'bytearray'
  | 'tuple' | 'list' | 'dict' | 'OrderedDict' | 'set' | 'frozenset' | 'slice' | 'global' | 'object' | 'other'

/** A value seen through Python's eyes, with records resolved. */
interface View {
  kind: PyKind
  /** Numbers: the value; text: the string; bytes-like: the bytes. */
  num?: number | bigint
  text?: string
  bytes?: Uint8Array
  /** Sequences and sets. */
  items?: readonly unknown[]
  /** Mappings. */
  entries?: readonly (readonly [unknown, unknown])[]
  /** Objects: the global's `module.name`, and the parts that make the object. */
  type?: string
  parts?: readonly unknown[]
}

function record(v: object): { type: string; data: unknown } | undefined {
  const type = (v as Record<string, unknown>)[PORTABLE_TAG]
  return typeof type === 'string' ? { type, data: (v as { data: unknown }).data } : undefined
}

const ASCII = /^[\x00-\x7f]*$/

/** How Python sees `v` (records resolved; an ASCII string is Python 2's `str`, other text its `unicode`). */
function view(v: unknown, flavor: PyFlavor): View {
  switch (typeof v) {
    case 'undefined': return { kind: 'NoneType' }
    case 'boolean': return { kind: 'bool', num: v ? 1 : 0 }
    case 'number': return Number.isInteger(v) ? { kind: 'int', num: v } : { kind: 'float', num: v }
    case 'bigint': return { kind: flavor.py2 ? 'long' : 'int', num: v }
    case 'string': return { kind: flavor.py2 && !ASCII.test(v) ? 'unicode' : 'str', text: v }
    case 'object': break
    default: return { kind: 'other' }
  }
  if (v === null) return { kind: 'NoneType' }
  if (v instanceof Number) return { kind: 'float', num: v.valueOf() }
  if (v instanceof String) return { kind: flavor.py2 ? 'unicode' : 'str', text: v.valueOf() }
  if (v instanceof BigInt) return { kind: 'int', num: v.valueOf() }
  if (v instanceof ByteArray) return { kind: 'bytearray', bytes: v }
  if (v instanceof Uint8Array) return { kind: flavor.py2 ? 'str' : 'bytes', bytes: v }
  if (v instanceof Tuple) return { kind: 'tuple', items: v }
  if (Array.isArray(v)) return { kind: 'list', items: v }
  if (v instanceof OrderedDict) return { kind: 'OrderedDict', entries: [...v] }
  if (v instanceof Map) return { kind: 'dict', entries: [...v] }
  if (v instanceof FrozenSet) return { kind: 'frozenset', items: [...v] }
  if (v instanceof Set) return { kind: 'set', items: [...v] }
  if (v instanceof Slice) return { kind: 'slice', items: [v.start, v.stop, v.step] }
  if (v instanceof PyGlobal) return { kind: 'global', type: v.qualifiedName }
  if (v instanceof PyObject) return { kind: 'object', type: v.type, parts: [v.args, v.state, v.listItems, v.dictItems, v.kwargs] }
  const rec = record(v)
  if (rec) {
    const d = rec.data as any
    switch (rec.type) {
      case TUPLE_PORTABLE: return { kind: 'tuple', items: d }
      case FROZENSET_PORTABLE: return { kind: 'frozenset', items: d }
      case BYTEARRAY_PORTABLE: return { kind: 'bytearray', bytes: d }
      case ODICT_PORTABLE: return { kind: 'OrderedDict', entries: d }
      case GLOBAL_PORTABLE: return { kind: 'global', type: `${d[0]}.${d[1]}` }
      case OBJECT_PORTABLE: {
        const g = d.callable?.data ?? d.callable
        return { kind: 'object', type: Array.isArray(g) ? `${g[0]}.${g[1]}` : String(g), parts: [d.args, d.state, d.listItems, d.dictItems, d.kwargs] }
      }
      default: return { kind: 'other' }
    }
  }
  const proto = Object.getPrototypeOf(v)
  if (proto === Object.prototype || proto === null) return { kind: 'dict', entries: Object.entries(v) }
  return { kind: 'other' }
}

/** Python's `type(v).__name__` for a value (`'tuple'`, `'long'` for a Python 2 long, `'datetime'` for an opaque one). */
export function pyTypeName(v: unknown, flavor: PyFlavor = {}): string {
  const w = view(v, flavor)
  if (w.kind === 'object' || w.kind === 'global') return w.kind === 'global' ? 'type' : w.type!.slice(w.type!.lastIndexOf('.') + 1)
  return w.kind
}

/** Whether `v` is a Python int (or bool, which is one): what an index must be. */
export function isPyInt(v: unknown): v is number | bigint | boolean {
  return typeof v === 'boolean' || typeof v === 'bigint' || v instanceof BigInt || (typeof v === 'number' && Number.isInteger(v))
}

/** A Python int or bool as a JS number (big values become +-Infinity, which every bound check treats as out of range). */
export function pyIntValue(v: number | bigint | boolean | BigInt): number {
  if (typeof v === 'boolean') return v ? 1 : 0
  const n = typeof v === 'object' ? v.valueOf() : v
  return typeof n === 'bigint' ? (n > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : n < BigInt(Number.MIN_SAFE_INTEGER) ? -Infinity : Number(n)) : n
}

/** Whether `v` is a Python real number (int, bool or float). */
export function isPyNumber(v: unknown): boolean {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v instanceof Number || v instanceof BigInt
}

/** A Python real number as a JS number. */
export function pyNumberValue(v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0
  if (typeof v === 'bigint') return Number(v)
  if (v instanceof Number || v instanceof BigInt) return Number(v.valueOf())
  return v as number
}

/** Python truthiness (`if v:`). */
export function pyTruthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false) return false
  if (typeof v === 'number') return v !== 0
  if (typeof v === 'bigint') return v !== 0n
  if (typeof v === 'string') return v.length > 0
  const w = view(v, {})
  if (w.num !== undefined) return w.num !== 0 && w.num !== 0n
  if (w.text !== undefined) return w.text.length > 0
  if (w.bytes) return w.bytes.length > 0
  if (w.items) return w.items.length > 0
  if (w.entries) return w.entries.length > 0
  return true
}

let nanSeq = 0

/**
 * The hash key of a Python value: equal keys for values Python calls equal
 * (`1`, `1.0`, `True`; `'a'` and Python 2's `u'a'`; `(1, 2)` however it
 * travelled), a TypeError for unhashable ones (list, dict, set, bytearray).
 * A NaN is equal to nothing, as a NaN arriving over the wire is in CPython.
 */
export function pyHashKey(v: unknown): string {
  switch (typeof v) {
    case 'string': return `s${v}`
    case 'number': return Number.isInteger(v) ? `n${v === 0 ? 0 : v}` : Number.isNaN(v) ? `nan${++nanSeq}` : `f${v}`
    case 'boolean': return v ? 'n1' : 'n0'
    case 'bigint': return `n${v}`
    default: break
  }
  const w = view(v, {})
  switch (w.kind) {
    case 'NoneType': return 'N'
    case 'int': case 'float': return pyHashKey(typeof w.num === 'bigint' ? w.num : w.num)
    case 'str': return `s${w.text}`
    case 'bytes': return `b${Buffer.from(w.bytes!.buffer, w.bytes!.byteOffset, w.bytes!.byteLength).toString('hex')}`
    case 'tuple': return `t${JSON.stringify(w.items!.map(pyHashKey))}`
    case 'frozenset': return `F${JSON.stringify(w.items!.map(pyHashKey).sort())}`
    case 'global': return `g${w.type}`
    // An opaque object (a datetime, a Decimal) is keyed by what it is made of: equal pickles, equal keys.
    case 'object': return `o${w.type}${structKey(w.parts)}`
    default: throw new TypeError(`unhashable type: '${pyTypeName(v)}'`)
  }
}

/** A key for any value, by structure (what an opaque object is made of); never throws. */
function structKey(v: unknown, seen = new Set<object>()): string {
  if (v === null || v === undefined) return 'N'
  if (typeof v !== 'object') return typeof v === 'bigint' ? `n${v}` : `${typeof v}:${String(v)}`
  if (seen.has(v)) return '<cycle>'
  seen.add(v)
  try {
    const w = view(v, {})
    if (w.items) return `${w.kind}[${w.items.map((x) => structKey(x, seen)).join(',')}]`
    if (w.entries) return `${w.kind}{${w.entries.map(([k, x]) => `${structKey(k, seen)}:${structKey(x, seen)}`).join(',')}}`
    if (w.parts) return `${w.type}(${w.parts.map((x) => structKey(x, seen)).join(',')})`
    try { return pyHashKey(v) } catch { return `${w.kind}?` }
  } finally {
    seen.delete(v)
  }
}

/** Python's `a == b` for the values troupe holds (numbers across int/float/bool, containers by value). */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a === b) return typeof a !== 'number' || !Number.isNaN(a)
  const x = view(a, {})
  const y = view(b, {})
  const numeric = (k: PyKind) => k === 'int' || k === 'bool' || k === 'float' || k === 'long'
  if (numeric(x.kind) && numeric(y.kind)) return numEquals(x.num!, y.num!)
  if (x.kind === 'str' && y.kind === 'str') return x.text === y.text
  const bytesLike = (k: PyKind) => k === 'bytes' || k === 'bytearray'
  if (bytesLike(x.kind) && bytesLike(y.kind)) return Buffer.compare(Buffer.from(x.bytes!), Buffer.from(y.bytes!)) === 0
  if ((x.kind === 'tuple' && y.kind === 'tuple') || (x.kind === 'list' && y.kind === 'list')) {
    return x.items!.length === y.items!.length && x.items!.every((item, i) => pyEquals(item, y.items![i]))
  }
  const setLike = (k: PyKind) => k === 'set' || k === 'frozenset'
  if (setLike(x.kind) && setLike(y.kind)) {
    if (x.items!.length !== y.items!.length) return false
    const keys = new Set(y.items!.map(hashOrStruct))
    return x.items!.every((item) => keys.has(hashOrStruct(item)))
  }
  const mapLike = (k: PyKind) => k === 'dict' || k === 'OrderedDict'
  if (mapLike(x.kind) && mapLike(y.kind)) {
    if (x.entries!.length !== y.entries!.length) return false
    // Two OrderedDicts compare in order; any other pair of mappings regardless of order.
    if (x.kind === 'OrderedDict' && y.kind === 'OrderedDict') {
      return x.entries!.every(([k, val], i) => pyEquals(k, y.entries![i]![0]) && pyEquals(val, y.entries![i]![1]))
    }
    const other = new Map(y.entries!.map(([k, val]) => [hashOrStruct(k), val]))
    return x.entries!.every(([k, val]) => other.has(hashOrStruct(k)) && pyEquals(val, other.get(hashOrStruct(k))))
  }
  if ((x.kind === 'object' && y.kind === 'object') || (x.kind === 'global' && y.kind === 'global')) return structKey(a) === structKey(b)
  if (x.kind === 'NoneType' && y.kind === 'NoneType') return true
  return false
}

function hashOrStruct(v: unknown): string {
  try { return pyHashKey(v) } catch { return structKey(v) }
}

function numEquals(a: number | bigint, b: number | bigint): boolean {
  if (typeof a === typeof b) return a === b
  const [big, n] = (typeof a === 'bigint' ? [a, b] : [b, a]) as [bigint, number]
  return Number.isInteger(n) && BigInt(n) === big
}

function numCompare(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  // A bigint against a float: compare exactly through the float's integer part.
  const [big, n, flip] = (typeof a === 'bigint' ? [a, b, 1] : [b, a, -1]) as [bigint, number, number]
  if (Number.isNaN(n)) return 0
  if (!Number.isFinite(n)) return (n > 0 ? -1 : 1) * flip
  const floor = BigInt(Math.floor(n))
  const c = big < floor ? -1 : big > floor ? 1 : Number.isInteger(n) ? 0 : -1
  return c * flip
}

function codePointCompare(a: string, b: string): number {
  if (a === b) return 0
  // UTF-16 order differs from code point order only past the surrogates: compare by code points.
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!
    const y = b.codePointAt(i)!
    if (x !== y) return x < y ? -1 : 1
    if (x > 0xffff) i++
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0
}

/**
 * Python's `a < b`, as `list.sort` uses it: numbers, text, bytes, tuples and
 * lists by value. Python 3 refuses other mixes with TypeError; Python 2 orders
 * them (None first, then numbers, then by type name), as CPython 2 does.
 */
export function pyLess(a: unknown, b: unknown, flavor: PyFlavor = {}): boolean {
  return pyCompare(a, b, flavor, '<') < 0
}

function pyCompare(a: unknown, b: unknown, flavor: PyFlavor, op: string): number {
  const x = view(a, flavor)
  const y = view(b, flavor)
  const numeric = (k: PyKind) => k === 'int' || k === 'bool' || k === 'float' || k === 'long'
  const textual = (k: PyKind) => k === 'str' || k === 'unicode'
  if (numeric(x.kind) && numeric(y.kind)) return numCompare(x.num!, y.num!)
  if (x.text !== undefined && y.text !== undefined) return codePointCompare(x.text, y.text)
  if (flavor.py2 && textual(x.kind) && textual(y.kind)) return codePointCompare(x.text ?? Buffer.from(x.bytes!).toString('latin1'), y.text ?? Buffer.from(y.bytes!).toString('latin1'))
  if (x.bytes && y.bytes) return Buffer.compare(Buffer.from(x.bytes), Buffer.from(y.bytes))
  if ((x.kind === 'tuple' && y.kind === 'tuple') || (x.kind === 'list' && y.kind === 'list')) {
    const n = Math.min(x.items!.length, y.items!.length)
    for (let i = 0; i < n; i++) {
      if (pyEquals(x.items![i], y.items![i])) continue
      return pyCompare(x.items![i], y.items![i], flavor, op)
    }
    return x.items!.length - y.items!.length
  }
  if (flavor.py2) {
    if (x.kind === y.kind) return 0
    const rank = (w: View) => (w.kind === 'NoneType' ? 0 : numeric(w.kind) ? 1 : 2)
    if (rank(x) !== rank(y)) return rank(x) - rank(y)
    return codePointCompare(pyTypeName(a, flavor), pyTypeName(b, flavor))
  }
  throw new TypeError(`'${op}' not supported between instances of '${pyTypeName(a)}' and '${pyTypeName(b)}'`)
}

/** Sort in place as `list.sort()` does (stable; Python's `<` between items; `reverse` keeps equal items in order). */
export function pySort<T>(items: T[], flavor: PyFlavor = {}, reverse = false): void {
  // Python reverses, sorts stably, and reverses back, so equal items keep their order either way.
  if (reverse) items.reverse()
  const sorted = mergeSort(items, (a, b) => pyLess(b, a, flavor))
  if (reverse) sorted.reverse()
  for (let i = 0; i < items.length; i++) items[i] = sorted[i]!
}

/** Stable merge sort where `after(a, b)` says a must come after b (no comparator may be asked twice per pair, so a TypeError surfaces as Python's would). */
function mergeSort<T>(items: T[], after: (a: T, b: T) => boolean): T[] {
  if (items.length < 2) return [...items]
  const mid = items.length >> 1
  const left = mergeSort(items.slice(0, mid), after)
  const right = mergeSort(items.slice(mid), after)
  const out: T[] = []
  let i = 0
  let j = 0
  while (i < left.length && j < right.length) out.push(after(left[i]!, right[j]!) ? right[j++]! : left[i++]!)
  while (i < left.length) out.push(left[i++]!)
  while (j < right.length) out.push(right[j++]!)
  return out
}

/** Python's `repr(x)` of a float: the shortest text that reads back, `.0` on integral values, exponent outside 1e-4..1e16. */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan'
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf'
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0'
  const [mant, exp] = x.toExponential().split('e') as [string, string]
  const sign = mant.startsWith('-') ? '-' : ''
  const digits = mant.replace(/^-/, '').replace('.', '')
  const e = Number(exp)
  if (e < -4 || e >= 16) return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`
  const whole = digits.length > e + 1 ? digits.slice(0, e + 1) : digits.padEnd(e + 1, '0')
  const frac = digits.slice(e + 1)
  return `${sign}${whole}.${frac || '0'}`
}

const NON_PRINTABLE = /[\p{C}\p{Z}]/u

function quoteFor(text: string): string {
  return text.includes("'") && !text.includes('"') ? '"' : "'"
}

/** Python 3's repr of a str (or Python 2's of a unicode, with `u`). */
function strRepr(text: string, py2Unicode: boolean): string {
  const q = quoteFor(text)
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    if (ch === '\\' || ch === q) out += `\\${ch}`
    else if (ch === '\t') out += '\\t'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c < 0x7f || (!py2Unicode && (ch === ' ' || !NON_PRINTABLE.test(ch)) && !(c >= 0xd800 && c <= 0xdfff))) out += ch
    else if (c < 0x100) out += `\\x${c.toString(16).padStart(2, '0')}`
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`
    else out += `\\U${c.toString(16).padStart(8, '0')}`
  }
  return `${py2Unicode ? 'u' : ''}${q}${out}${q}`
}

/** Python's repr of bytes: `b'...'` (Python 2's `str` has no `b`). */
function bytesRepr(bytes: Uint8Array, prefix: string): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  const q = quoteFor(text)
  let out = ''
  for (const ch of text) {
    const c = ch.charCodeAt(0)
    if (ch === '\\' || ch === q) out += `\\${ch}`
    else if (ch === '\t') out += '\\t'
    else if (ch === '\n') out += '\\n'
    else if (ch === '\r') out += '\\r'
    else if (c < 0x20 || c >= 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`
    else out += ch
  }
  return `${prefix}${q}${out}${q}`
}

/**
 * Python's `repr(v)` for the values troupe holds, as the given Python would
 * write it. Opaque objects troupe cannot evaluate (a datetime) are shown as
 * `<module.name object>`; exceptions and complex numbers as Python shows them.
 */
export function pyRepr(v: unknown, flavor: PyFlavor = {}): string {
  return reprIn(v, flavor, [])
}

/** repr with the containers being written on `stack`, so one that contains itself shows `[...]` as Python does. */
function reprIn(v: unknown, flavor: PyFlavor, stack: object[]): string {
  if (typeof v === 'object' && v !== null) {
    if (stack.includes(v)) return Array.isArray(v) && !(v instanceof Tuple) ? '[...]' : '{...}'
    stack.push(v)
    try { return reprOf(v, flavor, stack) } finally { stack.pop() }
  }
  return reprOf(v, flavor, stack)
}

function reprOf(v: unknown, flavor: PyFlavor, stack: object[]): string {
  const w = view(v, flavor)
  const r = (x: unknown) => reprIn(x, flavor, stack)
  switch (w.kind) {
    case 'NoneType': return 'None'
    case 'bool': return w.num ? 'True' : 'False'
    case 'int': return String(w.num)
    case 'long': return `${w.num}L`
    case 'float': return pyFloatRepr(w.num as number)
    case 'str': return w.text !== undefined ? (flavor.py2 ? bytesRepr(Buffer.from(w.text, 'latin1'), '') : strRepr(w.text, false)) : bytesRepr(w.bytes!, '')
    case 'unicode': return strRepr(w.text!, true)
    case 'bytes': return bytesRepr(w.bytes!, 'b')
    case 'bytearray': return `bytearray(${bytesRepr(w.bytes!, 'b')})`
    case 'tuple': return w.items!.length === 1 ? `(${r(w.items![0])},)` : `(${w.items!.map(r).join(', ')})`
    case 'list': return `[${w.items!.map(r).join(', ')}]`
    case 'dict': return `{${w.entries!.map(([k, x]) => `${r(k)}: ${r(x)}`).join(', ')}}`
    case 'OrderedDict': {
      if (!w.entries!.length) return 'OrderedDict()'
      if (flavor.py312) return `OrderedDict({${w.entries!.map(([k, x]) => `${r(k)}: ${r(x)}`).join(', ')}})`
      return `OrderedDict([${w.entries!.map(([k, x]) => `(${r(k)}, ${r(x)})`).join(', ')}])`
    }
    case 'set': return w.items!.length ? (flavor.py2 ? `set([${w.items!.map(r).join(', ')}])` : `{${w.items!.map(r).join(', ')}}`) : 'set()'
    case 'frozenset': return !w.items!.length ? 'frozenset()' : flavor.py2 ? `frozenset([${w.items!.map(r).join(', ')}])` : `frozenset({${w.items!.map(r).join(', ')}})`
    case 'slice': return `slice(${w.items!.map(r).join(', ')})`
    case 'global': return `<class '${w.type}'>`
    case 'object': return objectRepr(w, flavor, r)
    default: return `<${(v as object)?.constructor?.name ?? typeof v} object>`
  }
}

function objectRepr(w: View, flavor: PyFlavor, r: (x: unknown) => string): string {
  const name = w.type!.slice(w.type!.lastIndexOf('.') + 1)
  const args = (w.parts![0] as unknown[] | undefined) ?? []
  if (w.type === 'builtins.complex' && args.length === 2) {
    const [re, im] = args.map(pyNumberValue) as [number, number]
    const part = (x: number) => (Number.isInteger(x) && Math.abs(x) < 1e16 ? String(x) : pyFloatRepr(x))
    return re === 0 && !Object.is(re, -0) ? `${part(im)}j` : `(${part(re)}${im < 0 || Object.is(im, -0) ? '-' : '+'}${part(Math.abs(im))}j)`
  }
  if (/(Error|Exception|Warning|Exit|Interrupt|Iteration|Empty|Full|error)$/.test(name)) {
    if (flavor.py2 && args.length === 1) return `${name}(${r(args[0])},)`
    return `${name}(${args.map(r).join(', ')})`
  }
  return `<${w.type} object>`
}

/** Python's `str(v)`: text as itself, everything else as its repr. */
export function pyStr(v: unknown, flavor: PyFlavor = {}): string {
  const w = view(v, flavor)
  if (w.text !== undefined) return w.text
  return pyRepr(v, flavor)
}
