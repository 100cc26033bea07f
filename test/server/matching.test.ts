/**
 * Issue 16 item 6 over real HTTP, into the emulator: under `recommended` an Android event's
 * advertising id lands as AAID_SHA256 and an iOS one as IDFA_SHA256, every email and phone of a
 * person with several becomes a member (and leaves again on exit), and `/metrics` counts the
 * choices (`aaid`, `multiple`); a `segment` destination fed the same events sends what Segment does.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { IdType } from '../../src/emulator/model.js'
import { sha256 } from '../helpers/events.js'
import { ADV, EMULATOR_TOKEN, startTestService, until, type TestService } from './admin-service.js'

let s: TestService
const dest: Record<'recommended' | 'segment', { id: number; audienceId: string }> = {} as never

const GAID = '38400000-8cf0-11bd-b23e-10b96e40000d'
const IDFA = '6D92078A-8246-4BA4-AE5B-76104861E7DC'

before(async () => {
  s = await startTestService()
  for (const normalization of ['recommended', 'segment'] as const) {
    const created = await s.api('POST', '/api/destinations', { name: `matching ${normalization}`, source: 'engage', normalization })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const id = created.body.id
    for (const action of ['addToAudience', 'removeFromAudience']) {
      assert.equal((await s.api('POST', `/api/destinations/${id}/mappings`, { action, enabled: true })).status, 201)
    }
    assert.equal((await s.api('POST', `/api/destinations/${id}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
    assert.equal((await s.api('PATCH', `/api/destinations/${id}`, { enabled: true })).status, 200)
    const conn = await s.api('PUT', `/api/destinations/${id}/audiences/vip`, { name: `VIP ${normalization}`, advertiserId: ADV })
    assert.equal(conn.status, 201, JSON.stringify(conn.body))
    dest[normalization] = { id, audienceId: conn.body.externalAudienceId }
  }
})
after(async () => s.close())

function event(userId: string, member: boolean, traits: Record<string, unknown>, context: Record<string, unknown> = {}) {
  return {
    type: 'track',
    event: member ? 'Audience Entered' : 'Audience Exited',
    userId,
    messageId: `matching_${userId}_${member ? 'in' : 'out'}`,
    timestamp: '2026-11-25T10:00:00.000Z',
    properties: { audience_key: 'vip', vip: member },
    context: { traits, personas: { computation_class: 'audience', computation_key: 'vip', computation_id: 'aud_vip', space_id: 'spa_test' }, ...context }
  }
}

const members = async (d: keyof typeof dest) =>
  (await s.emulator<{ members: Record<IdType, string[]> }>('GET', `/audiences/${dest[d].audienceId}/members`)).members
const delivery = async (d: keyof typeof dest) => {
  const now = Date.now()
  const r = await s.api('GET', `/api/destinations/${dest[d].id}/delivery?bucket=1m&from=${now - 3_540_000}&to=${now + 60_000}`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body
}
const metric = (d: keyof typeof dest, kind: string, status: string, n: number) =>
  new RegExp(`^tiktok_audiences_identifiers_total\\{destination="${dest[d].id}",kind="${kind}",status="${status}"\\} ${n}$`, 'm')

const multi = {
  email: ['three@example.com', 'alt3@example.org'],
  phone: ['+14155550103', '+14155550113']
}

test('recommended: Android → AAID_SHA256, iOS → IDFA_SHA256, several emails and phones each a member; segment unchanged', async () => {
  await s.send([
    event('u1', true, { email: 'one@example.com' }, { device: { type: 'android', advertisingId: GAID }, os: { name: 'Android' } }),
    event('u2', true, { email: 'two@example.com' }, { device: { type: 'ios', advertisingId: IDFA }, os: { name: 'iOS' } }),
    event('u3', true, multi)
  ])
  const rec = await until('the recommended members', async () => {
    const m = await members('recommended')
    return m.EMAIL_SHA256.length === 4 && m.PHONE_SHA256.length === 2 && m.AAID_SHA256.length === 1 ? m : undefined
  })
  assert.deepEqual(rec.AAID_SHA256, [sha256(GAID)])
  assert.deepEqual(rec.IDFA_SHA256, [sha256(IDFA)])
  assert.deepEqual(rec.EMAIL_SHA256, ['one@example.com', 'two@example.com', 'three@example.com', 'alt3@example.org'].map(sha256).sort())
  assert.deepEqual(rec.PHONE_SHA256, multi.phone.map(sha256).sort())

  // segment: every mobile id is IDFA_SHA256, and an array where Segment takes a string fails as in Segment.
  const seg = await until('the segment members', async () => {
    const m = await members('segment')
    return m.IDFA_SHA256.length === 2 ? m : undefined
  })
  assert.deepEqual(seg.AAID_SHA256, [])
  assert.deepEqual(seg.IDFA_SHA256, [sha256(GAID), sha256(IDFA)].sort())
  assert.deepEqual(seg.EMAIL_SHA256, ['one@example.com', 'two@example.com'].map(sha256).sort())
  assert.deepEqual(seg.PHONE_SHA256, [])
  const segDelivery = await until('the segment failure', async () => {
    const r = await delivery('segment')
    return r.totals.failed >= 1 ? r : undefined
  })
  assert.equal(segDelivery.totals.failed, 1)
  assert.match(JSON.stringify(segDelivery.errors), /The value at \/email must be a string but it was an array/)
  assert.equal((await delivery('recommended')).totals.failed, 0)

  const text = await (await fetch(`${s.url}/metrics`)).text()
  assert.match(text, metric('recommended', 'advertising_id', 'aaid', 1))
  assert.match(text, metric('recommended', 'advertising_id', 'hashed', 2), 'the Android id is also counted by its status')
  assert.match(text, metric('recommended', 'email', 'multiple', 1))
  assert.match(text, metric('recommended', 'phone', 'multiple', 1))
  assert.doesNotMatch(text, new RegExp(`identifiers_total\\{destination="${dest.segment.id}",[^}]*status="(aaid|multiple)"`))
})

test('recommended: the exit of a person with several emails and phones removes every one of them', async () => {
  await s.send([event('u3', false, multi)])
  const m = await until('u3 removed', async () => {
    const m = await members('recommended')
    return m.PHONE_SHA256.length === 0 ? m : undefined
  })
  assert.deepEqual(m.EMAIL_SHA256, ['one@example.com', 'two@example.com'].map(sha256).sort())
  const text = await (await fetch(`${s.url}/metrics`)).text()
  assert.match(text, metric('recommended', 'email', 'multiple', 2))
})

test('Test Mapping sends what delivery would: an Android person with two emails as two rows under AAID_SHA256', async () => {
  const e = event('u9', true, { email: ['nine@example.com', 'nine@example.org'] }, { device: { type: 'android', advertisingId: 'gaid-9' } })
  const r = await s.api('POST', `/api/destinations/${dest.recommended.id}/mappings/test`, { action: 'addToAudience', event: e })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  assert.equal(r.body.error, undefined, JSON.stringify(r.body.error))
  assert.deepEqual(r.body.request.body.id_schema, ['EMAIL_SHA256', 'PHONE_SHA256', 'AAID_SHA256'])
  assert.deepEqual(
    r.body.request.body.batch_data.map((row: { id?: string }[]) => row.map((c) => c.id ?? null)),
    [
      [sha256('nine@example.com'), null, sha256('gaid-9')],
      [sha256('nine@example.org'), null, null]
    ]
  )
  assert.equal(r.body.response.body.code, 0)
  const seg = await s.api('POST', `/api/destinations/${dest.segment.id}/mappings/test`, { action: 'addToAudience', event: e })
  assert.equal(seg.body.error.code, 'PAYLOAD_VALIDATION_FAILED')
  assert.equal(seg.body.request, null, 'nothing sent')
})
