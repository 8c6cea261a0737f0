/**
 * The services outside troupe that tests talk to, each found in one place:
 * the Redis (`TROUPE_REDIS`) and the Chromium (`TROUPE_CHROMIUM`).
 * `scripts/test.mjs` (`npm test`) makes sure both are there before any test
 * starts (it starts a redis-server at `TROUPE_REDIS` when none answers, and
 * installs Debian's chromium when it is missing), and passes both variables on.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Browser, LaunchOptions } from 'playwright-core'
import { Redis } from 'ioredis'

/** The Redis every test uses: `TROUPE_REDIS`, default `redis://127.0.0.1:6379`. */
export const REDIS_URL = process.env.TROUPE_REDIS ?? 'redis://127.0.0.1:6379'

/** Fail with a clear message when the tests' Redis does not answer (Redis tests never skip). */
export async function requireRedis(url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 })
  r.on('error', () => {})
  try {
    await r.connect()
    await r.ping()
  } catch (err) {
    throw new Error(`the Redis tests need a Redis at ${url} (\`npm test\` starts one; or start \`redis-server\`, or set TROUPE_REDIS): ${(err as Error).message}`)
  } finally {
    r.disconnect()
  }
}

/** The Chromium the browser tests drive: `TROUPE_CHROMIUM`, default Debian's `/usr/bin/chromium`. */
export const CHROMIUM = process.env.TROUPE_CHROMIUM ?? '/usr/bin/chromium'

/**
 * Launch headless Chromium through playwright-core. The flags keep it off the
 * network (this machine's network is closed: without them Chromium retries
 * Google's hosts at every start) and let it run as root.
 */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  // Every browser test looks at the dashboard's page, which Vite builds into dist/web (npm test builds first).
  if (!existsSync(fileURLToPath(new URL('../dist/web/index.html', import.meta.url)))) {
    throw new Error('the dashboard page is not built (dist/web): run `npm run build` first (`npm test` does)')
  }
  const { chromium } = await import('playwright-core')
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 60_000,
    ...options,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', ...(options.args ?? [])],
  })
}
