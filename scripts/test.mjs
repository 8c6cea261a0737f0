#!/usr/bin/env node
// Runs every test file under test/ (or those whose path contains one of the
// arguments) with Node's built-in runner, TypeScript through tsx.
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function find(dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...find(p))
    else if (/\.test\.ts$/.test(name)) out.push(p)
  }
  return out
}

const filters = process.argv.slice(2)
const files = find('test').filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`)
  process.exit(1)
}
const reporter = process.env.TEST_REPORTER ?? 'spec'
const r = spawnSync(process.execPath, [
  '--import', 'tsx',
  '--test', `--test-reporter=${reporter}`,
  '--test-timeout=180000',
  '--test-concurrency=1',
  ...files,
], { stdio: 'inherit' })
process.exit(r.status ?? 1)
