#!/usr/bin/env node
/**
 * `npm test`: make sure what the tests need is on this machine, build,
 * type-check, then run every test file under test/ with Node's built-in runner
 * (TypeScript through tsx), on this Node and on Node 24 LTS.
 *
 *   node scripts/test.mjs               everything (what `npm test` runs)
 *   node scripts/test.mjs redis pool    only test files whose path contains a word, on this Node, no build
 *   ... --node 24 | --node both         run that selection on Node 24, or on this Node and Node 24
 *
 * What the tests need, and what happens when it is missing (one line says what was done):
 *   a Redis at TROUPE_REDIS (default redis://127.0.0.1:6379)   none answers: start redis-server there, stop it after
 *   redis-server and redis-cli                                  apt-get install redis-server redis-tools (as root)
 *     (restart tests start their own on 6390-6398; the Cluster tests their own nodes on 7100-7199, see test/redis/cluster.ts)
 *   Chromium at TROUPE_CHROMIUM (default /usr/bin/chromium)     apt-get install chromium (as root)
 *   ip (iproute2), for the network-namespace tests              apt-get install iproute2 (as root)
 *   the pyenv CPythons of test/interop/pythons.json             cannot be installed here: fail, naming them
 *   Node 24                                                     npm install node-<platform>-<arch>@24 into node_modules/.cache/troupe
 * When something cannot be installed (not root, no apt-get) it fails at once with the command to run.
 */
import { readdirSync, statSync, accessSync, constants, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { join, dirname, resolve, delimiter } from 'node:path'
import { tmpdir } from 'node:os'
import { spawn, spawnSync } from 'node:child_process'
import { connect } from 'node:net'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
process.chdir(root)

/** The other Node the suite runs on (the current LTS); the first is the one running this script. */
const LTS_MAJOR = 24
const REDIS_URL = process.env.TROUPE_REDIS ?? 'redis://127.0.0.1:6379'
const CHROMIUM = process.env.TROUPE_CHROMIUM ?? '/usr/bin/chromium'

class Missing extends Error {}
const done = []      // what this run started or installed, for the one summary line
const cleanups = []  // run on exit, newest first

// ---- arguments ---------------------------------------------------------------------------------

const argv = process.argv.slice(2)
let nodeChoice
const filters = []
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--node') nodeChoice = argv[++i]
  else if (argv[i].startsWith('--node=')) nodeChoice = argv[i].slice(7)
  else filters.push(argv[i])
}
const full = filters.length === 0
nodeChoice ??= full ? 'both' : 'current'
if (!['current', 'both', String(LTS_MAJOR)].includes(nodeChoice)) {
  console.error(`--node takes current, ${LTS_MAJOR} or both (got ${nodeChoice})`)
  process.exit(2)
}

// ---- helpers -----------------------------------------------------------------------------------

function has(cmd) {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined
}

function executable(path) {
  try { accessSync(path, constants.X_OK); return statSync(path).isFile() } catch { return false }
}

let aptUpdated = false
/** Install Debian packages when root with apt-get; otherwise fail with the command to run. */
function aptInstall(packages, why) {
  const cmd = `apt-get install ${packages.join(' ')}`
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    throw new Missing(`${why} is missing; install it: ${process.getuid?.() === 0 ? '' : 'sudo '}${cmd}`)
  }
  // apt's chatter is shown only when it fails.
  const opts = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }
  if (!aptUpdated) { spawnSync('apt-get', ['update', '-qq'], opts); aptUpdated = true }
  // --reinstall also installs what is absent; it repairs a package whose files were removed.
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--reinstall', ...packages], opts)
  if (r.status !== 0) throw new Missing(`${why} is missing and \`${cmd}\` failed (exit ${r.status}); run it yourself:\n${`${r.stdout}${r.stderr}`.slice(-2000)}`)
  done.push(`installed ${packages.join(', ')} (${cmd})`)
}

