// The package as npm users get it: the `npm pack` tarball installed into new
// apps, one in ESM JavaScript and one in TypeScript (module nodenext,
// skipLibCheck off, the newest and the oldest supported @types/node); each
// type-checks and runs a pool task, an actor in a child process and a manager
// queue between two processes; the `troupe` CLI runs from the install.
// scripts/test.mjs runs this on every supported Node.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { packedTarball, sh } from './packed.ts'

/** The oldest @types/node troupe's types are checked against (older 20.x ones fail with today's TypeScript by themselves). */
const OLDEST_TYPES_NODE = '20.17.0'
const fixtures = new URL('./fixtures/', import.meta.url)
const stripsTypes = Boolean((process.features as { typescript?: string | false }).typescript)
const npmInstall = ['install', '--prefer-offline', '--no-audit', '--no-fund']
const SMOKE = 'pool 49\nactor 5 in another process\nmanager 10,20,30 from the producer process\n'

let work: string
let tarball: string
const js = () => join(work, 'js')
const ts = () => join(work, 'ts')

function app(name: string): string {
  const dir = join(work, name)
  cpSync(new URL(`${name}/`, fixtures), dir, { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `troupe-smoke-${name}`, private: true, type: 'module' }, null, 2))
  return dir
}

before(() => {
  tarball = packedTarball()
  work = mkdtempSync(join(tmpdir(), 'troupe-package-test-'))
})

after(() => {
  if (work) rmSync(work, { recursive: true, force: true })
})

test('the tarball installs into a new JavaScript app without warnings and without running any script', () => {
  const { stderr } = sh('npm', [...npmInstall, tarball], { cwd: app('js') })
  assert.doesNotMatch(stderr, /warn/i, `npm warned while installing the package:\n${stderr}`)
})

test('a JavaScript app runs a pool task, an actor in a child process and a manager queue between two processes', () => {
  assert.equal(sh(process.execPath, ['main.mjs'], { cwd: js() }).stdout, SMOKE)
})

test('the CLI runs from the install: npx troupe --help', () => {
  const { stdout } = sh('npx', ['--no-install', 'troupe', '--help'], { cwd: js() })
  assert.match(stdout, /^Usage: troupe /m)
  assert.match(stdout, /\bmanager\b[^]*\bworker\b[^]*\bdashboard\b/)
})

/** `troupe worker --module ./square.ts` against a manager with 5 tasks; the worker's exit status and stderr, and the results the manager got. */
async function workerOnTypeScript(): Promise<{ status: number | null; stderr: string; results: string }> {
  const server = spawn(process.execPath, ['serve.mjs', '5'], { cwd: js(), stdio: ['ignore', 'pipe', 'inherit'] })
  const serverExit = new Promise((resolve) => server.once('exit', resolve))
  try {
    let out = ''
    server.stdout!.setEncoding('utf8')
    const address = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (d: string) => { out += d; const m = /ready (\S+)/.exec(out); if (m) resolve(m[1]!) })
      server.on('exit', (code) => reject(new Error(`serve.mjs exited (${code}) before it was ready: ${out}`)))
    })
    const worker = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const w = spawn('npx', ['--no-install', 'troupe', 'worker', '--connect', address, '--tasks', 'tasks', '--results', 'results',
        '--module', './square.ts', '--export', 'square', '--idle-exit', '2', '--no-progress'],
      { cwd: js(), env: { ...process.env, TROUPE_AUTHKEY: 'smoke' }, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      w.stderr!.on('data', (d) => { stderr += d })
      w.on('exit', (status) => resolve({ status, stderr }))
    })
    if (worker.status !== 0) return { ...worker, results: '' }
    await serverExit
    return { ...worker, results: /results (\S+)/.exec(out)?.[1] ?? out }
  } finally {
    server.kill()
  }
}

test(`troupe worker --module ./square.ts in an app without tsx: ${stripsTypes ? "Node's type stripping loads it" : 'one line says what to install, and with tsx installed it loads'}`, async () => {
  const first = await workerOnTypeScript()
  if (stripsTypes) {
    assert.equal(first.status, 0, first.stderr)
    assert.equal(first.results, '1,4,9,16,25')
    return
  }
  assert.equal(first.status, 1)
  assert.equal(first.stderr.trim().split('\n').length, 1, `more than one line:\n${first.stderr}`)
  assert.match(first.stderr, /^troupe worker: --module \.\/square\.ts: Node v\d+\.\d+\.\d+ cannot load TypeScript by itself; install tsx \(npm install --save-dev tsx\) or use Node >= 22\.18$/m)

  sh('npm', [...npmInstall, '--save-dev', 'tsx'], { cwd: js() })
  const second = await workerOnTypeScript()
  assert.equal(second.status, 0, second.stderr)
  assert.equal(second.results, '1,4,9,16,25')
})

test('a TypeScript app (module nodenext, skipLibCheck off) type-checks against the newest @types/node and runs compiled', () => {
  sh('npm', [...npmInstall, tarball, 'typescript@latest', '@types/node@latest'], { cwd: app('ts') })
  assert.equal(sh('npx', ['--no-install', 'tsc', '-p', '.'], { cwd: ts() }).stdout, '')
  assert.equal(sh(process.execPath, ['build/main.js'], { cwd: ts() }).stdout, SMOKE)
})

test('the TypeScript app runs from its .ts files where Node strips types itself', { skip: !stripsTypes && `Node ${process.version} does not strip types` }, () => {
  assert.equal(sh(process.execPath, ['main.ts'], { cwd: ts() }).stdout, SMOKE)
})

test(`the TypeScript app type-checks against the oldest supported @types/node (${OLDEST_TYPES_NODE})`, () => {
  sh('npm', [...npmInstall, `@types/node@${OLDEST_TYPES_NODE}`], { cwd: ts() })
  assert.equal(sh('npx', ['--no-install', 'tsc', '-p', '.', '--noEmit'], { cwd: ts() }).stdout, '')
})
