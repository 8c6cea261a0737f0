// What the published tarball holds: what a user runs and reads, nothing else,
// and package.json fields that point at files that are there.
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { packedTarball, root, sh } from './packed.ts'

type Exports = Record<string, string | Record<string, string>>
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Exports; bin: Record<string, string>; files: string[]; sideEffects: string[]; engines: { node: string }; scripts: Record<string, string>
}
let files: Set<string>

before(() => {
  const listing = sh('tar', ['-tzf', packedTarball()]).stdout
  files = new Set(listing.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, '')))
})

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

test('the tarball holds the build, the CLI, the docs, README, CHANGELOG and LICENSE', () => {
  for (const f of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'bin/troupe.js', 'dist/index.js', 'dist/cli/main.js', 'dist/web/index.html']) {
    assert.ok(files.has(f), `${f} is not in the package`)
  }
  for (const doc of walk(join(root, 'docs'))) {
    const name = relative(root, doc).split('\\').join('/')
    assert.ok(files.has(name), `${name} is not in the package`)
  }
})

test('the tarball holds no TypeScript sources, no tests and no source maps of dist (stack traces name dist/*.js)', () => {
  const stray = [...files].filter((f) => f.startsWith('src/') || f.startsWith('test/') || /\.test\./.test(f) || (/\.ts$/.test(f) && !f.endsWith('.d.ts'))
    || (f.endsWith('.map') && !f.startsWith('dist/web/')))
  assert.deepEqual(stray, [])
  const mapped = [...files].filter((f) => f.endsWith('.js') && !f.startsWith('dist/web/') && readFileSync(join(root, f), 'utf8').includes('//# sourceMappingURL='))
  assert.deepEqual(mapped, [])
})

test('installing runs no script of the package: the build is at prepack, not prepare or install', () => {
  for (const s of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(pkg.scripts[s], undefined, `package.json has a ${s} script`)
  assert.match(pkg.scripts.prepack ?? '', /npm run build/)
})

// `troupe-source` is this repository's own condition (its examples import 'troupe' from src/, see README
// "Examples"): no installed copy sets it, so it names files that are in the repository, not in the package.
const REPO_ONLY = 'troupe-source'

test('every entry in exports has its types first and both files are in the package; bin too', () => {
  for (const [entry, target] of Object.entries(pkg.exports)) {
    if (entry === './package.json') continue
    assert.equal(typeof target, 'object', `exports["${entry}"] has no conditions`)
    const { [REPO_ONLY]: source, ...conditions } = target as Record<string, string>
    assert.equal(Object.keys(conditions)[0], 'types', `exports["${entry}"]: 'types' must come first`)
    for (const file of Object.values(conditions)) assert.ok(files.has(posix.normalize(file)), `exports["${entry}"] names ${file}, which is not in the package`)
    if (source !== undefined) assert.ok(source.startsWith('./src/') && existsSync(join(root, source)), `exports["${entry}"]["${REPO_ONLY}"] names ${source}, which is not in src/`)
  }
  for (const file of Object.values(pkg.bin)) assert.ok(files.has(posix.normalize(file)), `bin names ${file}, which is not in the package`)
})

test('every relative link in README and docs leads to a file in the package', () => {
  const broken: string[] = []
  const pages = walk(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => relative(root, f).split('\\').join('/'))
  for (const doc of ['README.md', ...pages]) {
    // Links outside code: fenced blocks and inline code spans are dropped first.
    const text = readFileSync(join(root, doc), 'utf8').replace(/```[^]*?```/g, '').replace(/`[^`\n]*`/g, '')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:|^#/.test(target!)) continue
      const file = posix.normalize(posix.join(posix.dirname(doc), target!.replace(/#.*$/, '')))
      if (!files.has(file)) broken.push(`${doc}: ${target}`)
    }
  }
  assert.deepEqual(broken, [])
})

test('sideEffects lists every module that does something when imported (registers a reviver, a dialect, a frame handler)', () => {
  // A top-level call statement, or an import for effect only, is a side effect a bundler must keep.
  const effectful = new Set<string>()
  for (const file of walk(join(root, 'src')).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(file, 'utf8')
    if (/^[A-Za-z_$][\w$.]*\(/m.test(text.replace(/^\s*\/\/.*$/gm, '').replace(/`[^`]*`/g, ''))) {
      effectful.add(`./dist/${relative(join(root, 'src'), file).replace(/\.ts$/, '.js')}`)
    }
    for (const [, spec] of text.matchAll(/^import '(\.[^']+)'/gm)) {
      effectful.add(`./dist/${posix.join(posix.dirname(relative(join(root, 'src'), file)), spec!)}`)
    }
  }
  const listed = new Set(pkg.sideEffects)
  assert.deepEqual([...effectful].filter((f) => !listed.has(f)).sort(), [], 'modules with side effects missing from package.json sideEffects')
  assert.deepEqual([...listed].filter((f) => !effectful.has(f)).sort(), [], 'package.json sideEffects lists modules without side effects')
})

test('engines says which Node versions are supported, as the README does', () => {
  assert.equal(pkg.engines.node, '>=20')
  assert.match(readFileSync(join(root, 'README.md'), 'utf8'), /Node\.js 20 and 24/)
})
