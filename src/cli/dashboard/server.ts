import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostname } from 'node:os'
import type { AddressInfo } from 'node:net'
import { ActionRefused, type Collector } from './collector.js'
import type { Hello, QueueAction, Snapshot } from './model.js'
import { tokenMatches } from './token.js'

/** How the HTTP side of the dashboard is served. */
export interface DashboardServerOptions {
  collector: Collector
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string
  /** Port; 0 picks a free one. Default 0. */
  port?: number
  /** When set, every request but `/healthz` must present it (`?token=`, `Authorization: Bearer`, `X-Troupe-Token` or the cookie the page sets). */
  token?: string
  /** Folder holding the built front-end. Default: `dist/web` of this package. */
  webRoot?: string
  /** Shown in the page footer. */
  version?: string
}

/** A running dashboard HTTP server. */
export interface DashboardServer {
  server: Server
  /** `http://host:port/` (with `?token=` when one is required). */
  url: string
  port: number
  close(): Promise<void>
}

const here = import.meta.url
// From src/cli/dashboard/*.ts (tsx) the build lives in ../../../dist/web; from dist/cli/dashboard/*.js in ../../web.
const defaultWebRoot = fileURLToPath(new URL(here.endsWith('.ts') ? '../../../dist/web/' : '../../web/', here))

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
}

const cookieName = 'troupe_dashboard_token'

/** Largest action request body accepted, bytes. */
const MAX_ACTION_BODY = 64 * 1024

const ACTION_KINDS = new Set(['retry-dead', 'drop-dead', 'purge', 'promote-delayed', 'drop-delayed', 'seal'])

/**
 * Serve the page, its assets, a server-sent-event stream of snapshots
 * (`/events`), JSON (`/api/snapshot`, `/api/history`) and Prometheus text
 * (`/metrics`). Read-only (GET and HEAD) unless the collector allows actions:
 * then `POST /api/actions` carries them out, and only for a request that
 * presents the token in a header (`X-Troupe-Token` or `Authorization:
 * Bearer`): a cookie alone never acts, so another site cannot make a
 * logged-in browser act (CSRF).
 */
