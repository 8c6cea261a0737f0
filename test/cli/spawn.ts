import { spawn, type ChildProcess } from 'node:child_process'

/** A spawned command whose output lines are collected and can be awaited. */
export interface Spawned {
  child: ChildProcess
  out: () => string
  /** Resolve with the first line matching `re` (fails after `ms`). */
  line(re: RegExp, ms?: number): Promise<string>
  /** Resolve with the exit code (SIGKILL and fail after `ms`). */
  exit(ms?: number): Promise<number | null>
}

/** How the examples run from the repository: tsx, and 'troupe' resolved to src/ (package.json's `troupe-source` condition). */
export const EXAMPLE_FLAGS = ['--conditions=troupe-source', '--import', 'tsx']

const live = new Set<ChildProcess>()

/** Kill every process spawned by these helpers that is still running. */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL')
}

/** Spawn `node <args>` with tsx loaded, stdout and stderr collected. */
export function node(args: string[], env: NodeJS.ProcessEnv = {}, wrap: string[] = []): Spawned {
  const cmd = wrap.length ? wrap[0]! : process.execPath
  const argv = wrap.length ? [...wrap.slice(1), process.execPath, ...EXAMPLE_FLAGS, ...args] : [...EXAMPLE_FLAGS, ...args]
  const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let text = ''
  const listeners = new Set<() => void>()
  const onData = (d: Buffer) => { text += d.toString(); for (const l of listeners) l() }
  child.stdout!.on('data', onData)
  child.stderr!.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code, sig) => { live.delete(child); resolve(code ?? (sig ? -1 : null)) }))
  return {
    child,
    out: () => text,
    line: (re, ms = 30_000) => new Promise((resolve, reject) => {
      const check = () => {
        const m = text.split('\n').find((l) => re.test(l))
        if (m !== undefined) { listeners.delete(check); clearTimeout(t); resolve(m) }
      }
      const t = setTimeout(() => { listeners.delete(check); reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${text}`)) }, ms)
      listeners.add(check)
      check()
    }),
    exit: (ms = 60_000) => new Promise((resolve, reject) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`process did not exit within ${ms} ms; output:\n${text}`)) }, ms)
      void exited.then((c) => { clearTimeout(t); resolve(c) })
    }),
  }
}

/** Run `node --import tsx <args>` to the end; resolves with its exit code and output (SIGKILL after `ms`). */
export function run(args: string[], env: NodeJS.ProcessEnv = {}, ms = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...EXAMPLE_FLAGS, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => { stdout += d })
  child.stderr!.on('data', (d: Buffer) => { stderr += d })
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')} did not exit within ${ms} ms\nstdout: ${stdout}\nstderr: ${stderr}`)) }, ms)
    child.on('close', (code, sig) => { clearTimeout(t); live.delete(child); resolve({ code: code ?? (sig ? -1 : null), stdout, stderr }) })
  })
}
