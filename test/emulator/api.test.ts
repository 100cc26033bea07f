import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { ADV1, ADV2, EmulatorClient, TOKEN } from './helpers.js'

const START = Date.UTC(2024, 4, 1, 12, 30, 44) // 2024-05-01 12:30:44 UTC
const DAY = 24 * 60 * 60 * 1000
let clock = START
let em: EmulatorClient

before(async () => {
  // Limits are off here; they are tested in control.test.ts.
  em = await EmulatorClient.start({ now: () => clock, qps: 0, otherQps: 0 })
})
after(() => em.close())
beforeEach(() => {
  clock = START
  em.state.reset()
  em.state.setConfig({ qps: 0, otherQps: 0 })
})

test('every answer is an HTTP 200 envelope with a timestamped request_id', async () => {
  const { status, json } = await em.api('GET', '/user/info/')
  assert.equal(status, 200)
  assert.deepEqual(Object.keys(json).sort(), ['code', 'data', 'message', 'request_id'])
  assert.equal(json.code, 0)
  assert.equal(json.message, 'OK')
  assert.match(json.request_id, /^20240501123044[0-9A-F]{16}$/)
  const second = await em.api('GET', '/user/info/')
  assert.notEqual(second.json.request_id, json.request_id)
})

test('auth: missing token is 40104, unknown is 40105, ungranted advertiser is 40001 — in that order', async () => {
  const missing = await em.api('GET', '/dmp/custom_audience/list/', { token: null, query: {} })
  assert.equal(missing.status, 200)
  assert.equal(missing.json.code, 40104)
  assert.match(missing.json.message, /Access token is empty/)

  const wrong = await em.api('GET', '/dmp/custom_audience/list/', { token: 'nope', query: {} })
  assert.equal(wrong.json.code, 40105)
  assert.equal(wrong.json.message, 'Access token is incorrect or has been revoked.')

  const token = await em.control('POST', '/tokens', { advertiser_ids: [ADV1] })
  assert.equal(token.status, 200)
  const denied = await em.api('GET', '/dmp/custom_audience/list/', { token: token.json.access_token, query: { advertiser_id: ADV2 } })
  assert.equal(denied.json.code, 40001)
  assert.equal(denied.json.message, 'advertiser does not grant you /dmp/custom_audience/list/:GET permission')

  const allowed = await em.api('GET', '/dmp/custom_audience/list/', { token: token.json.access_token, query: { advertiser_id: ADV1 } })
  assert.equal(allowed.json.code, 0)
})

test('the token is also accepted as the access_token query parameter', async () => {
  const { json } = await em.api('GET', '/user/info/', { token: null, query: { access_token: TOKEN } })
  assert.equal(json.code, 0)
})

test('user/info returns the user with a masked email', async () => {
  const { json } = await em.api('GET', '/user/info/')
  assert.equal(json.data.display_name, 'Emulator User')
  assert.match(json.data.email, /\*\*\*/)
  assert.equal(typeof json.data.core_user_id, 'string')
  assert.equal(typeof json.data.create_time, 'number')
})

test('advertiser/info takes a JSON array of ids and checks grants', async () => {
  const { json } = await em.api('GET', '/advertiser/info/', { query: { advertiser_ids: JSON.stringify([ADV1, ADV2]) } })
  assert.equal(json.code, 0)
  assert.deepEqual(
    json.data.list.map((a: any) => [a.advertiser_id, a.name, a.status, a.currency]),
    [
      [ADV1, 'Emulator Advertiser', 'STATUS_ENABLE', 'USD'],
      [ADV2, 'Emulator Advertiser 2', 'STATUS_ENABLE', 'USD']
    ]
  )
  for (const field of ['timezone', 'country', 'company']) assert.ok(json.data.list[0][field], field)

  const malformed = await em.api('GET', '/advertiser/info/', { query: { advertiser_ids: `[${ADV1}` } })
  assert.equal(malformed.json.code, 40002)
  assert.match(malformed.json.message, /advertiser_ids/)

  const absent = await em.api('GET', '/advertiser/info/')
  assert.equal(absent.json.code, 40002)

  const foreign = await em.api('GET', '/advertiser/info/', { query: { advertiser_ids: JSON.stringify(['123']) } })
  assert.equal(foreign.json.code, 40001)
})

