import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { ADV1, ADV2, EmulatorClient } from './helpers.js'

let clock = Date.UTC(2024, 0, 1)
let em: EmulatorClient

before(async () => {
  em = await EmulatorClient.start({ now: () => clock, qps: 0, otherQps: 0 })
})
after(() => em.close())
beforeEach(() => {
  clock = Date.UTC(2024, 0, 1)
  em.state.reset()
  em.state.setConfig({ qps: 0, otherQps: 0 })
})

const REDIRECT = 'http://127.0.0.1:9/oauth/tiktok/callback'

function consentUrl(params: Record<string, string>): string {
  const url = new URL(em.emulator.authUrl)
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
  return url.toString()
}

async function approveViaForm(state: string): Promise<URL> {
  const page = consentUrl({ app_id: 'emulator-app', state, redirect_uri: REDIRECT })
  const res = await fetch(page, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ app_id: 'emulator-app', state, redirect_uri: REDIRECT, decision: 'approve' }).toString()
  })
  assert.equal(res.status, 302)
  return new URL(res.headers.get('location')!)
}

async function exchange(body: Record<string, unknown>) {
  return (await em.api('POST', '/oauth2/access_token/', { token: null, body })).json
}

test('consent page is labelled as the emulator and offers Approve and Deny buttons', async () => {
  const res = await fetch(consentUrl({ app_id: 'emulator-app', state: 'xyz', redirect_uri: REDIRECT }))
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /text\/html/)
  const html = await res.text()
  assert.match(html, /<title>[^<]*TikTok emulator[^<]*<\/title>/)
  assert.match(html, /<h1>[^<]*TikTok emulator/)
  assert.match(html, /<form method="post">/)
  assert.match(html, /<button type="submit" name="decision" value="approve">Approve<\/button>/)
  assert.match(html, /<button type="submit" name="decision" value="deny">Deny<\/button>/)
  assert.match(html, /Emulator Advertiser/)
  assert.match(html, new RegExp(ADV2))
  assert.match(html, /emulator-app/)
  assert.match(html, /name="state" value="xyz"/)
})

test('approve redirects with auth_code, code and state; the code buys a token for both advertisers', async () => {
  const location = await approveViaForm('s t&ate')
  assert.equal(`${location.origin}${location.pathname}`, REDIRECT)
  const code = location.searchParams.get('auth_code')
  assert.ok(code)
  assert.equal(location.searchParams.get('code'), code)
  assert.equal(location.searchParams.get('state'), 's t&ate')

  const json = await exchange({ app_id: 'emulator-app', secret: 'emulator-secret', auth_code: code })
  assert.equal(json.code, 0, json.message)
  assert.match(json.data.access_token, /^[0-9a-f]{40}$/)
  assert.deepEqual(json.data.advertiser_ids, [ADV1, ADV2])
  assert.ok(Array.isArray(json.data.scope) && json.data.scope.length > 0)
  assert.equal(json.data.refresh_token, undefined, 'advertiser tokens are long-lived')

  const info = await em.api('GET', '/advertiser/info/', { token: json.data.access_token, query: { advertiser_ids: JSON.stringify([ADV1, ADV2]) } })
  assert.equal(info.json.code, 0)
  assert.equal(info.json.data.list.length, 2)
})

test('auth codes are single use', async () => {
  const code = (await approveViaForm('one')).searchParams.get('auth_code')
  assert.equal((await exchange({ app_id: 'emulator-app', secret: 'emulator-secret', auth_code: code })).code, 0)
  const again = await exchange({ app_id: 'emulator-app', secret: 'emulator-secret', auth_code: code })
  assert.equal(again.code, 40110)
})

test('bad secret is 40101 and does not burn the code; unknown and expired codes are 40110', async () => {
  const code = (await approveViaForm('two')).searchParams.get('auth_code')
  const badSecret = await exchange({ app_id: 'emulator-app', secret: 'wrong', auth_code: code })
  assert.equal(badSecret.code, 40101)
  const badApp = await exchange({ app_id: 'other-app', secret: 'emulator-secret', auth_code: code })
  assert.equal(badApp.code, 40101)
  assert.equal((await exchange({ app_id: 'emulator-app', secret: 'emulator-secret', auth_code: 'deadbeef' })).code, 40110)
  assert.equal((await exchange({ app_id: 'emulator-app', secret: 'emulator-secret' })).code, 40002)

  clock += 60 * 60 * 1000 + 1
  assert.equal((await exchange({ app_id: 'emulator-app', secret: 'emulator-secret', auth_code: code })).code, 40110)
})

test('approve=1 redirects without showing the page and keeps existing query parameters', async () => {
  const res = await fetch(consentUrl({ app_id: 'emulator-app', state: 'abc', redirect_uri: `${REDIRECT}?tenant=7`, approve: '1' }), { redirect: 'manual' })
  assert.equal(res.status, 302)
  const location = new URL(res.headers.get('location')!)
  assert.equal(location.searchParams.get('tenant'), '7')
  assert.equal(location.searchParams.get('state'), 'abc')
  assert.equal(location.searchParams.get('code'), location.searchParams.get('auth_code'))
})

test('deny redirects with error=access_denied and the state', async () => {
  const res = await fetch(consentUrl({ app_id: 'emulator-app', state: 'nope', redirect_uri: REDIRECT }), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'decision=deny'
  })
  assert.equal(res.status, 302)
  const location = new URL(res.headers.get('location')!)
  assert.equal(location.searchParams.get('error'), 'access_denied')
  assert.equal(location.searchParams.get('state'), 'nope')
  assert.equal(location.searchParams.get('auth_code'), null)
})

test('unknown app_id or a bad redirect_uri is an error page', async () => {
  const unknown = await fetch(consentUrl({ app_id: 'who', state: 's', redirect_uri: REDIRECT }))
  assert.equal(unknown.status, 400)
  const html = await unknown.text()
  assert.match(html, /TikTok emulator/)
  assert.match(html, /Unknown app_id/)
  const badRedirect = await fetch(consentUrl({ app_id: 'emulator-app', state: 's', redirect_uri: 'javascript:alert(1)' }))
  assert.equal(badRedirect.status, 400)
})
