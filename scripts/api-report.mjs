#!/usr/bin/env node
/**
 * The API reports: one `api/<entry>.api.md` per entry point in package.json
 * `exports` (troupe, troupe/redis, ...), made by API Extractor from the
 * declarations the build emits. Every public name and signature is in them, so
 * a change to the public surface shows up as a change to a report in review.
 *
 *   node scripts/api-report.mjs           check: fail when a report differs from the code (npm test does this)
 *   node scripts/api-report.mjs --update  write the reports (then commit them)
 */
import { rmSync, readFileSync, mkdirSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const update = process.argv.includes('--update')
const { Extractor, ExtractorConfig } = createRequire(import.meta.url)('@microsoft/api-extractor')

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
/** [entry name, declaration file under dist/] for each export with types: '.' -> troupe, './redis' -> troupe/redis. */
const entries = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object' && target.types)
  .map(([path, target]) => [path === '.' ? pkg.name : `${pkg.name}/${path.replace(/^\.\//, '')}`, target.types])

// Declarations of the current sources (not whatever dist/ holds), in a folder of their own inside the
// project (the report names a few files by their path, which must not depend on a temp folder's name;
// and not under node_modules, whose declarations API Extractor treats as another package's).
const out = join(root, '.api-declarations')
rmSync(out, { recursive: true, force: true })
let failed = false
try {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'),
    '--emitDeclarationOnly', '--outDir', join(out, 'dist')], { stdio: 'inherit' })
  if (tsc.status !== 0) throw new Error('emitting the declarations failed')
  mkdirSync(join(root, 'api'), { recursive: true })
  for (const [name, types] of entries) {
    const config = ExtractorConfig.prepare({
      configObjectFullPath: join(root, 'api', 'api-extractor.json'),
      packageJsonFullPath: join(root, 'package.json'),
      configObject: {
        projectFolder: root,
        mainEntryPointFilePath: join(out, types),
        compiler: {
          overrideTsconfig: {
            compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'esnext.disposable'], types: ['node'], strict: true, skipLibCheck: true },
            files: [join(out, types)],
          },
        },
        apiReport: { enabled: true, reportFileName: `${name.replace('/', '-')}.api.md`, reportFolder: join(root, 'api'), reportTempFolder: join(out, 'report') },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          // Release tags (@public/@beta) are not used; a type used by the API but not exported is noted in the report.
          extractorMessageReporting: { default: { logLevel: 'none' }, 'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true } },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
    })
    const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, messageCallback: (m) => { if (m.logLevel === 'none') m.handled = true } })
    if (!result.succeeded) failed = true
    if (result.apiReportChanged) {
      console.error(update ? `api/${name.replace('/', '-')}.api.md: updated`
        : `api/${name.replace('/', '-')}.api.md differs from ${name}'s public surface: review the change, then run \`node scripts/api-report.mjs --update\` and commit the report`)
      if (!update) failed = true
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
