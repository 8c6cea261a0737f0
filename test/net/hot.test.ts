import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { SpinPolicy, setSpinning, spinUntil } from '../../src/net/index.ts'
import { setContention } from '../../src/net/hot.ts'

// These tests are about the policy itself, whatever TROUPE_SPIN and the machine's load say.
before(() => { setSpinning(true); setContention(() => false) })

/** Feed a policy waits where spinning takes `spinMs` and sleeping `sleepMs`; returns how many of `n` decisions spun. */
function train(p: SpinPolicy, spinMs: number, sleepMs: number, n: number): number {
  let spun = 0
  for (let i = 0; i < n; i++) {
    const s = p.shouldSpin()
    if (s) spun++
    p.record(s, s ? spinMs : sleepMs)
  }
  return spun
}

test('a policy keeps spinning while spun waits are clearly shorter, and still tries sleeping now and then', () => {
  const p = new SpinPolicy(0.2)
  train(p, 0.01, 0.05, 200)
  const spun = train(p, 0.01, 0.05, 640)
  assert.ok(spun > 560 && spun < 640, `spun ${spun} of 640`)
  assert.equal(p.estimates().spinning, true)
})

test('a policy stops spinning when it does not pay, and comes back when it does again', () => {
  const p = new SpinPolicy(0.2)
  train(p, 0.4, 0.03, 400) // a busy machine: the spin only delays the peer
  const spun = train(p, 0.4, 0.03, 640)
  assert.ok(spun <= 16, `spun ${spun} of 640 while spinning was 13x slower`)
  assert.equal(p.estimates().spinning, false)
  train(p, 0.01, 0.05, 2000) // the machine went quiet
  assert.equal(p.estimates().spinning, true)
})

test('a tie goes to spinning while the spins catch their answers (a spare core costs nothing)', () => {
  const p = new SpinPolicy(0.2)
  train(p, 0.045, 0.05, 1000)
  assert.equal(p.estimates().spinning, true)
})

test('a spin that seldom catches its answer within its length is not worth its CPU', () => {
  const p = new SpinPolicy(0.2)
  train(p, 0.3, 0.3, 1000) // the answer always comes after the spin gave up: every spin was wasted
  assert.equal(p.estimates().spinning, false)
  assert.ok(p.estimates().hits < 0.5)
})

test('a slow spun wait now and then (a GC pause, a preemption) does not stop the spinning', () => {
  const p = new SpinPolicy(0.2)
  let spun = 0
  for (let i = 0; i < 2000; i++) {
    const s = p.shouldSpin()
    if (s) spun++
    p.record(s, s ? (i % 40 === 39 ? 5 : 0.015) : 0.06)
  }
  assert.ok(spun > 1700, `spun ${spun} of 2000`)
})

test('two ends of one channel that each decide alone both settle on spinning', () => {
  // A client and a server: each wait is the round trip, longer by a wake-up for each end that slept,
  // with an occasional slow one. Requiring spins to be clearly faster once made the two undo each other.
  const client = new SpinPolicy(0.2)
  const server = new SpinPolicy(0.2)
  let cs = true
  let ss = true
  let both = 0
  for (let i = 0; i < 4000; i++) {
    cs = client.shouldSpin()
    const wake = (cs ? 0 : 0.03) + (ss ? 0 : 0.03)
    client.record(cs, (i % 50 === 7 ? 1 : 0.015) + wake)
    ss = server.shouldSpin()
    server.record(ss, (i % 50 === 31 ? 1 : 0.01) + wake)
    if (i >= 1000 && cs && ss) both++
  }
  assert.ok(both > 3000 * 0.8, `both ends spun for ${both} of 3000 round trips`)
})

test('setSpinning(false) turns every spin off', () => {
  const p = new SpinPolicy(0.2)
  setSpinning(false)
  try {
    assert.equal(train(p, 0.01, 0.05, 100), 0)
  } finally {
    setSpinning(true)
  }
  assert.ok(train(p, 0.01, 0.05, 100) > 0)
})

test('while the cores are contended no wait spins, not even a probe, and spinning resumes once they are not', () => {
  const p = new SpinPolicy(0.2)
  train(p, 0.01, 0.05, 200)
  assert.equal(p.estimates().spinning, true)
  setContention(() => true)
  try {
    assert.equal(train(p, 0.01, 0.05, 500), 0)
  } finally {
    setContention(() => false)
  }
  assert.ok(train(p, 0.01, 0.05, 100) > 80)
})

test('spinUntil returns as soon as the condition holds, or false once the time is up', () => {
  let n = 0
  assert.equal(spinUntil(() => ++n === 5, 1000), true)
  assert.equal(n, 5)
  assert.equal(spinUntil(() => false, 0.05), false)
})
