// What `troupe worker` prints on a terminal (run under a pseudo-terminal with util-linux `script`) and in a pipe.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { Manager, SharedQueue } from '../../src/manager/index.ts'
import { run, killAll } from './spawn.ts'

after(killAll)
const N = 300

async function serving(): Promise<{ manager: Manager; tasks: SharedQueue<number | null> }> {
  const tasks = new SharedQueue<number | null>()
  const results = new SharedQueue<unknown>()
  const manager = new Manager({ address: '127.0.0.1:0', authkey: 'k', log: false })
  manager.register('tasks', () => tasks)
  manager.register('results', () => results)
  await manager.serve()
  await tasks.putMany([...Array.from({ length: N }, (_, i) => i), null])
  return { manager, tasks }
}

/** Run a command line in a pseudo-terminal `cols` wide; resolves with everything the terminal received. */
function inTerminal(command: string, cols = 120, ms = 120_000): Promise<{ code: number | null; screen: string }> {
  const child = spawn('script', ['-qfec', `stty cols ${cols} rows 40; ${command}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let screen = ''
  child.stdout.on('data', (d: Buffer) => { screen += d })
  child.stderr.on('data', (d: Buffer) => { screen += d })
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no exit within ${ms} ms:\n${screen}`)) }, ms)
    child.on('close', (code) => { clearTimeout(t); resolve({ code, screen }) })
  })
}

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;?]*[A-Za-z]/g

/** The lines as they stay on the screen: each redraw (`ESC[1G`) replaces what was on the line before it. */
function finalLines(screen: string): string[] {
  const lines: string[] = []
  for (const raw of screen.replace(/\r\n/g, '\n').split('\n')) {
    const parts = raw.split(/\x1b\[1G|\r/).map((p) => p.replace(ansi, '')).filter((p) => p !== '')
    lines.push(parts[parts.length - 1] ?? '')
  }
  return lines
}

/** Every state the bar line was drawn in. */
function barStates(screen: string): string[] {
  return screen.split(/\x1b\[1G|\r|\n/).map((s) => s.replace(ansi, '')).filter((s) => s.startsWith('troupe worker '))
    .filter((s) => / done · \d[\d,]* failed/.test(s))
}

const cmd = (address: string, extra = '') =>
  `${process.execPath} --import tsx src/cli/main.ts worker --connect ${address} --authkey k --tasks tasks --results results --module test/cli/fixtures/tasks.ts --export flaky ${extra}`

test('on a terminal: a bar with done, failed, rate and ETA; one line per failure above it; the summary on a fresh line', async () => {
  const { manager } = await serving()
  try {
    const { code, screen } = await inTerminal(cmd(manager.address))
    assert.equal(code, 0, screen)
    const failures = Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 === 0)
    const lines = finalLines(screen)
    // Each failure is one whole line of its own (no stack), printed once.
    for (const i of failures) {
      const mine = lines.filter((l) => l.includes(`task flaky(${i}) failed`))
      assert.equal(mine.length, 1, `failure of task ${i}:\n${lines.join('\n')}`)
      assert.match(mine[0]!, new RegExp(`^troupe worker \\d+: task flaky\\(${i}\\) failed: RangeError: ${i} is a multiple of 7$`))
    }
    assert.doesNotMatch(screen, /^\s+at /m, 'no stack without --verbose')
    // The bar: once the queue size is known, a bar with counts, rate and ETA; never drawn full before the work is done.
    const states = barStates(screen)
    assert.ok(states.length > 0, screen)
    const withBar = states.filter((s) => s.includes('|'))
    assert.ok(withBar.length > 0, `no bar drawn:\n${states.join('\n')}`)
    for (const s of withBar) {
      const m = /^troupe worker \|([█░]+)\| ([\d,]+) done · ([\d,]+) failed of ([\d,]+) · [\d.,]+\/s · ETA (\S+)$/.exec(s)
      assert.ok(m, `bar line: ${JSON.stringify(s)}`)
      const finished = Number(m[2]!.replace(/,/g, '')) + Number(m[3]!.replace(/,/g, ''))
      const total = Number(m[4]!.replace(/,/g, ''))
      const filled = m[1]!.split('█').length - 1
      assert.ok(finished <= total)
      assert.ok(Math.abs(filled / m[1]!.length - finished / total) <= 1 / m[1]!.length + 0.001, `bar ${s} does not match ${finished}/${total}`)
    }
    assert.ok(!/^troupe worker \|█+\| 0 done/.test(states[0]!), `starts full: ${states[0]}`)
    // The last bar state says it all, then the summary follows on a line of its own.
    const summaryAt = lines.findIndex((l) => /^troupe worker \d+: done \d+ tasks \(\d+ failed\) in [\d.]+ s$/.test(l))
    assert.ok(summaryAt > 0, lines.join('\n'))
    assert.match(lines[summaryAt]!, new RegExp(`: done ${N - failures.length} tasks \\(${failures.length} failed\\) in`))
    assert.match(lines[summaryAt - 1]!, new RegExp(`^troupe worker \\|█+\\| ${N - failures.length} done · ${failures.length} failed of ${N} · .* · ETA 0s$`))
  } finally {
    await manager.shutdown()
  }
})

test('on a terminal with --verbose, each failure line is followed by its stack', async () => {
  const { manager } = await serving()
  try {
    const { code, screen } = await inTerminal(cmd(manager.address, '--verbose'))
    assert.equal(code, 0, screen)
    const lines = finalLines(screen)
    const at = lines.findIndex((l) => /task flaky\(7\) failed: RangeError: 7 is a multiple of 7$/.test(l))
    assert.ok(at >= 0, lines.join('\n'))
    assert.match(lines[at + 1]!, /^\s+at flaky \(.*test\/cli\/fixtures\/tasks\.ts/)
  } finally {
    await manager.shutdown()
  }
})

test('in a pipe: count lines with the failed count on stdout, one line per failure on stderr, no bar', async () => {
  const { manager } = await serving()
  try {
    const r = await run(['src/cli/main.ts', 'worker', '--connect', manager.address, '--authkey', 'k', '--tasks', 'tasks', '--results', 'results',
      '--module', 'test/cli/fixtures/tasks.ts', '--export', 'flaky'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^troupe worker \d+: [\d,]+ done, [\d,]+ failed \([\d.,]+\/s\)$/m)
    assert.match(r.stdout, /^troupe worker \d+: done 257 tasks \(43 failed\) in [\d.]+ s$/m)
    assert.equal(r.stderr.trim().split('\n').length, 43, r.stderr)
    for (const line of r.stderr.trim().split('\n')) assert.match(line, /^troupe worker \d+: task flaky\(\d+\) failed: RangeError: \d+ is a multiple of 7$/)
    assert.doesNotMatch(r.stdout + r.stderr, /[█░]|\x1b\[/)
  } finally {
    await manager.shutdown()
  }
})
