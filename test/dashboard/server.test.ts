import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { Collector, serveDashboard, dashboardToken, type Source, type DashboardServer } from '../../src/cli/dashboard/index.ts'

/** A source whose answer the test sets. */
function fakeSource(): Source & { queues: { name: string; depth: number; put: number; got: number }[] } {
  const s = {
    name: 'fake',
    queues: [{ name: 'tasks', depth: 3, put: 10, got: 7 }],
    async sample() {
      return { queues: s.queues.map((q) => ({ ...q, backend: 'manager' as const })) }
    },
  }
  return s
}

const servers: DashboardServer[] = []
const collectors: Collector[] = []
after(async () => {
  await Promise.all(servers.map((s) => s.close()))
  await Promise.all(collectors.map((c) => c.stop()))
})

async function start(opts: { host?: string; token?: string } = {}): Promise<DashboardServer> {
  const collector = new Collector([fakeSource()], { intervalMs: 200 })
  collectors.push(collector)
  collector.start()
  const server = await serveDashboard({ collector, port: 0, ...opts })
  servers.push(server)
  return server
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end()
  })
}

test('the dashboard answers on 127.0.0.1 without a token and serves a snapshot', async () => {
  const s = await start()
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
  const r = await get(`${s.url}api/snapshot`)
  assert.equal(r.status, 200)
  const snap = JSON.parse(r.body)
  assert.equal(snap.queues[0].name, 'tasks')
  assert.equal(snap.queues[0].depth, 3)
  assert.deepEqual(snap.sources, [{ name: 'fake', ok: true }])
})

test('the dashboard is read-only: POST is refused', async () => {
  const s = await start()
  const r = await get(`${s.url}api/snapshot`, {}, 'POST')
  assert.equal(r.status, 405)
})

test('a dashboard with a token refuses requests without it and accepts ?token=, a bearer header or its cookie', async () => {
  const token = dashboardToken('abc')
  const s = await start({ token })
  const base = s.url.replace(/\?.*$/, '')
  assert.equal(s.url, `${base}?token=${token}`)
  assert.equal((await get(`${base}api/snapshot`)).status, 401)
  assert.equal((await get(`${base}metrics`)).status, 401)
  assert.equal((await get(`${base}api/snapshot?token=wrong`)).status, 401)
  assert.equal((await get(`${base}healthz`)).status, 200)
  const ok = await get(`${base}api/snapshot?token=${token}`)
  assert.equal(ok.status, 200)
  const cookie = String(ok.headers['set-cookie']).split(';')[0]!
  assert.equal((await get(`${base}api/snapshot`, { cookie })).status, 200)
  assert.equal((await get(`${base}metrics`, { authorization: `Bearer ${token}` })).status, 200)
})

test('the token is derived from the authkey and differs between authkeys', () => {
  assert.match(dashboardToken('abc'), /^[0-9a-f]{32}$/)
  assert.equal(dashboardToken('abc'), dashboardToken(Buffer.from('abc')))
  assert.notEqual(dashboardToken('abc'), dashboardToken('abd'))
})

test('the event stream starts with a hello carrying history and then streams snapshots', async () => {
  const s = await start()
  const events = await new Promise<string[]>((resolve, reject) => {
    const seen: string[] = []
    const req = request(`${s.url}events`, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8')
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        buf += c
        let i: number
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const ev = /^event: (\w+)$/m.exec(block)
          if (ev) seen.push(ev[1]!)
          if (seen.length >= 3) {
            req.destroy()
            resolve(seen)
          }
        }
      })
    })
    req.setTimeout(10_000, () => req.destroy(new Error('no events within 10 s')))
    req.on('error', (e) => { if (seen.length < 3) reject(e) })
    req.end()
  })
  assert.deepEqual(events, ['hello', 'snapshot', 'snapshot'])
})

test('static files cannot be read outside the page folder', async () => {
  const s = await start()
  const r = await get(`${s.url}..%2f..%2fpackage.json`)
  assert.equal(r.status, 404)
})

/** POST an action as the page does. */
function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, timeout: 5000 }, (res) => {
      let out = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { out += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: out }))
    })
    req.on('error', reject)
    req.end(text)
  })
}

async function acting(actions: boolean) {
  const done: unknown[] = []
  const source: Source = {
    name: 'fake',
    async sample() { return { queues: [{ name: 'tasks', backend: 'redis' as const, depth: 3 }] } },
    async act(a) { done.push(a); return { ok: true, count: 3, message: 'purged 3 waiting items' } },
  }
  const collector = new Collector([source], { intervalMs: 200, actions })
  collectors.push(collector)
  collector.start()
  const token = dashboardToken('abc')
  const server = await serveDashboard({ collector, port: 0, token })
  servers.push(server)
  return { base: server.url.replace(/\?.*$/, ''), token, done }
}

test('actions: refused when the dashboard was not started with --allow-actions, even with the token', async () => {
  const { base, token, done } = await acting(false)
  const r = await post(`${base}api/actions`, { kind: 'purge', source: 'fake', queue: 'tasks' }, { 'x-troupe-token': token })
  assert.equal(r.status, 403)
  assert.match(JSON.parse(r.body).error, /actions are off: start the dashboard with --allow-actions/)
  assert.deepEqual(done, [])
})

test('actions: refused without the token in a header (a cookie or ?token= alone never acts)', async () => {
  const { base, token, done } = await acting(true)
  const purge = { kind: 'purge', source: 'fake', queue: 'tasks' }
  assert.equal((await post(`${base}api/actions`, purge)).status, 401)
  assert.equal((await post(`${base}api/actions?token=${token}`, purge)).status, 401)
  assert.equal((await post(`${base}api/actions`, purge, { cookie: `troupe_dashboard_token=${token}` })).status, 401)
  assert.equal((await post(`${base}api/actions`, purge, { 'x-troupe-token': 'f'.repeat(32) })).status, 401)
  assert.deepEqual(done, [])
  const ok = await post(`${base}api/actions`, purge, { 'x-troupe-token': token })
  assert.equal(ok.status, 200, ok.body)
  assert.deepEqual(JSON.parse(ok.body), { ok: true, count: 3, message: 'purged 3 waiting items' })
  assert.deepEqual(done, [purge])
})

test('actions: POST only, JSON only, and a malformed action is refused by name', async () => {
  const { base, token } = await acting(true)
  assert.equal((await get(`${base}api/actions?token=${token}`)).status, 405)
  assert.equal((await post(`${base}api/actions`, { kind: 'purge', source: 'fake', queue: 'tasks' }, { 'x-troupe-token': token, 'content-type': 'text/plain' })).status, 415)
  const bad = await post(`${base}api/actions`, { kind: 'format-disk', source: 'fake', queue: 'tasks' }, { 'x-troupe-token': token })
  assert.equal(bad.status, 400)
  assert.match(JSON.parse(bad.body).error, /kind must be one of/)
  const unknown = await post(`${base}api/actions`, { kind: 'purge', source: 'nope', queue: 'tasks' }, { 'x-troupe-token': token })
  assert.equal(unknown.status, 404)
})