export async function serveDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const { collector, token } = options
  const host = options.host ?? '127.0.0.1'
  const webRoot = options.webRoot ?? defaultWebRoot
  const streams = new Set<ServerResponse>()

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${err instanceof Error ? err.message : String(err)}\n`)
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid')
    res.setHeader('X-Content-Type-Options', 'nosniff')
    // The token may sit in the page's URL: never leak it to other origins.
    res.setHeader('Referrer-Policy', 'no-referrer')
    if (url.pathname === '/api/actions') return handleAction(req, res)
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return send(res, 405, 'text/plain; charset=utf-8', 'the dashboard is read-only (actions: POST /api/actions, with --allow-actions)\n')
    }
    if (url.pathname === '/healthz') return send(res, 200, 'text/plain; charset=utf-8', 'ok\n')
    if (token !== undefined) {
      const presented = url.searchParams.get('token') ?? bearer(req) ?? header(req, 'x-troupe-token') ?? cookie(req, cookieName)
      if (!tokenMatches(presented, token)) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="troupe-dashboard"')
        return send(res, 401, 'text/plain; charset=utf-8', 'this dashboard needs its token: open the URL `troupe dashboard` printed (…/?token=…)\n')
      }
      // Lets the page's own asset and event requests through without repeating the token in every URL.
      res.setHeader('Set-Cookie', `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/`)
    }
    switch (url.pathname) {
      case '/events': return openStream(req, res)
      case '/api/snapshot': return send(res, 200, 'application/json', JSON.stringify(await collector.latest()))
      case '/api/history': return send(res, 200, 'application/json', JSON.stringify(collector.history()))
      case '/metrics': {
        const m = await collector.metrics.render()
        return send(res, 200, m.contentType, m.body)
      }
      default: return serveStatic(url.pathname, res)
    }
  }

  async function handleAction(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = (status: number, error: string) => send(res, status, 'application/json', JSON.stringify({ ok: false, error }))
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST')
      return refuse(405, 'actions are POST requests')
    }
    if (!collector.actions) return refuse(403, 'actions are off: start the dashboard with --allow-actions to enable them')
    if (token === undefined || !tokenMatches(bearer(req) ?? header(req, 'x-troupe-token'), token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="troupe-dashboard"')
      return refuse(401, 'an action needs the dashboard token in an X-Troupe-Token or Authorization: Bearer header')
    }
    if (!/^application\/json\b/i.test(header(req, 'content-type') ?? '')) return refuse(415, 'send the action as application/json')
    let action: QueueAction
    try {
      action = parseAction(await readBody(req, MAX_ACTION_BODY))
    } catch (err) {
      return refuse(400, (err as Error).message)
    }
    try {
      const result = await collector.act(action)
      return send(res, 200, 'application/json', JSON.stringify(result))
    } catch (err) {
      if (err instanceof ActionRefused) return refuse(err.status, err.message)
      return refuse(502, `${(err as Error).name}: ${(err as Error).message}`)
    }
  }

  async function openStream(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
    })
    const hello: Hello = {
      version: options.version ?? '',
      intervalMs: collector.intervalMs,
      history: collector.history(),
      queueHistory: collector.queueHistory(),
      snapshot: await collector.latest(),
    }
    res.write(`retry: 2000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`)
    streams.add(res)
    const unsubscribe = collector.subscribe((snap) => {
      // A page that cannot keep up skips snapshots instead of piling them up: each one supersedes the last.
      if (!res.writableNeedDrain) res.write(encodeSnapshot(snap))
    })
    // A comment line now and then keeps proxies from closing an idle stream.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000).unref()
    const done = (): void => {
      unsubscribe()
      clearInterval(keepAlive)
      streams.delete(res)
    }
    req.on('close', done)
    res.on('error', done)
  }

  async function serveStatic(pathname: string, res: ServerResponse): Promise<void> {
    let rel: string
    try {
      rel = decodeURIComponent(pathname)
    } catch {
      return send(res, 400, 'text/plain; charset=utf-8', 'bad path\n')
    }
    if (rel === '/' || rel === '') rel = '/index.html'
    const file = normalize(join(webRoot, rel))
    if (!file.startsWith(webRoot.endsWith(sep) ? webRoot : webRoot + sep)) return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
    try {
      if (!(await stat(file)).isFile()) throw new Error('not a file')
    } catch {
      if (rel === '/index.html') {
        return send(res, 503, 'text/html; charset=utf-8', `<!doctype html><title>troupe dashboard</title><p>The dashboard's page is not built. Run <code>npm run build</code> (or <code>npm run build:web</code>) in the troupe package; <a href="/api/snapshot">/api/snapshot</a> and <a href="/metrics">/metrics</a> work meanwhile.</p>\n`)
      }
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
    }
    const body = await readFile(file)
    res.setHeader('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:")
    // Vite fingerprints assets, so they can be cached forever; the page itself must always be fresh.
    res.setHeader('Cache-Control', rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
    send(res, 200, types[extname(file)] ?? 'application/octet-stream', body)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  // A wildcard bind is reachable by this machine's name; that is the link worth printing.
  const shownHost = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host
  return {
    server,
    port,
    url: `http://${shownHost}:${port}/${token !== undefined ? `?token=${token}` : ''}`,
    async close() {
      for (const res of streams) res.end()
      streams.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    },
  }
}

const encoded = new WeakMap<Snapshot, string>()

/** One snapshot as an SSE event, serialized once however many pages watch. */
function encodeSnapshot(snap: Snapshot): string {
  let text = encoded.get(snap)
  if (text === undefined) {
    text = `event: snapshot\ndata: ${JSON.stringify(snap)}\n\n`
    encoded.set(snap, text)
  }
  return text
}

/** Read a request body of at most `max` bytes. */
function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > max) { reject(new Error(`the action is over ${max} bytes`)); req.destroy() } else chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** An action from JSON, checked field by field (it names queues and entry ids, nothing else). */
function parseAction(text: string): QueueAction {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(text) as Record<string, unknown>
  } catch {
    throw new Error('the action is not JSON')
  }
  if (typeof o !== 'object' || o === null) throw new Error('the action must be an object')
  if (typeof o.kind !== 'string' || !ACTION_KINDS.has(o.kind)) throw new Error(`kind must be one of ${[...ACTION_KINDS].join(', ')}`)
  if (typeof o.source !== 'string' || typeof o.queue !== 'string' || o.queue === '') throw new Error('source and queue must be strings (as the snapshot names them)')
  if (o.ids !== undefined && (!Array.isArray(o.ids) || o.ids.length > 10_000 || !o.ids.every((x) => typeof x === 'string' && x.length <= 200))) {
    throw new Error('ids must be a list of at most 10,000 strings')
  }
  return { kind: o.kind, source: o.source, queue: o.queue, ...(o.ids ? { ids: o.ids as string[] } : {}) } as QueueAction
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name]
  return Array.isArray(v) ? v[0] : v
}

function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')
  return m?.[1]
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (header(req, 'cookie') ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}