/** Resolve true when something at host:port answers a Redis PING (any Redis reply, even an auth error). */
function redisAnswers(host, port) {
  return new Promise((resolve) => {
    const s = connect({ host, port })
    const finish = (v) => { s.destroy(); clearTimeout(t); resolve(v) }
    const t = setTimeout(() => finish(false), 1500)
    s.on('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => finish(d[0] === 0x2b /* + */ || d[0] === 0x2d /* - */ ? true : 'not redis'))
    s.on('error', () => finish(false))
  })
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...opts })
    child.on('error', (err) => { console.error(`${cmd}: ${err.message}`); resolve(1) })
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
}

// ---- what the tests need -----------------------------------------------------------------------

function ensurePythons() {
  const pythons = JSON.parse(readFileSync('test/interop/pythons.json', 'utf8'))
  const missing = Object.entries(pythons).filter(([label, version]) => {
    const r = spawnSync(`python${label}`, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'],
      { env: { ...process.env, PYENV_VERSION: version }, encoding: 'utf8', timeout: 20_000 })
    return r.status !== 0 || r.stdout.trim() !== version
  }).map(([, version]) => version)
  if (missing.length) {
    throw new Missing(`the interop tests need the pyenv CPythons ${missing.join(', ')}, which are not installed: pyenv install ${missing.join(' ')}`)
  }
}

function ensureTools() {
  if (!has('ip')) aptInstall(['iproute2'], 'ip (iproute2, for the network-namespace tests)')
  const redis = []
  if (!has('redis-server')) redis.push('redis-server')
  if (!has('redis-cli') || redis.length) redis.push('redis-tools')
  if (redis.length) aptInstall(redis, 'redis-server/redis-cli')
  if (!executable(CHROMIUM)) {
    if (process.env.TROUPE_CHROMIUM) throw new Missing(`TROUPE_CHROMIUM=${CHROMIUM} is not an executable; point it at a Chromium, or unset it to use Debian's /usr/bin/chromium`)
    aptInstall(['chromium'], 'Chromium (/usr/bin/chromium, for the dashboard browser tests)')
    if (!executable(CHROMIUM)) throw new Missing(`installing chromium did not provide ${CHROMIUM}`)
  }
}

/** Make sure a Redis answers at TROUPE_REDIS: start a redis-server there (stopped on exit) when none does. */
async function ensureRedis() {
  let url
  try { url = new URL(REDIS_URL) } catch { throw new Missing(`TROUPE_REDIS=${REDIS_URL} is not a redis:// URL`) }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(url.port || 6379)
  const answer = await redisAnswers(host, port)
  if (answer === true) return
  if (answer === 'not redis') throw new Missing(`something that is not Redis listens at ${host}:${port} (TROUPE_REDIS=${REDIS_URL}); point TROUPE_REDIS elsewhere`)
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Missing(`no Redis answers at ${REDIS_URL}; start one there, or point TROUPE_REDIS at one`)
  const dir = mkdtempSync(join(tmpdir(), 'troupe-test-redis-'))
  const server = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] })
  let log = ''
  server.stdout.on('data', (d) => { log += d })
  server.stderr.on('data', (d) => { log += d })
  cleanups.push(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r))
      server.kill('SIGTERM')
      const t = setTimeout(() => server.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(t)
    }
    rmSync(dir, { recursive: true, force: true })
  })
  const deadline = Date.now() + 15_000
  while ((await redisAnswers(host, port)) !== true) {
    if (server.exitCode !== null || Date.now() > deadline) throw new Missing(`redis-server on ${host}:${port} did not start:\n${log.slice(-2000)}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  done.push(`started redis-server at ${REDIS_URL} (stopped after)`)
}

/** The Node LTS binary, installed from the npm registry into node_modules/.cache/troupe on first use. */
function ensureLtsNode() {
  const platform = process.platform === 'win32' ? 'win' : process.platform
  const pkg = `node-${platform}-${process.arch}`
  const dir = join(root, 'node_modules', '.cache', 'troupe', `node${LTS_MAJOR}`)
  const bin = join(dir, 'node_modules', pkg, 'bin', process.platform === 'win32' ? 'node.exe' : 'node')
  const version = () => spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? ''
  if (!version().startsWith(`v${LTS_MAJOR}.`)) {
    const r = spawnSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${LTS_MAJOR}`],
      { stdio: ['ignore', 'ignore', 'inherit'] })
    if (r.status !== 0 || !version().startsWith(`v${LTS_MAJOR}.`)) throw new Missing(`could not install Node ${LTS_MAJOR} (npm install --prefix ${dir} ${pkg}@${LTS_MAJOR} failed)`)
    done.push(`installed Node ${version()} into node_modules/.cache/troupe`)
  }
  return { bin, version: version() }
}