test('oauth2/advertiser/get lists the advertisers that authorised the app', async () => {
  const { json } = await em.api('GET', '/oauth2/advertiser/get/', { query: { app_id: 'emulator-app', secret: 'emulator-secret' } })
  assert.equal(json.code, 0)
  assert.deepEqual(json.data.list, [
    { advertiser_id: ADV1, advertiser_name: 'Emulator Advertiser' },
    { advertiser_id: ADV2, advertiser_name: 'Emulator Advertiser 2' }
  ])
  const bad = await em.api('GET', '/oauth2/advertiser/get/', { query: { app_id: 'emulator-app', secret: 'wrong' } })
  assert.equal(bad.json.code, 40101)
})

test('segment/audience create returns a 19-digit id; names over 70 chars become 67 + "..."', async () => {
  const long = 'N'.repeat(50) + 'abcdefghijklmnopqrstuvwxyz0123'
  const { json } = await em.api('POST', '/segment/audience/', {
    body: { advertiser_id: ADV1, action: 'create', custom_audience_name: long, id_type: 'EMAIL_SHA256' }
  })
  assert.equal(json.code, 0)
  assert.match(json.data.audience_id, /^\d{19}$/)
  const stored = em.state.audiences.get(json.data.audience_id)
  assert.equal(stored?.name, long.slice(0, 67) + '...')
  assert.equal(stored?.name.length, 70)

  const exactly70 = 'x'.repeat(70)
  const id70 = await em.createAudience(exactly70)
  assert.equal(em.state.audiences.get(id70)?.name, exactly70)
})

test('segment/audience: duplicate names make distinct audiences; action defaults to create', async () => {
  const a = await em.createAudience('Same name')
  const { json } = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, custom_audience_name: 'Same name' } })
  assert.equal(json.code, 0)
  assert.notEqual(json.data.audience_id, a)
  const list = await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1 } })
  assert.equal(list.json.data.list.filter((x: any) => x.name === 'Same name').length, 2)
})

test('segment/audience: missing name, bad action and unknown delete id are 40002; delete works', async () => {
  const noName = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, action: 'create' } })
  assert.equal(noName.json.code, 40002)
  assert.match(noName.json.message, /custom_audience_name/)

  const badAction = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, action: 'rename', custom_audience_name: 'x' } })
  assert.equal(badAction.json.code, 40002)

  const noAdvertiser = await em.api('POST', '/segment/audience/', { body: { custom_audience_name: 'x' } })
  assert.equal(noAdvertiser.json.code, 40002)
  assert.match(noAdvertiser.json.message, /advertiser_id/)

  const notGranted = await em.api('POST', '/segment/audience/', { body: { advertiser_id: '42', custom_audience_name: 'x' } })
  assert.equal(notGranted.json.code, 40001)
  assert.equal(notGranted.json.message, 'advertiser does not grant you /segment/audience/:POST permission')

  const id = await em.createAudience('to delete')
  const unknown = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, action: 'delete', delete_audience_id: '1234567890123456789' } })
  assert.equal(unknown.json.code, 40002)
  const wrongOwner = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV2, action: 'delete', delete_audience_id: id } })
  assert.equal(wrongOwner.json.code, 40002)

  const deleted = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, action: 'delete', delete_audience_id: id } })
  assert.equal(deleted.json.code, 0)
  assert.equal(em.state.audiences.has(id), false)
})

test('segment/audience: an advertiser holds at most 400 audiences', async () => {
  for (let i = 0; i < 399; i++) em.state.createAudience(ADV1, `a${i}`)
  await em.createAudience('number 400')
  const { json } = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, custom_audience_name: 'one too many' } })
  assert.notEqual(json.code, 0)
  assert.match(json.message, /400/)
  // Another advertiser is unaffected.
  await em.createAudience('elsewhere', ADV2)
})

