/**
 * Multi-advertiser fan-out (SPEC §5.7, README "One audience, several advertisers"): one connection
 * with two advertisers gets a TikTok audience for each, every change reaches both, and a failing
 * advertiser holds up neither the other's deliveries nor its own order.
 */
import assert from 'node:assert/strict'
import { after, before, beforeEach, test } from 'node:test'
import { at } from '../../src/util/array.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { ADV, ADV2, EMULATOR_TOKEN, startTestService, until, type TestService } from './admin-service.js'

interface EmuAudience {
  audience_id: string
  name: string
  advertiser_id: string
}
interface Target {
  advertiserId: string
  externalAudienceId: string | null
  state: string
  error: string | null
}

let s: TestService
let dest: { id: number }
const emuAudiences = async (): Promise<EmuAudience[]> => (await s.emulator<{ audiences: EmuAudience[] }>('GET', '/audiences')).audiences
const members = async (audienceId: string): Promise<string[]> =>
  ((await s.emulator<{ members: Record<string, string[]> }>('GET', `/audiences/${audienceId}/members`)).members.EMAIL_SHA256 ?? []).sort()
const hashes = (...users: string[]) => users.map((u) => sha256(`${u}@example.com`)).sort()
const same = (a: string[], b: string[]) => JSON.stringify(a) === JSON.stringify(b)
const enter = (u: string, key: string) => audienceEvent({ userId: u, email: `${u}@example.com` }, key, true)
const exit = (u: string, key: string) => audienceEvent({ userId: u, email: `${u}@example.com` }, key, false)

