// The package as npm users get it, for the package tests: the tarball `npm pack` makes.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository's root. */
export const root = fileURLToPath(new URL('../../', import.meta.url))

/** Run a command; return its output, or throw with the output when it fails. */
export function sh(cmd: string, args: string[], options: SpawnSyncOptions = {}): { stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, maxBuffer: 64 << 20, ...options })
  const stdout = String(r.stdout ?? '')
  const stderr = String(r.stderr ?? '')
  if (r.status !== 0) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}${r.signal ? `, ${r.signal}` : ''}`})\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`)
  }
  return { stdout, stderr }
}

/**
 * The packed tarball: `TROUPE_PACKAGE` when scripts/test.mjs packed it for
 * this run, else packed here (`npm pack` runs `prepack`, which builds).
 */
export function packedTarball(): string {
  if (process.env.TROUPE_PACKAGE) return process.env.TROUPE_PACKAGE
  const dir = mkdtempSync(join(tmpdir(), 'troupe-pack-'))
  sh('npm', ['pack', '--pack-destination', dir], { cwd: root })
  const [tarball] = readdirSync(dir).filter((f) => f.endsWith('.tgz'))
  if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`)
  return join(dir, tarball)
}
