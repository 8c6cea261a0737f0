import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

function runTs(file: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--conditions=troupe-source', '--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 60_000 })
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('examples/process-info.ts: the child reports its pid and the main program as its parent', () => {
  const r = runTs('examples/process-info.ts')
  assert.equal(r.status, 0, r.stderr)
  const [mainPart, childPart] = r.stdout.split('function f')
  const mainPid = Number(/process id: (\d+)/.exec(mainPart!)![1])
  const childParent = Number(/parent process: (\d+)/.exec(childPart!)![1])
  const childPid = Number(/process id: (\d+)/.exec(childPart!)![1])
  assert.equal(childParent, mainPid)
  assert.notEqual(childPid, mainPid)
  assert.match(childPart!, /hello bob/)
  assert.match(r.stdout, /exit code: 0/)
})

test('examples/queue-writer-reader.ts: five messages cross from the writer process to the reader process', () => {
  const r = runTs('examples/queue-writer-reader.ts')
  assert.equal(r.status, 0, r.stderr)
  const lines = r.stdout.trim().split('\n')
  const crossed = lines.filter((l) => l.startsWith('writer '))
  assert.equal(crossed.length, 5)
  for (const [i, line] of crossed.entries()) {
    const m = /^writer (\d+) -> reader (\d+): message (\d) of 5$/.exec(line)
    assert.ok(m, line)
    assert.notEqual(m[1], m[2])
    assert.equal(Number(m[3]), i + 1)
  }
  assert.match(lines.at(-1)!, /writer exit 0, reader exit 0/)
})

test('a non-daemon Process keeps the program alive until it ends; a daemon child is killed at exit', async () => {
  const r = runTs('test/process/fixtures/lifetime-main.ts')
  assert.equal(r.status, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n').slice(1), ['main done', 'child done'])
  const daemonPid = Number(/daemon pid (\d+)/.exec(r.stdout)![1])
  // The daemon got SIGTERM as the program exited; give the OS a moment to reap it.
  for (let i = 0; i < 100 && alive(daemonPid); i++) await new Promise((r) => setTimeout(r, 50))
  assert.equal(alive(daemonPid), false)
})

for (const kind of ['thread', 'process']) {
  for (const op of ['join', 'terminate']) {
    test(`awaiting ${op}() of a daemon ${kind} at the top level keeps the program alive until it ends (no silent exit 13)`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/process/fixtures/daemon-main.ts', kind, op], { cwd: root, encoding: 'utf8', timeout: 60_000 })
      assert.equal(r.status, 0, `exit ${r.status}; stderr: ${r.stderr}`)
      assert.match(r.stdout, op === 'join' ? /child done\njoined 0/ : /terminated -15/)
    })
  }
}

for (const kind of ['thread', 'process']) {
  test(`a throwing ${kind} target prints "Process <name>:" and the stack on stderr, like Python`, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/process/fixtures/throwing-main.ts', kind], { cwd: root, encoding: 'utf8', timeout: 60_000 })
    assert.match(r.stderr, /Process failing:\nRangeError: bad value 3\n\s+at throwsRangeError/)
    assert.match(r.stdout, /exit 1/)
  })
}

for (const what of ['pool', 'process', 'spawn', 'worker']) {
  for (const kind of ['thread', 'process']) {
    test(`an entry module without the isMainModule guard (${what} on a ${kind}) fails at once with MissingMainGuardError saying to add the guard, instead of hanging`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/process/programs/unguarded.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, UNGUARDED: `${what} ${kind}` } })
      assert.notEqual(r.status, null, `killed after 60 s (it hung); output: ${r.stdout}${r.stderr}`)
      assert.notEqual(r.status, 0)
      assert.match(r.stderr, /MissingMainGuardError: .* was started by the top-level code of .*unguarded\.ts while a troupe (worker thread|child process) imported that module/)
      assert.match(r.stderr, /put its top-level code under `if \(isMainModule\(import\.meta\)\) \{ \.\.\. \}`/)
    })
  }
}
