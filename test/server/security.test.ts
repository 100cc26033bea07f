/**
 * Admin password guessing and sessions (issue 21 item 2): one per-address throttle for every check
 * of the admin password (console sign-in, HTTP Basic on /api and /oauth/tiktok/start), with a short
 * window from the environment so the test can wait it out; signing out revokes the session in every
 * process (two `serve` processes on one PostgreSQL database); console answers carry a CSP and nosniff.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { PasswordThrottle } from '../../src/server/password-throttle.js'
import { first } from '../../src/util/array.js'
import { createPgDatabase, pgSkipReason, type PgDatabase } from '../helpers/pg.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const PASSWORD = 'security-test-password'
const MAX_FAILURES = 5
const WINDOW_MS = 1500
const basic = (password: string) => ({ authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` })

let dir: string
let service: { url: string; close(): Promise<void> }

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-security-'))
  process.env.DATABASE_URL = `sqlite:${join(dir, 'security.db')}`
  process.env.ADMIN_PASSWORD = PASSWORD
  process.env.TTA_AUTH_MAX_FAILURES = String(MAX_FAILURES)
  process.env.TTA_AUTH_WINDOW_MS = String(WINDOW_MS)
  const { startService } = await import('../../src/server/serve.js')
  service = await startService({ port: 0, banner: false, dataDir: dir })
})
after(async () => {
  await service?.close()
  await stopAllServes()
  rmSync(dir, { recursive: true, force: true })
})

async function signIn(url: string): Promise<{ cookie: string; csrfToken: string }> {
  const r = await fetch(`${url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: PASSWORD }) })
  assert.equal(r.status, 200)
  return { cookie: first((r.headers.get('set-cookie') ?? '').split(';')), ...((await r.json()) as { csrfToken: string }) }
}

/** Waits until this address's failures have all left the window. */
const waitOutWindow = () => sleep(WINDOW_MS + 100)

for (const [name, path] of [
  ['/api/stats', '/api/stats'],
  ['/oauth/tiktok/start', '/oauth/tiktok/start?destination=1']
] as const) {
  test(`HTTP Basic guesses on ${name} get 429 with Retry-After past the limit; the real password works after the window`, async () => {
    await waitOutWindow()
    const statuses: number[] = []
    for (let i = 0; i < MAX_FAILURES + 3; i++)
      statuses.push((await fetch(`${service.url}${path}`, { headers: basic(`guess-${i}`), redirect: 'manual' })).status)
    assert.deepEqual(statuses, [...Array(MAX_FAILURES).fill(401), 429, 429, 429])
    const blocked = await fetch(`${service.url}${path}`, { headers: basic(PASSWORD), redirect: 'manual' })
    assert.equal(blocked.status, 429, 'the right password waits out the window too (else guessing goes on)')
    const retryAfter = Number(blocked.headers.get('retry-after'))
    assert.ok(retryAfter >= 1 && retryAfter <= Math.ceil(WINDOW_MS / 1000), `Retry-After ${retryAfter}`)
    await waitOutWindow()
    const ok = await fetch(`${service.url}${path}`, { headers: basic(PASSWORD), redirect: 'manual' })
    assert.ok(ok.status !== 401 && ok.status !== 429 && ok.status < 500, `the admin gets in after the window: ${ok.status}`)
  })
}

test('one throttle: Basic failures on /api count against the console sign-in and the other way round', async () => {
  await waitOutWindow()
  for (let i = 0; i < MAX_FAILURES; i++) assert.equal((await fetch(`${service.url}/api/stats`, { headers: basic(`guess-${i}`) })).status, 401)
  const rightPassword = await fetch(`${service.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD })
  })
  assert.equal(rightPassword.status, 429)
  assert.ok(Number(rightPassword.headers.get('retry-after')) >= 1)
  await waitOutWindow()
  for (let i = 0; i < MAX_FAILURES; i++) {
    assert.equal(
      (await fetch(`${service.url}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ password: `g${i}` }) }))
        .status,
      401
    )
  }
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: basic(PASSWORD) })).status, 429)
  // A signed-in console is not a password check: it keeps working while the address is throttled.
  await waitOutWindow()
  const session = await signIn(service.url)
  for (let i = 0; i < MAX_FAILURES; i++) await fetch(`${service.url}/api/stats`, { headers: basic(`guess-${i}`) })
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie: session.cookie } })).status, 200)
  await waitOutWindow()
})

