import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { Process, serve, connect, placeAddress, isUnder, type ObjectAddress } from '../../src/process/index.ts'
import { ClosedError, UnsendableValueError } from '../../src/errors.ts'
import * as r from './fixtures/router-targets.ts'

const started: Process<any>[] = []
after(async () => { await Promise.all(started.map((p) => p.kill())) })

function collector(): { address: ObjectAddress; next(): Promise<any>; close(): void } {
  const items: any[] = []
  let wake: (() => void) | undefined
  const s = serve((_m, args) => { items.push(args[0]); wake?.() })
  return {
    address: s.address,
    close: s.close,
    async next() {
      const deadline = Date.now() + 20_000
      while (!items.length) {
        if (Date.now() > deadline) throw new Error('nothing arrived')
        await new Promise<void>((res) => { wake = res; setTimeout(res, 200) })
      }
      return items.shift()
    },
  }
}

test('places have tree addresses: a child is under its parent', async () => {
  const c = collector()
  const p = new Process({ target: r.serveCounter, args: [c.address] })
  started.push(p)
  await p.start()
  const { place, address } = await c.next()
  assert.ok(isUnder(place, placeAddress()) && place !== placeAddress())
  assert.equal(await connect(address).request('stop', []), 'bye')
  assert.equal(await p.join({ timeout: 20_000 }), 0)
  c.close()
})

for (const kind of ['thread', 'process'] as const) {
  test(`an object served in one ${kind} is used from a sibling ${kind} and from main; errors keep their class`, async () => {
    const c = collector()
    const server = new Process({ target: r.serveCounter, args: [c.address], kind })
    started.push(server)
    await server.start()
    const { address } = await c.next()
    const client = new Process({ target: r.callCounter, args: [address, c.address], kind })
    started.push(client)
    await client.start()
    const report = await c.next()
    // Notifications from one sender arrive in order, before its later request.
    assert.equal(report.total, 110)
    assert.match(report.error, /^TypeError: bad input from /)
    assert.equal(await connect(address).request('add', [1]), 111)
    await assert.rejects(connect(address).request('fail', []), (err: Error) => err instanceof TypeError && /router-targets\.ts/.test((err as any).remoteStack))
    // Cancelling a call: the handler sees its signal abort and its answer settles the call.
    const ctl = new AbortController()
    const waiting = connect(address).request('wait', [], { signal: ctl.signal })
    ctl.abort()
    assert.equal(await waiting, 'cancelled after 111')
    assert.equal(await connect(address).request('stop', []), 'bye')
    assert.equal(await server.join({ timeout: 20_000 }), 0)
    assert.equal(await client.join({ timeout: 20_000 }), 0)
    c.close()
  })
}

test('a closed object rejects with ClosedError; unsendable arguments fail with their path', async () => {
  const s = serve(() => 1)
  const remote = connect(s.address)
  assert.equal(await remote.request('x', []), 1)
  s.close()
  await assert.rejects(remote.request('x', []), ClosedError)
  const c = collector()
  const p = new Process({ target: r.serveCounter, args: [c.address] })
  started.push(p)
  await p.start()
  const { address } = await c.next()
  assert.throws(() => connect(address).notify('add', [{ f: () => 1 }]), (err: Error) => err instanceof UnsendableValueError && /args\[0\]\.f/.test(err.message))
  await connect(address).request('stop', [])
  await p.join({ timeout: 20_000 })
  c.close()
})
