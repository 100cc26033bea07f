/** Audience connections (native create with truncation, ownership checks), health, and Test Mapping for real against the emulator. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { sampleEvent } from '../../src/destination/index.js'
import { sha256 } from '../helpers/events.js'
import { ADV, ADV2, EMULATOR_TOKEN, startTestService, type TestService } from './admin-service.js'

let s: TestService
let native: { id: number }
let legacy: { id: number }

interface EmuAudience {
  audience_id: string
  name: string
  advertiser_id: string
  total: number
}
const emuAudiences = async (): Promise<EmuAudience[]> => (await s.emulator<{ audiences: EmuAudience[] }>('GET', '/audiences')).audiences

before(async () => {
  s = await startTestService()
  native = (await s.api('POST', '/api/destinations', { name: 'native', source: 'engage' })).body
  legacy = (await s.api('POST', '/api/destinations', { name: 'legacy', mode: 'legacy', source: 'engage' })).body
  for (const d of [native, legacy]) assert.equal((await s.api('POST', `/api/destinations/${d.id}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
})
after(async () => s.close())

test('connecting to a native destination creates the TikTok audience, names over 70 characters cut to 67 + "..."', async () => {
  const long = 'Shoppers who bought twice in the last thirty days and opened the app yesterday'
  assert.ok(long.length > 70)
  const r = await s.api('PUT', `/api/destinations/${native.id}/audiences/repeat_buyers`, { name: long, advertiserId: ADV })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  assert.equal(r.body.created, true)
  assert.equal(r.body.sendTrack, true)
  assert.equal(r.body.sendIdentify, false)
  assert.equal(r.body.enterEvent, 'Audience Entered')
  assert.equal(r.body.exitEvent, 'Audience Exited')
  assert.match(r.body.externalAudienceId, /^\d+$/)
  const inTikTok = (await emuAudiences()).find((a) => a.audience_id === r.body.externalAudienceId)
  assert.ok(inTikTok)
  assert.equal(inTikTok.name, `${long.slice(0, 67)}...`)
  assert.equal(inTikTok.advertiser_id, ADV)

  // Updating the side-panel settings keeps the audience (no second creation).
  const before = (await emuAudiences()).length
  const upd = await s.api('PUT', `/api/destinations/${native.id}/audiences/repeat_buyers`, { sendIdentify: true, enterEvent: 'Joined' })
  assert.equal(upd.status, 200)
  assert.equal(upd.body.created, false)
  assert.equal(upd.body.externalAudienceId, r.body.externalAudienceId)
  assert.equal(upd.body.sendIdentify, true)
  assert.equal(upd.body.enterEvent, 'Joined')
  assert.equal((await emuAudiences()).length, before)

  const listed = await s.api('GET', '/api/audiences')
  const entry = listed.body.find((a: { key: string }) => a.key === 'repeat_buyers')
  assert.equal(entry.destinations[0].destinationId, native.id)
  assert.equal(entry.destinations[0].externalAudienceId, r.body.externalAudienceId)
})

test('an existing audience id is verified; a wrong one gets the reference message; advertiser must be authorised', async () => {
  const existing = (await s.api('PUT', `/api/destinations/${native.id}/audiences/source_aud`, { advertiserId: ADV })).body.externalAudienceId
  const ok = await s.api('PUT', `/api/destinations/${native.id}/audiences/reuse`, { advertiserId: ADV, externalAudienceId: existing })
  assert.equal(ok.status, 201, JSON.stringify(ok.body))
  assert.equal(ok.body.created, false)
  assert.equal(ok.body.externalAudienceId, existing)

  const wrong = await s.api('PUT', `/api/destinations/${native.id}/audiences/wrong`, { advertiserId: ADV, externalAudienceId: '1234567890123' })
  assert.equal(wrong.status, 400)
  assert.equal(wrong.body.error, 'Unable to verify ownership over audience. Audience ID not found.')
  assert.equal(wrong.body.field, 'externalAudienceId')
  assert.equal((await s.api('GET', `/api/destinations/${native.id}/audiences/wrong`)).status, 404)

  const foreign = await s.api('PUT', `/api/destinations/${native.id}/audiences/x`, { advertiserId: '7999999999999999999' })
  assert.equal(foreign.status, 400)
  assert.equal(foreign.body.field, 'advertiserId')
  const badType = await s.api('PUT', `/api/destinations/${native.id}/audiences/x`, { sendTrack: 'yes' })
  assert.equal(badType.status, 400)
  assert.equal(badType.body.field, 'sendTrack')

  assert.equal((await s.api('DELETE', `/api/destinations/${native.id}/audiences/reuse`)).status, 204)
  assert.equal((await s.api('DELETE', `/api/destinations/${native.id}/audiences/reuse`)).status, 404)
})

test('audience health: cover_num, validity, expiry and the fewer-than-1,000 warning', async () => {
  const h = await s.api('GET', `/api/destinations/${native.id}/audiences/repeat_buyers/health`)
  assert.equal(h.status, 200, JSON.stringify(h.body))
  assert.equal(h.body.cover_num, 0)
  assert.equal(h.body.is_valid, false)
  assert.equal(typeof h.body.is_expiring, 'boolean')
  assert.ok(h.body.warnings.some((w: string) => w.includes('Fewer than 1,000 matched users')))
  assert.equal((await s.api('GET', `/api/destinations/${native.id}/audiences/nope/health`)).status, 404)
})

test('Test Mapping addToAudience sends for real: request shown, TikTok code 0, the member is in the audience', async () => {
  const conn = (await s.api('PUT', `/api/destinations/${native.id}/audiences/first_time_shopper`, { name: 'Test Mapping audience', advertiserId: ADV })).body
  const event = sampleEvent('addToAudience')
  const r = await s.api('POST', `/api/destinations/${native.id}/mappings/test`, { action: 'addToAudience', event })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.equal(r.body.matched, true)
  // The connection's id replaces the one the sample carries, as the router stamps it.
  assert.equal(r.body.payload.external_audience_id, conn.externalAudienceId)
  assert.equal(r.body.change.kind, 'membership')
  assert.equal(r.body.request.method, 'POST')
  assert.match(r.body.request.url, /\/segment\/mapping\/$/)
  assert.deepEqual(r.body.request.body.advertiser_ids, [ADV])
  assert.equal(r.body.response.httpStatus, 200)
  assert.equal(r.body.response.body.code, 0)
  const members = await s.emulator<{ members: Record<string, string[]> }>('GET', `/audiences/${conn.externalAudienceId}/members`)
  // Segment's email normalisation drops the dots of the local part.
  assert.equal(r.body.request.body.batch_data[0][0].id, sha256('janedoe@example.com'))
  assert.deepEqual(members.members.EMAIL_SHA256, [sha256('janedoe@example.com')])

  // A saved mapping is tested through its id; a non-matching event sends nothing.
  const m = (await s.api('POST', `/api/destinations/${native.id}/mappings`, { action: 'removeFromAudience' })).body
  const miss = await s.api('POST', `/api/mappings/${m.id}/test`, { event })
  assert.equal(miss.body.matched, false)
  assert.equal(miss.body.request, null)
  assert.equal(miss.body.error.code, 'TRIGGER_NOT_MATCHED')

  // TikTok errors are the response, not a failure of the API.
  await s.emulator('POST', '/faults', { rules: [{ path: '/segment/mapping/', code: 40002, message: 'injected', count: 1 }] })
  const failed = await s.api('POST', `/api/destinations/${native.id}/mappings/test`, { action: 'addToAudience', event })
  assert.equal(failed.status, 200)
  assert.equal(failed.body.response.body.code, 40002)
  assert.equal(failed.body.error.code, '40002')

  const invalid = await s.api('POST', `/api/destinations/${native.id}/mappings/test`, { action: 'addToAudience', mapping: { nope: 1 }, event })
  assert.equal(invalid.status, 400)
  assert.equal(invalid.body.field, 'nope')
  assert.equal((await s.api('POST', `/api/destinations/${native.id}/mappings/test`, { action: 'addToAudience' })).body.field, 'event')
})

test('Test Mapping createAudience creates the audience and returns its id; a second run warns about the duplicate name', async () => {
  const body = {
    action: 'createAudience',
    mapping: { selected_advertiser_id: ADV2, custom_audience_name: { '@path': '$.properties.audience_name' } },
    event: { ...sampleEvent('createAudience'), properties: { audience_name: 'Legacy VIPs' } }
  }
  const first = await s.api('POST', `/api/destinations/${legacy.id}/mappings/test`, body)
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.match(first.body.audience_id, /^\d+$/)
  assert.equal(first.body.response.body.code, 0)
  assert.equal(first.body.response.body.data.audience_id, first.body.audience_id)
  assert.deepEqual(first.body.request.body, { custom_audience_name: 'Legacy VIPs', advertiser_id: ADV2, action: 'create' })
  assert.ok((await emuAudiences()).some((a) => a.audience_id === first.body.audience_id && a.name === 'Legacy VIPs'))

  const second = await s.api('POST', `/api/destinations/${legacy.id}/mappings/test`, body)
  assert.deepEqual(second.body.duplicateOf, { audience_id: first.body.audience_id, name: 'Legacy VIPs' })
  assert.match(second.body.warning, /already has an audience named "Legacy VIPs"/)
  assert.equal(second.body.request, null)
  assert.equal((await emuAudiences()).filter((a) => a.name === 'Legacy VIPs').length, 1)

  const third = await s.api('POST', `/api/destinations/${legacy.id}/mappings/test`, { ...body, allowDuplicate: true })
  assert.match(third.body.audience_id, /^\d+$/)
  assert.notEqual(third.body.audience_id, first.body.audience_id)
  assert.equal((await emuAudiences()).filter((a) => a.name === 'Legacy VIPs').length, 2)
})
