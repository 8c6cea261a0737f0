import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect, type Server } from 'node:net'
import { createHmac } from 'node:crypto'
import { spawn } from 'node:child_process'
import { listen, connectTo, answerFor, verifyAnswer, FrameConnection, type Listener } from '../../src/net/index.ts'
import { AuthenticationError, TimeoutError } from '../../src/errors.ts'

const key = Buffer.from('abc')
const open: { close(): unknown }[] = []
after(async () => { for (const o of open) await o.close() })

test('answers: raw HMAC-MD5 to a 20-byte legacy challenge, {sha256} to a modern one', () => {
  const legacy = Buffer.alloc(20, 1)
  assert.deepEqual(answerFor(key, legacy), createHmac('md5', key).update(legacy).digest())
  const modern = Buffer.concat([Buffer.from('{sha256}'), Buffer.alloc(40, 2)])
  const ans = answerFor(key, modern)
  assert.equal(ans.subarray(0, 8).toString(), '{sha256}')
  assert.deepEqual(ans.subarray(8), createHmac('sha256', key).update(modern).digest())
})

test('the checker accepts every CPython digest and a legacy raw MD5, and rejects wrong keys', () => {
  const msg = Buffer.concat([Buffer.from('{sha256}'), Buffer.alloc(40, 3)])
  for (const [wire, node] of [['md5', 'md5'], ['sha256', 'sha256'], ['sha384', 'sha384'], ['sha3_256', 'sha3-256'], ['sha3_384', 'sha3-384']]) {
    assert.ok(verifyAnswer(key, msg, Buffer.concat([Buffer.from(`{${wire}}`), createHmac(node!, key).update(msg).digest()])), wire)
  }
  assert.ok(verifyAnswer(key, msg, createHmac('md5', key).update(msg).digest()))
  assert.ok(!verifyAnswer(Buffer.from('other'), msg, createHmac('md5', key).update(msg).digest()))
  assert.ok(!verifyAnswer(key, msg, Buffer.from('{nope}xxxxxxxxxxxxxxxxxxxxxxxx')))
})

async function echoListener(log: string[] = []): Promise<Listener> {
  const l = await listen('127.0.0.1:0', {
    authkey: key, handshakeTimeout: 500, log: (line) => log.push(line),
    onConnection: (c) => c.onFrame((f) => c.send(f)),
  })
  open.push(l)
  return l
}

test('a troupe client and server authenticate both ways and exchange frames', async () => {
  const l = await echoListener()
  const c = await connectTo(l.address, { authkey: key })
  const got = new Promise<Buffer>((r) => c.onFrame(r))
  c.send(Buffer.from('hello'))
  assert.equal((await got).toString(), 'hello')
  c.close()
})

test('a wrong key gives the client AuthenticationError naming the address, and the server logs and keeps serving', async () => {
  const log: string[] = []
  const l = await echoListener(log)
  await assert.rejects(connectTo(l.address, { authkey: 'wrong' }), (err: Error) => {
    assert.ok(err instanceof AuthenticationError)
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${(l.address as { port: number }).port}`))
    return true
  })
  const c = await connectTo(l.address, { authkey: key })
  c.close()
  assert.ok(log.some((line) => /refused connection.*AuthenticationError/.test(line)))
})

test('a client retrying with a wrong key is logged once a minute, not once per attempt', async () => {
  const log: string[] = []
  const l = await echoListener(log)
  for (let i = 0; i < 5; i++) await assert.rejects(connectTo(l.address, { authkey: 'wrong' }), AuthenticationError)
  const refusals = log.filter((line) => /refused connection/.test(line))
  assert.equal(refusals.length, 1, log.join('\n'))
  assert.match(refusals[0]!, /digest received was wrong \(further refusals from this host: one line a minute\)$/)
})

test('a peer that stalls in the handshake is dropped after the timeout', async () => {
  const log: string[] = []
  const l = await echoListener(log)
  const s = connect((l.address as { port: number }).port, '127.0.0.1')
  const closed = new Promise<void>((r) => s.on('close', () => r()))
  s.on('error', () => {})
  s.resume()
  await closed
  assert.ok(log.some((line) => /TimeoutError/.test(line)), log.join('\n'))
})

test('an auth frame over 256 bytes is refused with ProtocolError', async () => {
  const log: string[] = []
  const l = await echoListener(log)
  const s = connect((l.address as { port: number }).port, '127.0.0.1')
  s.on('error', () => {})
  s.once('data', () => { const h = Buffer.alloc(4); h.writeInt32BE(100_000, 0); s.write(h) })
  await new Promise<void>((r) => s.on('close', () => r()))
  assert.ok(log.some((line) => /ProtocolError.*exceeds the limit of 256/.test(line)), log.join('\n'))
})

test('a server that never answers makes connectTo fail with TimeoutError, not hang', async () => {
  const silent: Server = createServer(() => {})
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  open.push({ close: () => new Promise((r) => silent.close(r)) })
  const port = (silent.address() as { port: number }).port
  await assert.rejects(connectTo(`127.0.0.1:${port}`, { authkey: key, handshakeTimeout: 300 }), TimeoutError)
})

function python(version: string, code: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn('python3', ['-c', code], { env: { ...process.env, PYENV_VERSION: version } })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const t = setTimeout(() => p.kill('SIGKILL'), 15_000)
    p.on('exit', (c) => { clearTimeout(t); resolve({ code: c ?? -1, out }) })
  })
}

for (const version of ['3.11.7', '3.12.1']) {
  test(`CPython ${version} multiprocessing.connection.Client authenticates with a troupe listener`, async () => {
    const l = await echoListener()
    const port = (l.address as { port: number }).port
    const r = await python(version, `
from multiprocessing.connection import Client
c = Client(('127.0.0.1', ${port}), authkey=b'abc')
c.send_bytes(b'ping')
print(c.recv_bytes().decode())`)
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, /ping/)
  })

  test(`a troupe client authenticates with a CPython ${version} Listener`, async () => {
    const p = spawn('python3', ['-c', `
from multiprocessing.connection import Listener
l = Listener(('127.0.0.1', 0), authkey=b'abc')
print(l.address[1], flush=True)
c = l.accept()
c.send_bytes(c.recv_bytes() + b'!')
c.close()`], { env: { ...process.env, PYENV_VERSION: version } })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        p.stdout.once('data', (d) => resolve(Number(String(d).trim())))
        p.once('exit', (c) => reject(new Error(`python exited ${c}`)))
      })
      const c: FrameConnection = await connectTo(`127.0.0.1:${port}`, { authkey: key })
      const got = new Promise<Buffer>((r) => c.onFrame(r))
      c.send(Buffer.from('pong'))
      assert.equal((await got).toString(), 'pong!')
      c.close()
    } finally {
      p.kill()
    }
  })
}

