/** Percentiles of recent durations, in milliseconds. */
export interface Percentiles {
  p50: number
  p90: number
  p99: number
  max: number
  /** How many samples they were computed from (the most recent ones). */
  samples: number
}

/**
 * The most recent `size` samples, in a fixed ring: recording costs one store,
 * and `stats()` sorts a copy only when asked.
 */
export class Recent {
  private readonly buf: Float64Array
  private n = 0

  constructor(size = 4096) {
    this.buf = new Float64Array(size)
  }

  /** Record one sample. */
  add(v: number): void {
    this.buf[this.n % this.buf.length] = v
    this.n++
  }

  /** p50/p90/p99/max of what is held. */
  percentiles(): Percentiles {
    const k = Math.min(this.n, this.buf.length)
    if (k === 0) return { p50: 0, p90: 0, p99: 0, max: 0, samples: 0 }
    const s = this.buf.slice(0, k).sort()
    const at = (p: number) => round(s[Math.min(k - 1, Math.max(0, Math.ceil(p * k) - 1))]!)
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(s[k - 1]!), samples: k }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
