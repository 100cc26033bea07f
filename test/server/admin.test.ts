/** Admin API over real HTTP: auth, stats, sources, destinations (enable refused until auth), mappings, actions. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ADV, basic, EMULATOR_TOKEN, startTestService, type TestService } from './admin-service.js'

let s: TestService
before(async () => {
  s = await startTestService()
})
after(async () => s.close())

const NO_TOKEN = 'Please authenticate via Oauth before updating other settings and/or enabling the destination.'
const BAD_TOKEN =
  'Invalid Oauth access token. Please reauthenticate to retrieve a valid access token before updating other settings and/or enabling the destination.'

test('401 without or with wrong admin credentials', async () => {
  const none = await s.api('GET', '/api/stats', undefined, { auth: false })
  assert.equal(none.status, 401)
  assert.match(none.headers.get('www-authenticate') ?? '', /Basic/)
  assert.equal((await s.api('GET', '/api/destinations', undefined, { auth: basic('admin', 'nope') })).status, 401)
  assert.equal((await s.api('GET', '/api/stats', undefined, { auth: basic('root', 'test-admin-password') })).status, 401)
})

test('GET /api/stats has the documented counters', async () => {
  const r = await s.api('GET', '/api/stats')
  assert.equal(r.status, 200)
  for (const key of ['received', 'delivered', 'failed', 'pending', 'retrying']) {
    assert.equal(typeof r.body[key], 'number', key)
    assert.ok(Number.isInteger(r.body[key]) && r.body[key] >= 0, key)
  }
})

test('sources: list with write keys, create generates a wk_ key, duplicate name is 409', async () => {
  const created = await s.api('POST', '/api/sources', { name: 'web' })
  assert.equal(created.status, 201)
  assert.match(created.body.writeKey, /^wk_[0-9a-f]{24}$/)
  const list = await s.api('GET', '/api/sources')
  assert.deepEqual(list.body.map((x: { name: string }) => x.name).sort(), ['engage', 'web'])
  assert.equal(list.body.find((x: { name: string }) => x.name === 'engage').writeKey, 'wk_admin_tests')
  const dup = await s.api('POST', '/api/sources', { name: 'web' })
  assert.equal(dup.status, 409)
  assert.equal(dup.body.field, 'name')
})

test('destinations: bad input is 400 naming the field, unknown ids 404', async () => {
  const cases: [unknown, string][] = [
    [{}, 'name'],
    [{ name: 5, source: 'engage' }, 'name'],
    [{ name: 'x', source: 'engage', mode: 'hybrid' }, 'mode'],
    [{ name: 'x', source: 'engage', enable: true }, 'enable'],
    [{ name: 'x', source: 'nowhere' }, 'source'],
    [{ name: 'x', source: 'engage', batchSize: 20000 }, 'batchSize']
  ]
  for (const [body, field] of cases) {
    const r = await s.api('POST', '/api/destinations', body)
    assert.equal(r.status, 400, JSON.stringify(body))
    assert.equal(r.body.field, field, JSON.stringify(r.body))
    assert.ok(r.body.error.includes(field), r.body.error)
  }
  // Two sources exist: the source must be named.
  const noSource = await s.api('POST', '/api/destinations', { name: 'x' })
  assert.equal(noSource.status, 400)
  assert.equal(noSource.body.field, 'source')
  assert.equal((await s.api('GET', '/api/destinations/9999')).status, 404)
  assert.equal((await s.api('PATCH', '/api/destinations/9999', { name: 'y' })).status, 404)
  assert.equal((await s.api('GET', '/api/destinations/abc')).status, 400)
})

test('destination lifecycle: create, enable refused until auth passes, paste token, enable, update, delete', async () => {
  const created = await s.api('POST', '/api/destinations', { name: 'TikTok legacy', mode: 'legacy', source: 'engage' })
  assert.equal(created.status, 201)
  const d = created.body
  assert.equal(d.mode, 'legacy')
  assert.equal(d.enabled, false)
  assert.equal(d.connected, false)
  assert.equal(d.status, 'active')
  assert.equal(d.normalization, 'recommended')
  assert.deepEqual(d.advertiserIds, [])
  assert.equal((await s.api('POST', '/api/destinations', { name: 'TikTok legacy', source: 'engage' })).status, 409)

  // No token: the reference message.
  const refused = await s.api('PATCH', `/api/destinations/${d.id}`, { enabled: true })
  assert.equal(refused.status, 409)
  assert.equal(refused.body.error, NO_TOKEN)
  assert.equal((await s.api('POST', `/api/destinations/${d.id}/test-auth`)).body.message, NO_TOKEN)
  assert.equal((await s.api('POST', '/api/destinations', { name: 'on at once', source: 'engage', enabled: true })).body.error, NO_TOKEN)

  // A token TikTok does not accept is refused with the reference message and not stored.
  const bad = await s.api('POST', `/api/destinations/${d.id}/token`, { accessToken: 'not-a-real-token' })
  assert.equal(bad.status, 400)
  assert.equal(bad.body.error, BAD_TOKEN)
  assert.equal((await s.api('GET', `/api/destinations/${d.id}`)).body.connected, false)

  // A good one: stored, advertisers listed with their names from TikTok, never echoed back.
  const pasted = await s.api('POST', `/api/destinations/${d.id}/token`, { accessToken: EMULATOR_TOKEN })
  assert.equal(pasted.status, 200, JSON.stringify(pasted.body))
  assert.equal(pasted.body.connected, true)
  assert.ok(
    pasted.body.advertiserIds.some((a: { id: string; name: string }) => a.id === ADV && a.name === 'Emulator Advertiser'),
    JSON.stringify(pasted.body.advertiserIds)
  )
  assert.equal((await s.api('POST', `/api/destinations/${d.id}/test-auth`)).body.ok, true)
  const shown = await s.api('GET', `/api/destinations/${d.id}`)
  assert.ok(!JSON.stringify(shown.body).includes(EMULATOR_TOKEN))
  assert.ok(!JSON.stringify((await s.api('GET', '/api/destinations')).body).includes(EMULATOR_TOKEN))

  const enabled = await s.api('PATCH', `/api/destinations/${d.id}`, {
    enabled: true,
    normalization: 'segment',
    defaultPhoneRegion: 'GB',
    batchSize: 500,
    autoConnectAudiences: true,
    name: 'TikTok legacy 2'
  })
  assert.equal(enabled.status, 200, JSON.stringify(enabled.body))
  assert.equal(enabled.body.enabled, true)
  assert.equal(enabled.body.normalization, 'segment')
  assert.equal(enabled.body.defaultPhoneRegion, 'GB')
  assert.equal(enabled.body.batchSize, 500)
  assert.equal(enabled.body.autoConnectAudiences, true)
  assert.equal(enabled.body.name, 'TikTok legacy 2')
  const badPatch = await s.api('PATCH', `/api/destinations/${d.id}`, { normalization: 'aggressive' })
  assert.equal(badPatch.status, 400)
  assert.equal(badPatch.body.field, 'normalization')

  // Legacy dropdowns: advertisers from /advertiser/info/ with the destination's token.
  const choices = await s.api('POST', `/api/destinations/${d.id}/actions/addUser/fields/selected_advertiser_id/choices`, {})
  assert.equal(choices.status, 200)
  assert.ok(choices.body.choices.some((c: { value: string; label: string }) => c.value === ADV && c.label === 'Emulator Advertiser'))
  const audiences = await s.api('POST', `/api/destinations/${d.id}/actions/addUser/fields/audience_id/choices`, {})
  assert.equal(audiences.body.error.code, 'FIELD_NOT_SELECTED')
  const none = await s.api('POST', `/api/destinations/${d.id}/actions/addUser/fields/nope/choices`, {})
  assert.deepEqual(none.body, { choices: [], nextPage: '', error: { message: 'No dynamic field named nope found.', code: '404' } })

  assert.equal((await s.api('DELETE', `/api/destinations/${d.id}`)).status, 204)
  assert.equal((await s.api('GET', `/api/destinations/${d.id}`)).status, 404)
})

test('enabling with a token TikTok has revoked is refused with the reference message', async () => {
  const minted = await s.emulator('POST', '/tokens', { advertiser_ids: [ADV] })
  const d = (await s.api('POST', '/api/destinations', { name: 'revoked', source: 'engage' })).body
  assert.equal((await s.api('POST', `/api/destinations/${d.id}/token`, { accessToken: minted.access_token })).status, 200)
  await s.emulator('POST', '/tokens/revoke', { access_token: minted.access_token })
  const refused = await s.api('PATCH', `/api/destinations/${d.id}`, { enabled: true })
  assert.equal(refused.status, 409)
  assert.equal(refused.body.error, BAD_TOKEN)
  assert.equal(refused.body.tiktok.code, 40105)
  assert.equal((await s.api('GET', `/api/destinations/${d.id}`)).body.enabled, false)
})

test('GET /api/actions: the six actions with their fields, and the presets', async () => {
  const r = await s.api('GET', '/api/actions')
  assert.equal(r.status, 200)
  assert.deepEqual(r.body.actions.map((a: { key: string }) => a.key).sort(), [
    'addToAudience',
    'addUser',
    'createAudience',
    'removeFromAudience',
    'removeUser',
    'syncAudience'
  ])
  const add = r.body.actions.find((a: { key: string }) => a.key === 'addToAudience')
  assert.equal(add.defaultTrigger, 'event = "Audience Entered"')
  const email = add.fields.find((f: { key: string }) => f.key === 'email')
  assert.equal(typeof email.label, 'string')
  assert.equal(typeof email.description, 'string')
  assert.ok('default' in email)
  assert.ok(add.fields.some((f: { hidden: boolean }) => f.hidden))
  const legacy = r.body.actions.find((a: { key: string }) => a.key === 'addUser')
  assert.ok(legacy.fields.some((f: { key: string; dynamic: boolean }) => f.key === 'audience_id' && f.dynamic))
  assert.ok(r.body.presets.some((p: { name: string; partnerAction: string }) => p.name === 'Audience Entered' && p.partnerAction === 'addToAudience'))
  const sample = await s.api('GET', '/api/actions/createAudience/sample-event')
  assert.equal(sample.body.event, 'Create Audience')
  assert.equal((await s.api('GET', '/api/actions/nope/sample-event')).status, 404)
})

test('mappings: defaults, disabled by default, validation names the field, update, delete, at most 50', async () => {
  const d = (await s.api('POST', '/api/destinations', { name: 'mapped', source: 'engage' })).body
  const created = await s.api('POST', `/api/destinations/${d.id}/mappings`, { action: 'addToAudience' })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  const m = created.body
  assert.equal(m.enabled, false)
  assert.equal(m.name, 'Add to Audience')
  assert.equal(m.trigger, 'event = "Audience Entered"')
  assert.deepEqual(m.mapping.external_audience_id, { '@path': '$.context.personas.external_audience_id' })
  assert.equal(m.mapping.send_email, true)

  const invalid: [unknown, string][] = [
    [{ action: 'addToTheAudience' }, 'action'],
    [{ action: 'addToAudience', trigger: 'event = = "x"' }, 'trigger'],
    [{ action: 'addToAudience', mapping: { emial: { '@path': '$.traits.email' } } }, 'emial'],
    [{ action: 'addToAudience', mapping: { email: { '@path': 42 } } }, 'email'],
    [{ action: 'addToAudience', enabled: 'yes' }, 'enabled'],
    [{ trigger: 'type = "track"' }, 'action']
  ]
  for (const [body, field] of invalid) {
    const r = await s.api('POST', `/api/destinations/${d.id}/mappings`, body)
    assert.equal(r.status, 400, JSON.stringify(body))
    assert.equal(r.body.field, field, JSON.stringify(r.body))
    assert.equal(typeof r.body.error, 'string')
  }

  const updated = await s.api('PATCH', `/api/mappings/${m.id}`, { name: 'Entered', enabled: true, trigger: 'event = "Joined"', mapping: { send_phone: false } })
  assert.equal(updated.status, 200, JSON.stringify(updated.body))
  assert.equal(updated.body.name, 'Entered')
  assert.equal(updated.body.enabled, true)
  assert.equal(updated.body.trigger, 'event = "Joined"')
  assert.equal(updated.body.mapping.send_phone, false)
  assert.equal(updated.body.mapping.send_email, true)
  const badUpdate = await s.api('PATCH', `/api/mappings/${m.id}`, { mapping: { audience: 1 } })
  assert.equal(badUpdate.status, 400)
  assert.equal(badUpdate.body.field, 'audience')
  assert.equal((await s.api('GET', `/api/mappings/${m.id}`)).body.name, 'Entered')
  assert.equal((await s.api('GET', '/api/mappings/99999')).status, 404)

  const second = await s.api('POST', `/api/destinations/${d.id}/mappings`, { action: 'removeFromAudience', enabled: true })
  assert.equal(second.body.enabled, true)
  assert.equal((await s.api('DELETE', `/api/mappings/${second.body.id}`)).status, 204)
  assert.equal((await s.api('DELETE', `/api/mappings/${second.body.id}`)).status, 404)

  for (let i = 1; i < 50; i++) {
    const r = await s.api('POST', `/api/destinations/${d.id}/mappings`, { action: 'addToAudience' })
    assert.equal(r.status, 201, `mapping ${i + 1}: ${JSON.stringify(r.body)}`)
  }
  const list = await s.api('GET', `/api/destinations/${d.id}/mappings`)
  assert.equal(list.body.length, 50)
  assert.equal(new Set(list.body.map((x: { name: string }) => x.name)).size, 50)
  const over = await s.api('POST', `/api/destinations/${d.id}/mappings`, { action: 'addToAudience' })
  assert.equal(over.status, 400)
  assert.equal(over.body.error, 'A destination can have at most 50 mappings')
})
