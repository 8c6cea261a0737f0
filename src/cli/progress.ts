/**
 * What a `troupe worker` says while it runs. On a terminal: one progress line
 * (cli-progress) with done, failed, rate and, when the queue's size is known,
 * a bar and an ETA; task failures are printed above it through the bar's log,
 * one line each (the stack with `--verbose`), and the bar ends on its own line
 * before the summary. Elsewhere (a pipe, a log file): a plain line at most
 * once a second with the same counts on stdout, and the same failure lines on stderr.
 */
import cliProgress from 'cli-progress'

/** How progress is shown. */
export interface ProgressOptions {
  /** Draw a live bar (stderr is a terminal and `--no-progress` was not given). */
  bar: boolean
  /** Print periodic count lines when there is no bar (default true). */
  lines?: boolean
  /** Print each failure's stack under its line. */
  verbose?: boolean
  /** The line prefix, e.g. `troupe worker 1234`. */
  label: string
  /** A shorter prefix for the bar line (default: `label`). */
  barLabel?: string
  /** Where the bar, failures and notes go (default stderr). */
  stream?: NodeJS.WriteStream
  /** Where the count lines go when there is no bar (default stdout). */
  lineStream?: NodeJS.WriteStream
}

/** The bar's width in characters at most and at least (it shrinks to leave room for the counts). */
const BAR_MAX = 30
const BAR_MIN = 8

/** Seconds of history the rate is smoothed over. */
const RATE_WINDOW_MS = 5000

/** The progress display of one worker process (or of the sum of several). */
export class Progress {
  private done = 0
  private failed = 0
  /** Tasks finished plus waiting, as of the last `setRemaining` (undefined: not known). */
  private known: number | undefined
  private readonly samples: { t: number; n: number }[] = []
  private readonly multi?: cliProgress.MultiBar
  private readonly bar?: cliProgress.SingleBar
  private readonly stream: NodeJS.WriteStream
  /** When the last count line was written (the first update writes one at once). */
  private lastLine = -Infinity
  private stopped = false

  constructor(private readonly opts: ProgressOptions) {
    this.stream = opts.stream ?? process.stderr
    // The rate counts from the start, so a first batch finished at once does not read as 0/s.
    this.samples.push({ t: performance.now(), n: 0 })
    if (opts.bar) {
      this.multi = new cliProgress.MultiBar({
        stream: this.stream, hideCursor: true, clearOnComplete: false, gracefulExit: false, barsize: BAR_MAX,
        format: (options, params) => this.format(options, params),
      }, cliProgress.Presets.shades_classic)
      this.bar = this.multi.create(0, 0)
    }
  }

  /** The running totals (tasks finished without and with an error). */
  update(done: number, failed: number): void {
    this.done = done
    this.failed = failed
    this.sample()
    if (this.bar) {
      this.bar.setTotal(this.total())
      this.bar.update(done + failed)
    } else if (this.opts.lines !== false) {
      const now = performance.now()
      if (now - this.lastLine >= 1000) {
        this.lastLine = now
        const out = this.opts.lineStream ?? process.stdout
        out.write(`${this.opts.label}: ${this.counts()}\n`)
      }
    }
  }

  /** Tasks waiting in the queue now (undefined: not known); the bar's total is what is finished plus these. */
  setRemaining(n: number | undefined): void {
    this.known = n === undefined ? undefined : this.done + this.failed + n
    this.bar?.setTotal(this.total())
  }

  private total(): number {
    return this.known === undefined ? 0 : Math.max(this.known, this.done + this.failed)
  }

  /** A task failed: one line (and the stack with `verbose`). */
  failure(task: string, err: unknown): void {
    const e = err as Error & { remoteStack?: string }
    const head = err instanceof Error ? `${e.name}: ${e.message}` : String(err)
    let text = `${this.opts.label}: task ${task} failed: ${head.split('\n')[0]}`
    if (this.opts.verbose && err instanceof Error) {
      const stack = (e.remoteStack ?? e.stack ?? '').split('\n').filter((l) => /^\s+at |^\s+\[/.test(l))
      if (stack.length) text += `\n${stack.join('\n')}`
    }
    this.note(text)
  }

  /** Say something without breaking the bar (above it on a terminal). */
  note(line: string): void {
    if (this.multi && !this.stopped) {
      this.multi.log(`${line}\n`)
      // Flush now: the log buffer is otherwise written on the next redraw only.
      this.multi.update()
    } else this.write(line)
  }

  /** Stop drawing; the cursor is left at the start of a fresh line. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    if (this.multi) {
      this.bar!.setTotal(this.total())
      this.bar!.update(this.done + this.failed)
      this.multi.update()
      this.multi.stop()
    }
  }

  /** `812 done, 28 failed (143/s)`. */
  counts(): string {
    return `${this.done.toLocaleString('en-US')} done, ${this.failed.toLocaleString('en-US')} failed (${formatRate(this.rate())})`
  }

  private write(line: string): void {
    this.stream.write(`${line}\n`)
  }

  private sample(): void {
    const t = performance.now()
    this.samples.push({ t, n: this.done + this.failed })
    while (this.samples.length > 2 && t - this.samples[1]!.t > RATE_WINDOW_MS) this.samples.shift()
  }

  /** Tasks per second over the last few seconds. */
  private rate(): number {
    if (this.samples.length < 2) return 0
    const a = this.samples[0]!
    const b = this.samples[this.samples.length - 1]!
    const dt = Math.max(performance.now(), b.t) - a.t
    return dt > 0 ? ((b.n - a.n) * 1000) / dt : 0
  }

  private format(options: cliProgress.Options, params: cliProgress.Params): string {
    const rate = this.rate()
    const n = (x: number) => x.toLocaleString('en-US')
    // A line wider than the terminal wraps, and the next redraw would then leave a copy behind.
    const width = (params.maxWidth || 80) - 1
    if (this.known === undefined || params.total <= 0) {
      return fit(`${this.opts.barLabel ?? this.opts.label} ${n(this.done)} done · ${n(this.failed)} failed · ${formatRate(rate)}`, width)
    }
    const left = params.total - params.value
    const eta = left <= 0 ? 'ETA 0s' : rate > 0 ? `ETA ${formatSeconds(left / rate)}` : 'ETA –'
    const text = ` ${n(this.done)} done · ${n(this.failed)} failed of ${n(params.total)} · ${formatRate(rate)} · ${eta}`
    const head = `${this.opts.barLabel ?? this.opts.label} |`
    const size = Math.max(BAR_MIN, Math.min(BAR_MAX, width - head.length - 1 - text.length))
    const bar = cliProgress.Format.BarFormat(Math.min(1, params.value / params.total), { ...options, barsize: size })
    return fit(`${head}${bar}|${text}`, width)
  }
}

function fit(line: string, width: number): string {
  return line.length > width ? line.slice(0, width) : line
}

function formatRate(r: number): string {
  return `${r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(r >= 10 ? 0 : 1)}/s`
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}