test('dmp/custom_audience/list pages with page_size up to 100', async () => {
  for (let i = 0; i < 105; i++) em.state.createAudience(ADV1, `aud ${i}`)
  em.state.createAudience(ADV2, 'other advertiser')

  const first = await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1, page: '1', page_size: '100' } })
  assert.equal(first.json.code, 0)
  assert.deepEqual(first.json.data.page_info, { page: 1, page_size: 100, total_number: 105, total_page: 2 })
  assert.equal(first.json.data.list.length, 100)
  const second = await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1, page: '2', page_size: '100' } })
  assert.equal(second.json.data.list.length, 5)
  const ids = new Set([...first.json.data.list, ...second.json.data.list].map((a: any) => a.audience_id))
  assert.equal(ids.size, 105)

  const byDefault = await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1 } })
  assert.equal(byDefault.json.data.page_info.page_size, 10)
  assert.equal(byDefault.json.data.list.length, 10)

  const item = first.json.data.list[0]
  assert.deepEqual(Object.keys(item).sort(), [
    'audience_id',
    'audience_type',
    'calculate_type',
    'cover_num',
    'create_time',
    'expired_time',
    'is_creator',
    'is_expiring',
    'is_valid',
    'name',
    'shared'
  ])
  assert.equal(item.audience_type, 'Partner')
  assert.equal(item.create_time, '2024-05-01 12:30:44')
  assert.equal(item.expired_time, '2025-05-01 12:30:44')
  assert.equal(item.cover_num, 0)
  assert.equal(item.is_valid, false)

  const tooBig = await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1, page_size: '101' } })
  assert.equal(tooBig.json.code, 40002)
  assert.match(tooBig.json.message, /page_size/)
})

test('dmp/custom_audience/get answers with and without the trailing slash', async () => {
  const id = await em.createAudience('Get me')
  for (const path of ['/dmp/custom_audience/get/', '/dmp/custom_audience/get']) {
    const { json } = await em.api('GET', path, { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([id]) } })
    assert.equal(json.code, 0, path)
    const [entry] = json.data.list
    assert.equal(entry.audience_details.audience_id, id)
    assert.equal(entry.audience_details.name, 'Get me')
    assert.equal(entry.audience_details.type, 'Partner')
    assert.equal(entry.audience_details.cover_num, 0)
    assert.equal(entry.audience_details.is_valid, false)
    assert.equal(entry.audience_details.is_expiring, false)
    assert.equal(entry.audience_details.create_time, '2024-05-01 12:30:44')
    assert.equal(entry.audience_details.expired_time, '2025-05-01 12:30:44')
    assert.equal(entry.audience_history[0].action, 'create')
  }
})

test('dmp/custom_audience/get: unknown or foreign audience ids are 40002', async () => {
  const mine = await em.createAudience('mine', ADV1)
  const theirs = await em.createAudience('theirs', ADV2)
  const unknown = await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: '["1"]' } })
  assert.equal(unknown.json.code, 40002)
  assert.match(unknown.json.message, /audience 1 does not exist/)
  const foreign = await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([mine, theirs]) } })
  assert.equal(foreign.json.code, 40002)
  assert.match(foreign.json.message, new RegExp(theirs))
  const missing = await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1 } })
  assert.equal(missing.json.code, 40002)
})

test('is_valid follows the configurable threshold and is_expiring the clock', async () => {
  const id = await em.createAudience('validity')
  const audience = em.state.audiences.get(id)!
  for (let i = 0; i < 3; i++) audience.members.EMAIL_SHA256.add(String(i).padStart(64, '0'))
  const get = async () =>
    (await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([id]) } })).json.data.list[0]
      .audience_details

  assert.equal((await get()).is_valid, false)
  const config = await em.control('POST', '/config', { validThreshold: 3 })
  assert.equal(config.json.validThreshold, 3)
  const details = await get()
  assert.equal(details.cover_num, 3)
  assert.equal(details.is_valid, true)

  clock = START + 304 * DAY
  assert.equal((await get()).is_expiring, false)
  clock = START + 306 * DAY
  assert.equal((await get()).is_expiring, true)
  clock = START + 366 * DAY
  assert.equal((await get()).is_valid, false, 'expired audiences are not valid')
})

test('unknown TikTok paths are 404 and POST bodies must be JSON objects', async () => {
  const res = await fetch(`${em.emulator.apiUrl}/v1.3/nope/`)
  assert.equal(res.status, 404)
  const arrayBody = await em.api('POST', '/segment/audience/', { body: [1, 2] })
  assert.equal(arrayBody.json.code, 40002)
  const broken = await fetch(`${em.emulator.apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'Access-Token': TOKEN, 'content-type': 'application/json' },
    body: '{"advertiser_id":'
  })
  assert.equal(broken.status, 200)
  const json: any = await broken.json()
  assert.equal(json.code, 40002)
  assert.match(json.message, /JSON/)
})
