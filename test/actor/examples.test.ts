import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn as spawnProcess, type ChildProcess } from 'node:child_process'

/** Run an example with tsx; resolves with its output once it exits. `onLine` sees each stdout line as it arrives. */
function run(file: string, args: string[], onLine?: (line: string, child: ChildProcess) => void, timeoutMs = 60_000): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawnProcess(process.execPath, ['--conditions=troupe-source', '--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let partial = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} did not finish within ${timeoutMs} ms:\n${out}\n${err}`)) }, timeoutMs)
    child.stdout.on('data', (d: Buffer) => {
      out += d
      partial += d
      const lines = partial.split('\n')
      partial = lines.pop()!
      for (const l of lines) onLine?.(l, child)
    })
    child.stderr.on('data', (d: Buffer) => { err += d })
    child.on('exit', (code) => {
      clearTimeout(timer)
      if (code !== 0) reject(new Error(`${file} exited with ${code}:\n${out}\n${err}`))
      else resolve({ out, code })
    })
  })
}

test('actor-print: the PrintActor prints Hello and World, closes and joins; Worker.submit(add, 2, 3) gives 5', async () => {
  const { out } = await run('examples/actor-print.ts', [])
  assert.deepEqual(out.trim().split('\n'), ['Got: Hello', 'Got: World', 'add(2, 3) = 5'])
})

test('ping-pong: Pinger and Ponger in their own processes alternate through subjects, and their timeout handlers fire', async () => {
  const { out } = await run('examples/ping-pong.ts', ['--rounds', '3', '--interval', '300', '--timeout', '200'])
  // A ping published before the Ponger's subscription reached the Pinger's process (a slow start on a
  // loaded machine) is lost; the Pinger then says the pong is overdue and serves the same ball again.
  // That repeat is the example working as written, so the game is compared without it.
  const game = out.split('\n').filter((l) => /sends|got/.test(l))
    .filter((l, i, all) => !(l.startsWith('Pinger sends ping') && all[i + 1] === l && out.includes(`pong ${l.split(' ').pop()} is overdue`)))
  assert.deepEqual(game, [
    'Pinger sends ping 1', 'Ponger got ping 1', 'Ponger sends pong 1', 'Pinger got pong 1',
    'Pinger sends ping 2', 'Ponger got ping 2', 'Ponger sends pong 2', 'Pinger got pong 2',
    'Pinger sends ping 3', 'Ponger got ping 3', 'Ponger sends pong 3', 'Pinger got pong 3',
  ])
  assert.match(out, /Pinger: nothing for 200 ms/)
  assert.match(out, /Ponger: nothing for 200 ms/)
  const pids = [...out.matchAll(/(Pinger|Ponger) ready \(pid (\d+)\)/g)].map((m) => Number(m[2]))
  assert.equal(new Set(pids).size, 2, 'each actor runs in its own process')
  assert.match(out, /Game over after 3 rounds/)
})

test('ping-pong: SIGKILL the Ponger mid-game and the supervisor restarts it; the game goes on', async () => {
  let killed: number | undefined
  const { out } = await run('examples/ping-pong.ts', ['--rounds', '4', '--interval', '250', '--timeout', '150'], (line) => {
    const m = /Ponger ready \(pid (\d+)\)/.exec(line)
    if (m && killed === undefined) return void (killed = Number(m[1]))
    // Kill it while it holds ping 2 (before it answers).
    if (killed !== undefined && line === 'Ponger got ping 2') {
      try { process.kill(killed, 'SIGKILL') } catch { /* already gone */ }
    }
  })
  const pongerPids = [...out.matchAll(/Ponger ready \(pid (\d+)\)/g)].map((m) => Number(m[1]))
  assert.equal(pongerPids.length, 2, `the Ponger should have been started twice:\n${out}`)
  assert.notEqual(pongerPids[0], pongerPids[1])
  assert.match(out, /pong 2 is overdue, pinging again/)
  for (let n = 1; n <= 4; n++) assert.match(out, new RegExp(`Pinger got pong ${n}\\n`))
  assert.match(out, /Game over after 4 rounds/)
})