test('the throttle remembers a bounded number of addresses, and forgets failures older than its window', () => {
  const throttle = new PasswordThrottle({ maxFailures: 3, windowMs: 60_000, maxAddresses: 100 })
  for (let i = 0; i < 50_000; i++) throttle.recordFailure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1000)
  assert.equal(throttle.size, 100)
  for (let i = 0; i < 3; i++) throttle.recordFailure('192.0.2.1', 1000 + i)
  assert.equal(throttle.retryAfterSeconds('192.0.2.1', 2000), 59)
  assert.equal(throttle.retryAfterSeconds('192.0.2.1', 60_999), 1)
  assert.equal(throttle.retryAfterSeconds('192.0.2.1', 61_000), 0)
  assert.equal(throttle.retryAfterSeconds('192.0.2.2', 2000), 0)
})

test('signing out revokes the session: the old cookie gets 401 afterwards', async () => {
  const { cookie, csrfToken } = await signIn(service.url)
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie } })).status, 200)
  assert.equal((await fetch(`${service.url}/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } })).status, 200)
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie } })).status, 401)
  assert.deepEqual(await (await fetch(`${service.url}/session`, { headers: { cookie } })).json(), { signedIn: false })
  const write = await fetch(`${service.url}/api/destinations`, {
    method: 'POST',
    headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'after sign-out' })
  })
  assert.equal(write.status, 401)
  // Another sign-in is a new session, unaffected.
  const again = await signIn(service.url)
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie: again.cookie } })).status, 200)
})

test('console answers carry a Content-Security-Policy; every answer carries X-Content-Type-Options: nosniff', async () => {
  for (const path of ['/', '/destinations/1/settings']) {
    const r = await fetch(`${service.url}${path}`)
    assert.equal(r.status, 200)
    const csp = r.headers.get('content-security-policy') ?? ''
    for (const directive of ["script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"])
      assert.ok(csp.includes(directive), `${path}: ${csp}`)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff')
  }
  for (const path of ['/healthz', '/api/stats', '/v1/nope', '/session'])
    assert.equal((await fetch(`${service.url}${path}`)).headers.get('x-content-type-options'), 'nosniff', path)
})

let pgDb: PgDatabase | undefined
const pgSkip = await pgSkipReason()
test('a session signed out on one process is refused by another on the same PostgreSQL database', { skip: pgSkip ?? false }, async () => {
  pgDb = await createPgDatabase()
  try {
    const env = { DATABASE_URL: pgDb.url, ADMIN_PASSWORD: PASSWORD, TTA_ROUTE_WORKERS: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'tta-security-pg-')) }
    // One built-in emulator per database (server/emulator-claim.ts): the second process uses the first's.
    const a = await startServe([], env)
    const b = await startServe([], { ...env, TIKTOK_API_URL: `${a.url}/emulator/open_api` })
    const { cookie, csrfToken } = await signIn(a.url)
    assert.equal((await fetch(`${b.url}/api/stats`, { headers: { cookie } })).status, 200)
    assert.equal((await fetch(`${a.url}/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } })).status, 200)
    assert.equal((await fetch(`${b.url}/api/stats`, { headers: { cookie } })).status, 401)
    assert.equal((await fetch(`${a.url}/api/stats`, { headers: { cookie } })).status, 401)
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')])
  } finally {
    await stopAllServes()
    await pgDb.drop()
  }
})
