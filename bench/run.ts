/**
 * `npm run bench -- <name>`: runs bench/<name>.ts in its own process so each
 * benchmark starts clean. Without a name, lists the benchmarks.
 */
import { readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('.', import.meta.url))
const names = readdirSync(dir).filter((f) => f.endsWith('.ts') && !['run.ts', 'lib.ts'].includes(f)).map((f) => f.slice(0, -3))
const name = process.argv[2]
if (!name || !names.includes(name)) {
  console.error(`usage: npm run bench -- <name>   (one of: ${names.join(', ') || 'none yet'})`)
  process.exit(name ? 1 : 0)
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', `${dir}${name}.ts`, ...process.argv.slice(3)], { stdio: 'inherit' })
process.exit(r.status ?? 1)
