/**
 * Issue 20 item 4 and issue 21 item 6 over real HTTP: a new destination's phone region is US (a
 * value, not a placeholder); every identifier a mapping dropped is counted per identifier and reason
 * in Event Delivery and `/metrics`, also when the event was delivered with its other identifiers;
 * a failed event's kept sample shows no raw email or phone wherever they were in the event.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { IdType } from '../../src/emulator/model.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { ADV, EMULATOR_TOKEN, startTestService, until, type TestService } from './admin-service.js'

let s: TestService
let dest: { id: number; defaultPhoneRegion: string | null }
let audienceId: string

before(async () => {
  s = await startTestService()
  const created = await s.api('POST', '/api/destinations', { name: 'drops', source: 'engage' })
  assert.equal(created.status, 201, JSON.stringify(created.body))
  dest = created.body
  for (const action of ['addToAudience', 'removeFromAudience']) {
    assert.equal((await s.api('POST', `/api/destinations/${dest.id}/mappings`, { action, enabled: true })).status, 201)
  }
  assert.equal((await s.api('POST', `/api/destinations/${dest.id}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
  assert.equal((await s.api('PATCH', `/api/destinations/${dest.id}`, { enabled: true })).status, 200)
  const conn = await s.api('PUT', `/api/destinations/${dest.id}/audiences/vip`, { name: 'VIP', advertiserId: ADV })
  assert.equal(conn.status, 201, JSON.stringify(conn.body))
  audienceId = conn.body.externalAudienceId
})
after(async () => s.close())

const delivery = async () => {
  const now = Date.now()
  const r = await s.api('GET', `/api/destinations/${dest.id}/delivery?bucket=1m&from=${now - 3_540_000}&to=${now + 60_000}`)
  assert.equal(r.status, 200, JSON.stringify(r.body))
  return r.body
}
const members = async () => (await s.emulator<{ members: Record<IdType, string[]> }>('GET', `/audiences/${audienceId}/members`)).members
const metrics = async () => (await fetch(`${s.url}/metrics`)).text()

test('a new destination gets the US phone region as a value; null still chooses none explicitly', async () => {
  assert.equal(dest.defaultPhoneRegion, 'US')
  const other = await s.api('POST', '/api/destinations', { name: 'no region', source: 'engage', defaultPhoneRegion: null })
  assert.equal(other.status, 201)
  assert.equal(other.body.defaultPhoneRegion, null)
  const gb = await s.api('POST', '/api/destinations', { name: 'gb region', source: 'engage', defaultPhoneRegion: 'GB' })
  assert.equal(gb.body.defaultPhoneRegion, 'GB')
  for (const d of [other.body, gb.body]) assert.equal((await s.api('DELETE', `/api/destinations/${d.id}`)).status, 204)
})

test('dropped identifiers are counted per identifier and reason, also when the event was delivered with its other ids', async () => {
  await s.send([
    // Delivered by email; the phone is dropped (not a possible number).
    audienceEvent({ userId: 'u1', email: 'one@example.com', phone: '12' }, 'vip', true),
    // Delivered by phone (US region); the email is dropped (invalid UTF-8 arrived as U+FFFD).
    audienceEvent({ userId: 'u2', email: 'tw\ufffdo@example.com', phone: '(415) 555-0102' }, 'vip', true),
    // Delivered by email; the phone is whitespace only.
    audienceEvent({ userId: 'u3', email: 'three@example.com', phone: '   ' }, 'vip', true),
    // Nothing usable: fails at routing, both identifiers counted.
    audienceEvent({ userId: 'u4', email: 'fo\u0000ur@example.com', phone: '99' }, 'vip', true)
  ])
  const report = await until('the drops in Event Delivery', async () => {
    const r = await delivery()
    return r.totals.delivered >= 3 && r.totals.failed >= 1 ? r : undefined
  })
  const byKey = Object.fromEntries(
    report.identifiersDropped.map((d: { identifier: string; reason: string; count: number }) => [`${d.identifier} ${d.reason}`, d.count])
  )
  assert.deepEqual(byKey, { 'phone invalid': 2, 'email invalid_utf8': 1, 'phone empty': 1, 'email control_character': 1 })
  const m = await members()
  assert.deepEqual(m.EMAIL_SHA256.sort(), [sha256('one@example.com'), sha256('three@example.com')].sort())
  assert.deepEqual(m.PHONE_SHA256, [sha256('+14155550102')])

  const text = await metrics()
  const line = (identifier: string, reason: string, n: number) =>
    new RegExp(`^tiktok_audiences_identifiers_dropped_total\\{destination="${dest.id}",identifier="${identifier}",reason="${reason}"\\} ${n}$`, 'm')
  assert.match(text, line('phone', 'invalid', 2))
  assert.match(text, line('email', 'invalid_utf8', 1))
  assert.match(text, line('phone', 'empty', 1))
  assert.match(text, line('email', 'control_character', 1))

  // A re-sent messageId is not routed again, so nothing is counted twice.
  await s.send([audienceEvent({ userId: 'u1', email: 'one@example.com', phone: '12' }, 'vip', true)])
  await s.send([audienceEvent({ userId: 'u5', email: 'five@example.com' }, 'vip', true)])
  await until('the next event delivered', async () => (await members()).EMAIL_SHA256.length === 3)
  const again = await delivery()
  assert.equal(again.identifiersDropped.find((d: { identifier: string; reason: string }) => d.identifier === 'phone' && d.reason === 'invalid').count, 2)
  assert.match(await metrics(), line('phone', 'invalid', 2))
})

test('a national number without a region is counted as national_without_region', async () => {
  assert.equal((await s.api('PATCH', `/api/destinations/${dest.id}`, { defaultPhoneRegion: null })).status, 200)
  await s.send([audienceEvent({ userId: 'u6', email: 'six@example.com', phone: '(415) 555-0106' }, 'vip', true)])
  const report = await until('the drop counted', async () => {
    const r = await delivery()
    return r.identifiersDropped.some((d: { reason: string }) => d.reason === 'national_without_region') ? r : undefined
  })
  assert.equal(report.identifiersDropped.find((d: { reason: string }) => d.reason === 'national_without_region').count, 1)
  assert.match(await metrics(), new RegExp(`identifiers_dropped_total\\{destination="${dest.id}",identifier="phone",reason="national_without_region"\\} 1`))
  await s.api('PATCH', `/api/destinations/${dest.id}`, { defaultPhoneRegion: 'US' })
})

test("a failed event's kept sample has no raw email or phone, wherever they were", async () => {
  const event = audienceEvent({ userId: 'first.last@example.com', email: 'not-an-email', phone: '12' }, 'vip', true) as any
  event.anonymousId = '+14155550199'
  event.properties.note = 'call (415) 555-0198 or write to other.person@example.org'
  await s.send([event])
  const error = await until('the failure with its sample', async () => {
    const r = await delivery()
    return r.errors.find((e: { sample: { received: any } }) => e.sample.received?.userId?.includes('example.com'))
  })
  const received = JSON.stringify(error.sample.received)
  for (const raw of ['first.last', '4155550199', '555-0198', 'other.person']) assert.ok(!received.includes(raw), `${raw} in ${received}`)
  assert.equal(error.sample.received.userId, 'f***@example.com')
  assert.equal(error.sample.received.anonymousId, '***99')
})
