/**
 * A strict reader of the Prometheus text format (version 0.0.4), enough to
 * check that `/metrics` is well-formed and to read its values in tests.
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  types: Map<string, string>
  samples: Sample[]
  /** The value of the one sample matching `name` and every given label (throws when there is none). */
  value(name: string, labels?: Record<string, string>): number
  /** The sum over samples matching `name` and the given labels. */
  sum(name: string, labels?: Record<string, string>): number
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/
const labelPair = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y

/** Parse an exposition, throwing on any line that is not valid text format. */
export function parsePrometheus(text: string): Exposition {
  const types = new Map<string, string>()
  const samples: Sample[] = []
  const lines = text.split('\n')
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!
    if (line.trim() === '') continue
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line)
      if (!m) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`line ${n + 1}: bad comment: ${line}`)
        continue
      }
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`line ${n + 1}: bad type ${m[3]}`)
        if (types.has(m[2]!)) throw new Error(`line ${n + 1}: second TYPE for ${m[2]}`)
        types.set(m[2]!, m[3]!)
      }
      continue
    }
    const m = sampleLine.exec(line)
    if (!m) throw new Error(`line ${n + 1}: not a sample: ${line}`)
    const labels: Record<string, string> = {}
    if (m[3]) {
      labelPair.lastIndex = 0
      const body = m[3]
      while (labelPair.lastIndex < body.length) {
        const start = labelPair.lastIndex
        const l = labelPair.exec(body)
        if (!l || l.index !== start) throw new Error(`line ${n + 1}: bad labels: ${body}`)
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
      }
    }
    const raw = m[4]!
    // Prometheus reads values with Go's strconv.ParseFloat, which ignores case in NaN and Inf
    // (prom-client writes an unsampled event-loop lag as `Nan`).
    if (!/^[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|inf|infinity|nan)$/i.test(raw)) throw new Error(`line ${n + 1}: bad value ${raw}`)
    const value = /^nan$/i.test(raw) ? NaN : /inf/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw)
    const family = familyOf(m[1]!, types)
    if (!family) throw new Error(`line ${n + 1}: sample ${m[1]} has no TYPE line before it`)
    samples.push({ name: m[1]!, labels, value })
  }
  const matching = (name: string, labels: Record<string, string>) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  return {
    types,
    samples,
    value(name, labels = {}) {
      const found = matching(name, labels)
      if (found.length !== 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
      return found[0]!.value
    },
    sum(name, labels = {}) {
      return matching(name, labels).reduce((s, x) => s + x.value, 0)
    },
  }
}

function familyOf(name: string, types: Map<string, string>): string | undefined {
  if (types.has(name)) return name
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (name.endsWith(suffix) && types.has(name.slice(0, -suffix.length))) return name.slice(0, -suffix.length)
  }
  return undefined
}