before(async () => {
  s = await startTestService()
  dest = (await s.api('POST', '/api/destinations', { name: 'fanout', source: 'engage' })).body
  assert.equal((await s.api('POST', `/api/destinations/${dest.id}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
  for (const action of ['addToAudience', 'removeFromAudience']) {
    assert.equal((await s.api('POST', `/api/destinations/${dest.id}/mappings`, { action, enabled: true })).status, 201)
  }
  assert.equal((await s.api('PATCH', `/api/destinations/${dest.id}`, { enabled: true })).status, 200)
})
after(async () => s.close())
beforeEach(async () => {
  await s.emulator('DELETE', '/faults')
})

async function connectBoth(key: string, name: string): Promise<Target[]> {
  const r = await s.api('PUT', `/api/destinations/${dest.id}/audiences/${key}`, { name, advertiserIds: [ADV, ADV2] })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  assert.deepEqual(r.body.advertiserIds, [ADV, ADV2])
  return r.body.targets
}

test('a connection with two advertisers creates a TikTok audience for each, and every change reaches both', async () => {
  const targets = await connectBoth('vip', 'VIP shoppers')
  assert.deepEqual(
    targets.map((t) => [t.advertiserId, t.state, t.error]),
    [
      [ADV, 'connected', null],
      [ADV2, 'connected', null]
    ]
  )
  const [a, b] = targets.map((t) => t.externalAudienceId!)
  assert.ok(a && b)
  assert.notEqual(a, b)
  const inTikTok = (await emuAudiences()).filter((x) => x.name === 'VIP shoppers')
  assert.deepEqual(
    inTikTok.map((x) => [x.audience_id, x.advertiser_id]).sort(),
    [
      [a, ADV],
      [b, ADV2]
    ].sort()
  )

  // Saving again creates nothing more, and GET answers the same targets.
  const again = await s.api('PUT', `/api/destinations/${dest.id}/audiences/vip`, { sendIdentify: false })
  assert.equal(again.status, 200)
  assert.deepEqual(again.body.targets, targets)
  assert.deepEqual((await s.api('GET', `/api/destinations/${dest.id}/audiences/vip`)).body.targets, targets)
  assert.equal((await emuAudiences()).filter((x) => x.name === 'VIP shoppers').length, 2)

  await s.send([enter('ann', 'vip'), enter('bob', 'vip'), enter('cat', 'vip')])
  await until(
    'both advertisers got the entered members',
    async () => same(await members(a), hashes('ann', 'bob', 'cat')) && same(await members(b), hashes('ann', 'bob', 'cat'))
  )
  await s.send([exit('bob', 'vip')])
  await until(
    'both advertisers lost the exited member',
    async () => same(await members(a), hashes('ann', 'cat')) && same(await members(b), hashes('ann', 'cat'))
  )
  const requests = (
    await s.emulator<{ requests: { path: string; body: { advertiser_ids?: string[]; id_schema?: unknown } }[] }>('GET', '/requests?path=/segment/mapping/')
  ).requests
  // One advertiser per request: each has its own partition, batches and retries.
  assert.ok(requests.length >= 4)
  for (const r of requests) assert.equal(r.body.advertiser_ids?.length, 1, JSON.stringify(r.body))
})

test('advertiser B failing does not hold up A; B gets its changes in order once the fault clears', async () => {
  const [a, b] = (await connectBoth('loyal', 'Loyal')).map((t) => t.externalAudienceId!)
  assert.ok(a && b)
  await s.emulator('POST', '/faults', { rules: [{ path: '/segment/mapping/', advertiserId: ADV2, code: 50000 }] })
  await s.send([enter('u1', 'loyal'), enter('u2', 'loyal')])
  await until('A got its members while B fails', async () => same(await members(a), hashes('u1', 'u2')), 5000)
  await s.send([exit('u1', 'loyal'), enter('u3', 'loyal')])
  await until('A got the later changes too', async () => same(await members(a), hashes('u2', 'u3')), 5000)
  assert.deepEqual(await members(b), [], 'nothing reached B while it failed')
  // B keeps being retried meanwhile (its backoff may not have come round a second time yet).
  const hits = async () => at((await s.emulator<{ rules: { hits: number }[] }>('GET', '/faults')).rules, 0).hits
  await until('B was retried', async () => (await hits()) >= 2, 8000)

  await s.emulator('DELETE', '/faults')
  // u1 entered then exited: applied out of order, u1 would be left in B's audience.
  await until('B got every change, in order', async () => same(await members(b), hashes('u2', 'u3')), 8000)
  await until('settled', async () => (await s.api('GET', `/api/destinations/${dest.id}/delivery`)).body.totals.retrying === 0)
  assert.equal((await s.api('GET', `/api/destinations/${dest.id}/dead-letters`)).body.total, 0)
})

test('an advertiser whose audience cannot be created is recorded as failed; the other is connected and delivered to; saving again retries', async () => {
  await s.emulator('POST', '/faults', { rules: [{ path: '/segment/audience/', advertiserId: ADV2, code: 40001 }] })
  const r = await s.api('PUT', `/api/destinations/${dest.id}/audiences/churn`, { name: 'Churn risk', advertiserIds: [ADV, ADV2] })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  const [ta, tb] = r.body.targets as Target[]
  assert.ok(ta && tb)
  assert.equal(ta.state, 'connected')
  assert.equal(tb.state, 'failed')
  assert.equal(tb.externalAudienceId, null)
  assert.match(tb.error!, new RegExp(`cannot create the audience for advertiser ${ADV2}`))

  await s.send([enter('d1', 'churn')])
  await until('A delivered', async () => same(await members(ta.externalAudienceId!), hashes('d1')))
  const delivery = await until('B failure recorded', async () => {
    const d = (await s.api('GET', `/api/destinations/${dest.id}/delivery`)).body
    return d.errors.some((e: { errorCode: string }) => e.errorCode === 'AUDIENCE_NOT_CREATED') ? d : undefined
  })
  const err = delivery.errors.find((e: { errorCode: string }) => e.errorCode === 'AUDIENCE_NOT_CREATED')
  assert.match(err.reason, new RegExp(`advertiser ${ADV2} has no TikTok audience for audience "churn": cannot create the audience`))

  await s.emulator('DELETE', '/faults')
  const retried = await s.api('PUT', `/api/destinations/${dest.id}/audiences/churn`, {})
  assert.equal(retried.status, 200)
  const tb2 = at(retried.body.targets as Target[], 1)
  assert.equal(tb2.state, 'connected')
  assert.equal(retried.body.targets[0].externalAudienceId, ta.externalAudienceId)
  await s.send([enter('d2', 'churn')])
  await until('B delivered after the retry', async () => same(await members(tb2.externalAudienceId!), hashes('d2')))
})

test('advertiserIds must be authorised advertisers of the destination, and externalAudienceIds name them', async () => {
  const bad = await s.api('PUT', `/api/destinations/${dest.id}/audiences/x`, { advertiserIds: [ADV, '7999999999999999999'] })
  assert.equal(bad.status, 400)
  assert.match(bad.body.error, /7999999999999999999 is not one of the destination's authorised advertisers/)
  const stray = await s.api('PUT', `/api/destinations/${dest.id}/audiences/x`, { advertiserIds: [ADV], externalAudienceIds: { [ADV2]: '123' } })
  assert.equal(stray.status, 400)
  assert.match(stray.body.error, /is not one of the connection's advertisers/)

  // An explicit id per advertiser is checked and kept; the advertiser left out gets one created.
  const existing = (await s.api('PUT', `/api/destinations/${dest.id}/audiences/seed`, { name: 'Seed', advertiserId: ADV2 })).body.externalAudienceId
  const r = await s.api('PUT', `/api/destinations/${dest.id}/audiences/given`, {
    name: 'Given',
    advertiserIds: [ADV, ADV2],
    externalAudienceIds: { [ADV2]: existing }
  })
  assert.equal(r.status, 201, JSON.stringify(r.body))
  assert.equal(r.body.targets[1].externalAudienceId, existing)
  assert.equal(r.body.targets[0].state, 'connected')
  const wrong = await s.api('PUT', `/api/destinations/${dest.id}/audiences/given`, { externalAudienceIds: { [ADV2]: r.body.targets[0].externalAudienceId } })
  assert.equal(wrong.status, 200)
  assert.equal(wrong.body.targets[1].state, 'failed')
  assert.match(wrong.body.targets[1].error, /cannot verify audience \d+ for advertiser \d+: .*does not exist under advertiser/)
})

test('live health of one advertiser of a fan-out connection: ?advertiserId= asks TikTok about its own audience; an advertiser not connected is a 404', async () => {
  const [ta, tb] = await connectBoth('live', 'Live health')
  assert.ok(ta && tb)
  const first = await s.api('GET', `/api/destinations/${dest.id}/audiences/live/health`)
  assert.equal(first.status, 200, JSON.stringify(first.body))
  assert.deepEqual([first.body.advertiserId, first.body.audience_id], [ADV, ta.externalAudienceId])
  const second = await s.api('GET', `/api/destinations/${dest.id}/audiences/live/health?advertiserId=${ADV2}`)
  assert.equal(second.status, 200, JSON.stringify(second.body))
  assert.deepEqual([second.body.advertiserId, second.body.audience_id], [ADV2, tb.externalAudienceId])
  const none = await s.api('GET', `/api/destinations/${dest.id}/audiences/live/health?advertiserId=999`)
  assert.equal(none.status, 404)
  assert.match(String(none.body.error), /advertiser 999 of audience "live"/)
})
