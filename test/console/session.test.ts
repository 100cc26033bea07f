/** Console sessions: sign-in, the session cookie passes reads, writes need the CSRF header, HTTP Basic keeps working. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { createSessionToken, verifySessionToken } from '../../src/server/session.js'
import { first } from '../../src/util/array.js'

const PASSWORD = 'session-test-password'
let app: ConsoleService
let service: { url: string; close(): Promise<void> }

before(async () => {
  app = await startConsoleService({ name: 'session', password: PASSWORD, noBrowser: true })
  service = app.service
})
after(async () => {
  await app?.close()
})

test('session tokens are signed with the admin password and expire', () => {
  const token = createSessionToken(PASSWORD, 1000)
  assert.equal(verifySessionToken(token, PASSWORD, 2000), token)
  assert.equal(verifySessionToken(token, 'another password', 2000), undefined)
  assert.equal(verifySessionToken(token, PASSWORD, 1000 + 13 * 3600_000), undefined)
  assert.equal(verifySessionToken(token.slice(0, -2) + 'xx', PASSWORD, 2000), undefined)
})

test('sign in, read with the cookie, write only with the CSRF token; Basic still works', async () => {
  const wrong = await fetch(`${service.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'nope' })
  })
  assert.equal(wrong.status, 401)

  const signIn = await fetch(`${service.url}/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD })
  })
  assert.equal(signIn.status, 200)
  const setCookie = signIn.headers.get('set-cookie') ?? ''
  assert.match(setCookie, /HttpOnly/)
  assert.match(setCookie, /SameSite=Strict/)
  const cookie = first(setCookie.split(';'))
  const { csrfToken } = (await signIn.json()) as { csrfToken: string }

  assert.equal((await fetch(`${service.url}/api/stats`)).status, 401)
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie } })).status, 200)

  const create = (headers: Record<string, string>, name: string) =>
    fetch(`${service.url}/api/destinations`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ name }) })
  assert.equal((await create({ cookie }, 'no csrf')).status, 403)
  assert.equal((await create({ cookie, 'x-csrf-token': 'forged' }, 'forged csrf')).status, 403)
  assert.equal((await create({ cookie, 'x-csrf-token': csrfToken }, 'with csrf')).status, 201)
  assert.equal((await create({ authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }, 'with basic')).status, 201)

  // The console's own requests get no Basic challenge (the browser would show its login dialog).
  const unauth = await fetch(`${service.url}/api/stats`, { headers: { 'x-requested-with': 'tiktok-audiences-console' } })
  assert.equal(unauth.status, 401)
  assert.equal(unauth.headers.get('www-authenticate'), null)

  const signOut = await fetch(`${service.url}/session`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrfToken } })
  assert.equal(signOut.status, 200)
  assert.match(signOut.headers.get('set-cookie') ?? '', /Max-Age=0/)
})

test('the console is served at / with a SPA fallback; other prefixes keep their 404s', async () => {
  const index = await fetch(`${service.url}/destinations/1/mappings`)
  assert.equal(index.status, 200)
  assert.match(await index.text(), /<div id="root">/)
  assert.equal(
    (await fetch(`${service.url}/api/nope`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` } })).status,
    404
  )
  assert.equal((await fetch(`${service.url}/v1/nope`)).status, 404)
  assert.equal((await fetch(`${service.url}/assets/../../package.json`)).status, 404)
})

// Last in this file: it leaves the throttle of this client's address tripped for a minute.
test('failed sign-ins are throttled per client address, which X-Forwarded-For cannot change (TRUST_PROXY unset)', async () => {
  const { trustProxySetting } = await import('../../src/server/app.js')
  assert.equal(trustProxySetting(undefined), false)
  assert.equal(trustProxySetting('true'), true)
  assert.equal(trustProxySetting('0'), false)
  assert.equal(trustProxySetting('10.0.0.1'), '10.0.0.1')
  const attempt = (i: number) =>
    fetch(`${service.url}/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': `203.0.113.${i}` },
      body: JSON.stringify({ password: `guess-${i}` })
    })
  const statuses: number[] = []
  for (let i = 0; i < 12; i++) statuses.push((await attempt(i)).status)
  assert.ok(
    statuses.slice(0, 9).every((s) => s === 401),
    statuses.join(',')
  )
  assert.deepEqual(statuses.slice(10), [429, 429])
})
