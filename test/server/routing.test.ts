/**
 * Which destinations an event reaches (README): an Engage audience reaches only the native
 * destinations connected to it (or that auto-connect, or that the event already names by its
 * TikTok audience or its integrations object); for the others it is filtered — counted, no
 * failure, no dead letter. And the demo destination stops auto-connecting once the user has one.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { ADV, EMULATOR_TOKEN, startTestService, until, type TestService } from './admin-service.js'

interface EmuAudience {
  audience_id: string
  name: string
  total: number
}
const emuAudiences = async (s: TestService): Promise<EmuAudience[]> => (await s.emulator<{ audiences: EmuAudience[] }>('GET', '/audiences')).audiences
const members = async (s: TestService, audienceId: string): Promise<string[]> =>
  ((await s.emulator<{ members: Record<string, string[]> }>('GET', `/audiences/${audienceId}/members`)).members.EMAIL_SHA256 ?? []).sort()

/** A native destination on the engage source, authorised on the emulator, its Add to Audience mapping on, enabled. */
async function nativeDestination(s: TestService, name: string, settings: Record<string, unknown> = {}): Promise<{ id: number }> {
  const d = (await s.api('POST', '/api/destinations', { name, source: 'engage', ...settings })).body
  assert.equal((await s.api('POST', `/api/destinations/${d.id}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
  assert.equal((await s.api('POST', `/api/destinations/${d.id}/mappings`, { action: 'addToAudience', enabled: true })).status, 201)
  assert.equal((await s.api('PATCH', `/api/destinations/${d.id}`, { enabled: true })).status, 200)
  return d
}

async function connect(s: TestService, destinationId: number, key: string, name: string): Promise<string> {
  const r = await s.api('PUT', `/api/destinations/${destinationId}/audiences/${key}`, { name, advertiserId: ADV })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  return r.body.externalAudienceId
}

const delivery = async (s: TestService, id: number) => (await s.api('GET', `/api/destinations/${id}/delivery`)).body
const deadLetters = async (s: TestService, id: number) => (await s.api('GET', `/api/destinations/${id}/dead-letters`)).body.total

test('two destinations on one source, an audience each: each audience reaches only its destination, the other filters it', async () => {
  const s = await startTestService()
  try {
    const one = await nativeDestination(s, 'one')
    const two = await nativeDestination(s, 'two')
    const audA = await connect(s, one.id, 'audience_a', 'Audience A')
    const audB = await connect(s, two.id, 'audience_b', 'Audience B')
    await s.send([
      audienceEvent({ userId: 'a1', email: 'a1@example.com' }, 'audience_a', true),
      audienceEvent({ userId: 'a2', email: 'a2@example.com' }, 'audience_a', true),
      audienceEvent({ userId: 'b1', email: 'b1@example.com' }, 'audience_b', true)
    ])
    // Settled (the totals are written once TikTok answered), not only received by TikTok.
    await until(
      'both audiences delivered',
      async () => (await delivery(s, one.id)).totals.delivered === 2 && (await delivery(s, two.id)).totals.delivered === 1
    )
    assert.deepEqual(await members(s, audA), [sha256('a1@example.com'), sha256('a2@example.com')].sort())
    assert.deepEqual(await members(s, audB), [sha256('b1@example.com')])

    const d1 = await delivery(s, one.id)
    const d2 = await delivery(s, two.id)
    assert.deepEqual([d1.totals.delivered, d1.totals.failed, d1.totals.filtered], [2, 0, 1])
    assert.deepEqual([d2.totals.delivered, d2.totals.failed, d2.totals.filtered], [1, 0, 2])
    assert.deepEqual(d1.errors, [])
    assert.deepEqual(d2.errors, [])
    assert.deepEqual(
      d2.filtered.map((f: { reason: string; count: number }) => [f.reason, f.count]),
      [['audience_not_connected', 2]]
    )
    assert.match(d2.filtered[0].description, /not connected to this destination/)
    assert.equal(await deadLetters(s, one.id), 0)
    assert.equal(await deadLetters(s, two.id), 0)

    const stats = (await s.api('GET', '/api/stats')).body
    assert.equal(stats.failed, 0)
    assert.equal(stats.filtered, 3)
    const metrics = await (await fetch(`${s.url}/metrics`)).text()
    assert.match(metrics, new RegExp(`tiktok_audiences_events_filtered_total\\{destination="${one.id}",reason="audience_not_connected"\\} 1`))
    assert.match(metrics, new RegExp(`tiktok_audiences_events_filtered_total\\{destination="${two.id}",reason="audience_not_connected"\\} 2`))
  } finally {
    await s.close()
  }
})

test('an unconnected audience reaches a destination when the event carries its TikTok audience, or its integrations object names the destination', async () => {
  const s = await startTestService()
  try {
    const one = await nativeDestination(s, 'one')
    const two = await nativeDestination(s, 'two')
    // A TikTok audience this service has no connection for (Segment's pipeline connected it and forwards its events).
    const forwarded = await connect(s, two.id, 'made_elsewhere', 'Made elsewhere')
    assert.equal((await s.api('DELETE', `/api/destinations/${two.id}/audiences/made_elsewhere`)).status, 204)

    // Carries external_audience_id with audience_settings: both destinations take it.
    await s.send([audienceEvent({ userId: 'f1', email: 'f1@example.com' }, 'segment_audience', true, { externalAudienceId: forwarded, advertiserId: ADV })])
    await until('delivered by both', async () => (await delivery(s, one.id)).totals.delivered === 1 && (await delivery(s, two.id)).totals.delivered === 1)
    assert.deepEqual(await members(s, forwarded), [sha256('f1@example.com')])
    for (const d of [one, two])
      assert.deepEqual((await delivery(s, d.id)).totals, { delivered: 1, failed: 0, pending: 0, retrying: 0, retried: 0, filtered: 0 })

    // Named by the integrations object: it reaches "one" (which says what is missing: it carries no
    // audience settings), and "two" filters it.
    const named = { ...audienceEvent({ userId: 'n1', email: 'n1@example.com' }, 'named_audience', true), integrations: { one: true } }
    await s.send([named])
    await until('"two" filtered it', async () => (await delivery(s, two.id)).totals.filtered === 1)
    await until('"one" took it', async () => (await delivery(s, one.id)).totals.failed === 1)
    assert.equal((await delivery(s, one.id)).totals.filtered, 0)
    assert.equal((await delivery(s, two.id)).totals.failed, 0)
  } finally {
    await s.close()
  }
})

test('the demo destination stops auto-connecting once the user has a destination of their own: no twin audience', async () => {
  const s = await startTestService({ keepDemo: true })
  try {
    const [demo] = (await s.api('GET', '/api/destinations')).body
    assert.equal(demo.name, 'TikTok Audiences (emulator)')
    assert.equal(demo.demo, true)
    assert.equal(demo.autoConnecting, true)
    // Alone, it connects what it sees (the quick start).
    await s.send([audienceEvent({ userId: 'q1', email: 'q1@example.com' }, 'quick_start', true)])
    await until('the demo auto-connected quick_start', async () => (await emuAudiences(s)).some((a) => a.name === 'quick_start' && a.total === 1))

    const mine = await nativeDestination(s, 'mine')
    const view = (await s.api('GET', `/api/destinations/${demo.id}`)).body
    assert.equal(view.autoConnectAudiences, true)
    assert.equal(view.autoConnecting, false)
    assert.equal((await s.api('GET', `/api/destinations/${mine.id}`)).body.demo, false)
    const myAudience = await connect(s, mine.id, 'vip', 'VIP')
    const before = (await emuAudiences(s)).length
    await s.send([audienceEvent({ userId: 'v1', email: 'v1@example.com' }, 'vip', true)])
    await until('delivered to my audience', async () => (await delivery(s, mine.id)).totals.delivered === 1)
    assert.equal((await members(s, myAudience)).length, 1)
    await until('the demo filtered it', async () => (await delivery(s, demo.id)).totals.filtered === 1)
    assert.equal((await emuAudiences(s)).length, before, 'no twin TikTok audience made by the demo')
    assert.equal((await delivery(s, demo.id)).totals.failed, 0)
    assert.equal(await deadLetters(s, demo.id), 0)
  } finally {
    await s.close()
  }
})

test('a destination deleted and another made in its place (SQLite gives it the same id) gets its events delivered', async () => {
  const s = await startTestService()
  try {
    const first = await nativeDestination(s, 'first')
    const audience = await connect(s, first.id, 'shoppers', 'Shoppers')
    await s.send([audienceEvent({ userId: 'p1', email: 'p1@example.com' }, 'shoppers', true)])
    await until('delivered by the first', async () => (await members(s, audience)).length === 1)
    assert.equal((await s.api('DELETE', `/api/destinations/${first.id}`)).status, 204)

    const second = await nativeDestination(s, 'second')
    // SQLite gives the new destination the deleted one's id (what this test is about); PostgreSQL's sequences do not.
    if (!process.env.ADMIN_TEST_DATABASE_URL) assert.equal(second.id, first.id, 'the id is reused')
    const again = await s.api('PUT', `/api/destinations/${second.id}/audiences/shoppers`, { name: 'Shoppers', advertiserId: ADV, externalAudienceId: audience })
    assert.equal(again.status, 201, JSON.stringify(again.body))
    await s.send([audienceEvent({ userId: 'p2', email: 'p2@example.com' }, 'shoppers', true)])
    await until('delivered by the second', async () => (await members(s, audience)).length === 2)
  } finally {
    await s.close()
  }
})