// ---- the test files ----------------------------------------------------------------------------

function find(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...find(p))
    else if (/\.test\.ts$/.test(name)) out.push(p)
  }
  return out
}

/** Run the test files on one Node; resolves with its exit status. */
function suite(node, files, env) {
  const reporter = process.env.TEST_REPORTER ?? 'spec'
  // Another Node goes first on PATH, so that `node`, `npx` and shebangs in the tests run it too
  // (its folder holds only `node`; this Node's own folder is left where it is, behind pyenv's shims).
  if (node !== process.execPath) env = { ...env, PATH: `${dirname(node)}${delimiter}${env.PATH ?? ''}` }
  return run(node, ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, '--test-timeout=180000', '--test-concurrency=1', ...files], { env })
}

async function main() {
  const files = find('test').filter((f) => full || filters.some((x) => f.includes(x)))
  if (files.length === 0) { console.error(`no test files match ${filters.join(' ')}`); return 1 }

  ensurePythons()
  ensureTools()
  await ensureRedis()
  const nodes = []
  if (nodeChoice !== String(LTS_MAJOR)) nodes.push({ bin: process.execPath, version: process.version })
  if (nodeChoice !== 'current' && !process.version.startsWith(`v${LTS_MAJOR}.`)) nodes.push(ensureLtsNode())
  console.log(`npm test: Redis ${REDIS_URL}, Chromium ${CHROMIUM}, Node ${nodes.map((n) => n.version).join(' and ')}${done.length ? `; ${done.join('; ')}` : ''}`)

  const env = { ...process.env, TROUPE_REDIS: REDIS_URL, TROUPE_CHROMIUM: CHROMIUM }
  if (full) {
    for (const step of ['build', 'typecheck']) {
      const code = await run('npm', ['run', '--silent', step])
      if (code !== 0) { console.error(`npm test: npm run ${step} failed`); return code }
    }
    // The package tests (test/package) install this tarball; packed once, from the build just made.
    const dir = mkdtempSync(join(tmpdir(), 'troupe-pack-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { encoding: 'utf8' })
    if (packed.status !== 0) { console.error(`npm test: npm pack failed\n${packed.stderr}`); return 1 }
    env.TROUPE_PACKAGE = join(dir, packed.stdout.trim().split('\n').pop())
  }
  const results = []
  for (const node of nodes) {
    if (nodes.length > 1) console.log(`\nnpm test: the suite on Node ${node.version}`)
    results.push({ version: node.version, code: await suite(node.bin, files, env) })
  }
  if (results.length > 1) console.log(`\nnpm test: ${results.map((r) => `Node ${r.version} ${r.code === 0 ? 'passed' : 'FAILED'}`).join(', ')}`)
  return results.every((r) => r.code === 0) ? 0 : 1
}

let code = 1
const stop = async () => { for (const c of cleanups.reverse()) await c().catch(() => {}) }
process.once('SIGINT', () => { stop().then(() => process.exit(130)) })
process.once('SIGTERM', () => { stop().then(() => process.exit(143)) })
try {
  code = await main()
} catch (err) {
  if (!(err instanceof Missing)) throw err
  console.error(`npm test: ${err.message}`)
  code = 1
} finally {
  await stop()
}
process.exit(code)
