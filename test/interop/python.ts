/**
 * Run real CPython interpreters from pyenv in tests. A version that is not
 * installed makes the test FAIL with a message naming it (never a skip):
 * interop claims are only worth what the interpreters they ran against.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'
import pythons from './pythons.json' with { type: 'json' }

/** The interpreters the must-show tests run against: label -> pyenv version (scripts/test.mjs checks them first). */
export const PYTHONS: Readonly<typeof pythons> = pythons
export type PyLabel = keyof typeof PYTHONS

/** Folder of the Python scripts used by the interop tests. */
export const PY_DIR = join(fileURLToPath(new URL('.', import.meta.url)), 'py')

/** argv + env that run `python<label>` from pyenv. */
export function pythonCommand(label: PyLabel): { cmd: string; env: NodeJS.ProcessEnv } {
  return { cmd: `python${label}`, env: { ...process.env, PYENV_VERSION: PYTHONS[label], PYTHONIOENCODING: 'utf-8', PYTHONUNBUFFERED: '1' } }
}

/** Throw (fail the test) unless `python<label>` runs and reports the expected version. */
export function requirePython(label: PyLabel): void {
  const { cmd, env } = pythonCommand(label)
  const r = spawnSync(cmd, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { env, encoding: 'utf8', timeout: 20000 })
  const got = (r.stdout ?? '').trim()
  if (r.status !== 0 || got !== PYTHONS[label]) {
    throw new Error(`Python ${PYTHONS[label]} is required (PYENV_VERSION=${PYTHONS[label]} ${cmd}) but ${r.error ? r.error.message : `it printed ${JSON.stringify(got)} ${r.stderr ?? ''}`}`)
  }
}

/** Run Python code (or a script in test/interop/py with args), return stdout bytes; fails on non-zero exit or timeout. */
export function runPython(label: PyLabel, args: string[], input?: Uint8Array, timeoutMs = 30000): Buffer {
  requirePython(label)
  const { cmd, env } = pythonCommand(label)
  const r = spawnSync(cmd, args, { env, input, timeout: timeoutMs, maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`python${label} ${args.slice(0, 2).join(' ').slice(0, 80)} failed (${r.error?.message ?? `exit ${r.status}, signal ${r.signal}`}):\n${r.stderr?.toString()}`)
  return r.stdout
}

/** Start a Python script (a path relative to test/interop/py, or absolute); the caller must kill it (see `stopPython`). */
export function startPython(label: PyLabel, script: string, args: string[]): ChildProcess {
  requirePython(label)
  const { cmd, env } = pythonCommand(label)
  return spawn(cmd, [resolve(PY_DIR, script), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** Collect a child's output and resolve with exit code + text, rejecting after `timeoutMs` (the child is killed). */
export function finished(child: ChildProcess, timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (d) => { stdout += d })
  child.stderr?.on('data', (d) => { stderr += d })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`process did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); setImmediate(() => resolve({ code, stdout, stderr })) })
  })
}

/** Kill a Python child if it still runs. */
export function stopPython(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** Run a script in test/interop/py without blocking the event loop (needed when this process serves it); rejects on timeout. */
export async function runScript(label: PyLabel, script: string, args: string[], timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = startPython(label, script, args)
  try {
    return await finished(child, timeoutMs)
  } finally {
    stopPython(child)
  }
}

/** Run Python code (`python -c`) without blocking the event loop (needed when this process serves it); rejects on timeout. */
export async function runCode(label: PyLabel, code: string, timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requirePython(label)
  const { cmd, env } = pythonCommand(label)
  const child = spawn(cmd, ['-c', code], { env, stdio: ['pipe', 'pipe', 'pipe'] })
  try {
    return await finished(child, timeoutMs)
  } finally {
    stopPython(child)
  }
}
