// The package's entry points as an installed copy sees them: `troupe` works where ioredis is not
// installed at all (it never loads it), and `troupe/redis` is where the Redis client comes in.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

const app = `
import { Pool, Queue, Actor, spawn, isMainModule } from 'troupe'
export function square(n) { return n * n }
class Echo extends Actor { receive(m) { return m } }
if (isMainModule(import.meta)) {
  const pool = new Pool({ workers: 1 })
  console.log('pool', await pool.apply(square, [7]))
  pool.close()
  await pool.join()
  const q = new Queue()
  q.put('queued')
  console.log('queue', await q.get())
  const echo = spawn(Echo)
  console.log('actor', await echo.ask('echo'))
  await echo.stop()
  try {
    await import('troupe/redis')
    console.log('redis entry loaded')
  } catch (err) {
    console.log('redis entry', err.code, /ioredis/.test(err.message))
  }
}
`

test('the core entry runs a pool, a queue and an actor in an install where ioredis is absent; troupe/redis needs it', () => {
  assert.ok(existsSync(join(root, 'dist/index.js')), 'this test runs the built package: run `npm run build` first')
  const dir = mkdtempSync(join(tmpdir(), 'troupe-core-'))
  try {
    const pkg = join(dir, 'node_modules/troupe')
    mkdirSync(pkg, { recursive: true })
    // A copy, not a link: a linked dist would resolve its imports next to the repo, where ioredis is installed.
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true, filter: (src) => !src.includes(`${join('dist', 'web')}`) })
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'))
    const deps = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies as Record<string, string>)
    assert.ok(deps.includes('ioredis'), 'the package depends on ioredis (for troupe/redis)')
    for (const dep of deps.filter((d) => d !== 'ioredis')) {
      mkdirSync(dirname(join(dir, 'node_modules', dep)), { recursive: true })   // a scoped name (@types/...) needs its scope folder
      symlinkSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir')
    }
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
    writeFileSync(join(dir, 'app.mjs'), app)
    const r = spawnSync(process.execPath, ['app.mjs'], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_OPTIONS: '' } })
    assert.equal(r.status, 0, `app failed: ${r.stderr}`)
    assert.deepEqual(r.stdout.trim().split('\n'), ['pool 49', 'queue queued', 'actor echo', 'redis entry ERR_MODULE_NOT_FOUND true'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
