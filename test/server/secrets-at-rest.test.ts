/**
 * Secrets and files, as an attacker or an auditor would check them (issue 17 item 6): the TikTok
 * access token and a source's shared secret are stored encrypted — neither appears in the database
 * files, in any admin API answer, in /metrics or in what the process logs (LOG_LEVEL=debug); and no
 * console asset path reaches a file outside the built console.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { audienceEvent } from '../helpers/events.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const PASSWORD = 'secrets-at-rest-password'
const dir = mkdtempSync(join(tmpdir(), 'tta-secrets-'))
after(async () => {
  await stopAllServes()
  rmSync(dir, { recursive: true, force: true })
})

const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }
async function api(url: string, method = 'GET', body?: unknown): Promise<{ status: number; text: string }> {
  const r = await fetch(url, {
    method,
    headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: r.status, text: await r.text() }
}

/** A raw GET, so that `..` and encoded dots reach the server as sent (fetch would normalise them). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'GET' }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('the access token and the shared secret appear in no database file, API answer, metric or log line', async () => {
  const emu = await startEmulator({ log: false })
  try {
    const serve = await startServe([], {
      DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
      ADMIN_PASSWORD: PASSWORD,
      TIKTOK_API_URL: emu.apiUrl,
      LOG_LEVEL: 'debug',
      DATA_DIR: dir
    })
    const token = 'emulator-access-token'
    const source = JSON.parse((await api(`${serve.url}/api/sources`, 'POST', { name: 'engage', writeKey: 'wk_secrets' })).text) as { id: number }
    const dest = JSON.parse((await api(`${serve.url}/api/destinations`, 'POST', { name: 'tiktok', mode: 'native', source: 'engage' })).text) as { id: number }
    assert.equal((await api(`${serve.url}/api/destinations/${dest.id}/token`, 'POST', { accessToken: token })).status, 200)
    const secret = (JSON.parse((await api(`${serve.url}/api/sources/${source.id}/shared-secret`, 'PUT', {})).text) as { sharedSecret: string }).sharedSecret
    assert.equal((await api(`${serve.url}/api/destinations/${dest.id}`, 'PATCH', { enabled: true, autoConnectAudiences: true })).status, 200)
    const sent = await fetch(`${serve.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('wk_secrets:').toString('base64')}` },
      body: JSON.stringify({ batch: [audienceEvent({ userId: 'u1', email: 'u1@example.com' }, 'vip', true)] })
    })
    assert.equal(sent.status, 200)
    await new Promise((r) => setTimeout(r, 1500))

    const answers = await Promise.all(
      [
        '/api/sources',
        `/api/sources/${source.id}/segment`,
        '/api/destinations',
        `/api/destinations/${dest.id}`,
        `/api/destinations/${dest.id}/audiences`,
        `/api/destinations/${dest.id}/delivery`,
        '/api/stats',
        '/api/openapi.json',
        '/metrics'
      ].map(async (p) => ({ p, ...(await api(`${serve.url}${p}`)) }))
    )
    for (const a of answers) {
      assert.equal(a.status, 200, `${a.p}: ${a.text.slice(0, 200)}`)
      assert.ok(!a.text.includes(token), `${a.p} shows the access token`)
      assert.ok(!a.text.includes(secret), `${a.p} shows the shared secret`)
    }
    await serve.stop('SIGTERM')
    for (const f of readdirSync(dir).filter((n) => n.startsWith('db.sqlite'))) {
      const bytes = readFileSync(join(dir, f))
      assert.ok(!bytes.includes(token), `${f} holds the plain access token`)
      assert.ok(!bytes.includes(secret), `${f} holds the plain shared secret`)
    }
    assert.ok(!serve.output().includes(token), 'the log shows the access token')
    assert.ok(!serve.output().includes(secret), 'the log shows the shared secret')
  } finally {
    await emu.close()
  }
})

test('no console asset path reaches a file outside the built console', async () => {
  const serve = await startServe([], {
    DATABASE_URL: `sqlite:${join(dir, 'assets.sqlite')}`,
    ADMIN_PASSWORD: PASSWORD,
    DATA_DIR: mkdtempSync(join(dir, 'assets-'))
  })
  for (const path of [
    '/assets/../../package.json',
    '/assets/..%2f..%2fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/assets/%2e%2e%2f%2e%2e%2fpackage.json',
    '/assets/....//....//package.json',
    '/%2e%2e/package.json',
    '/assets/%00',
    '/assets/..\\..\\package.json'
  ]) {
    const r = await rawGet(serve.url, path)
    assert.ok(!r.body.includes('"name": "tiktok-audiences"'), `${path} answered ${r.status} with package.json`)
    assert.ok(r.status === 404 || r.status === 400 || (r.status === 200 && r.body.includes('<!doctype html>')), `${path}: ${r.status}`)
  }
})
