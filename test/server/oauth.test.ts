/**
 * OAuth round trip through the emulator's consent page; delivery paused on a revoked token and
 * resumed by re-authorisation with nothing lost; dead letters with samples, and their replay.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { audienceEvent } from '../helpers/events.js'
import { first } from '../../src/util/array.js'
import { startTestService, until, type TestService } from './admin-service.js'

let s: TestService
let dest: { id: number }
let audienceId: string

before(async () => {
  s = await startTestService()
  dest = (await s.api('POST', '/api/destinations', { name: 'oauth native', source: 'engage' })).body
  for (const action of ['addToAudience', 'removeFromAudience']) {
    assert.equal((await s.api('POST', `/api/destinations/${dest.id}/mappings`, { action, enabled: true })).status, 201)
  }
})
after(async () => s.close())

const members = async (): Promise<number> => {
  const r = await s.emulator<{ members: { EMAIL_SHA256: string[] } }>('GET', `/audiences/${audienceId}/members`)
  return r.members.EMAIL_SHA256.length
}
const destination = async () => (await s.api('GET', `/api/destinations/${dest.id}`)).body
const person = (i: number) => ({ userId: `u${i}`, email: `person${i}@example.com` })

/** /oauth/tiktok/start → emulator consent page → approve → our callback; returns the callback's answer. */
async function authorise(decision: 'approve' | 'deny' = 'approve', withCookie = true): Promise<{ callback: URL; res: Response; cookie: string }> {
  const start = await s.api('GET', `/oauth/tiktok/start?destination=${dest.id}`)
  assert.equal(start.status, 302)
  const consent = new URL(start.headers.get('location')!, s.url)
  assert.equal(consent.pathname, '/emulator/portal/auth')
  assert.equal(consent.searchParams.get('app_id'), 'emulator-app')
  assert.equal(consent.searchParams.get('redirect_uri'), `${s.url}/oauth/tiktok/callback`)
  assert.ok((consent.searchParams.get('state') ?? '').length >= 20)
  const page = await fetch(consent)
  assert.match(await page.text(), /emulator/i)
  const approved = await fetch(`${consent}&${decision}=1`, { redirect: 'manual' })
  assert.equal(approved.status, 302)
  const callback = new URL(approved.headers.get('location')!)
  assert.equal(callback.pathname, '/oauth/tiktok/callback')
  // The state is bound to the browser that started the flow: its cookie comes back with the callback.
  const setCookie = start.headers.get('set-cookie') ?? ''
  assert.match(setCookie, /^tta_oauth=[^;]+; Path=\/oauth\/tiktok\/callback; HttpOnly; SameSite=Lax/)
  const cookie = first(setCookie.split(';'))
  const res = await fetch(callback, { redirect: 'manual', headers: withCookie ? { cookie } : {} })
  return { callback, res, cookie }
}

async function storedToken(): Promise<{ plain: string; column: string }> {
  const { ctx } = s.service
  const row = await ctx.store.db.get<{ access_token: string }>('SELECT access_token FROM destinations WHERE id = $1', [dest.id])
  return { plain: ctx.store.secrets.decrypt(row!.access_token), column: row!.access_token }
}

test('OAuth: start needs admin auth and a destination; bad states and denial are explained', async () => {
  assert.equal((await s.api('GET', `/oauth/tiktok/start?destination=${dest.id}`, undefined, { auth: false })).status, 401)
  assert.equal((await s.api('GET', '/oauth/tiktok/start')).status, 400)
  assert.equal((await s.api('GET', '/oauth/tiktok/start?destination=999')).status, 404)
  const unknown = await fetch(`${s.url}/oauth/tiktok/callback?auth_code=x&code=x&state=forged`)
  assert.equal(unknown.status, 400)
  assert.match(await unknown.text(), /unknown state/)
  const denied = await authorise('deny')
  assert.equal(denied.res.status, 403)
  assert.match(await denied.res.text(), /denied access/)
  assert.equal((await destination()).connected, false)
})

test('OAuth round trip: token stored encrypted, destination enabled, events reach the TikTok audience', async () => {
  // A callback link from a flow another browser started is refused, and does not use the state up.
  const foreign = await authorise('approve', false)
  assert.equal(foreign.res.status, 400)
  assert.match(await foreign.res.text(), /started in another browser/)
  const late = await fetch(foreign.callback, { redirect: 'manual', headers: { cookie: foreign.cookie } })
  assert.equal(late.status, 302, 'the browser that started it can still finish')
  const { callback, res, cookie } = await authorise()
  assert.equal(res.status, 302)
  assert.equal(res.headers.get('location'), `/?connected=${dest.id}`)
  // The state is single-use.
  const replay = await fetch(callback, { headers: { cookie } })
  assert.equal(replay.status, 400)
  assert.match(await replay.text(), /already completed/)

  const token = await storedToken()
  assert.ok(token.plain.length > 10)
  assert.ok(!token.column.includes(token.plain), 'the token column must not hold the plain token')
  const d = await destination()
  assert.equal(d.connected, true)
  assert.ok(d.advertiserIds.some((a: { id: string; name: string }) => a.id === '7000000000000000001' && a.name === 'Emulator Advertiser'))

  const enabled = await s.api('PATCH', `/api/destinations/${dest.id}`, { enabled: true })
  assert.equal(enabled.status, 200, JSON.stringify(enabled.body))
  const conn = await s.api('PUT', `/api/destinations/${dest.id}/audiences/vip`, { name: 'VIP', advertiserId: '7000000000000000001' })
  assert.equal(conn.status, 201, JSON.stringify(conn.body))
  audienceId = conn.body.externalAudienceId

  await s.send([audienceEvent(person(1), 'vip', true), audienceEvent(person(2), 'vip', true)])
  await until('2 members in the TikTok audience', async () => (await members()) === 2)
  const stats = (await s.api('GET', '/api/stats')).body
  assert.ok(stats.received >= 2 && stats.delivered >= 2, JSON.stringify(stats))
})

test('a revoked token pauses the destination and keeps its queue; re-authorising resumes and delivers it', async () => {
  const { plain } = await storedToken()
  assert.deepEqual(await s.emulator('POST', '/tokens/revoke', { access_token: plain }), { revoked: true })
  await s.send([audienceEvent(person(3), 'vip', true), audienceEvent(person(4), 'vip', true)])

  const paused = await until('destination paused', async () => {
    const d = await destination()
    return d.status === 'paused' ? d : undefined
  })
  assert.match(paused.statusReason, /access token/)
  assert.match(paused.statusReason, /Reauthorize/)
  const stats = (await s.api('GET', '/api/stats')).body
  assert.equal(stats.pending, 2, JSON.stringify(stats))
  assert.equal(stats.failed, 0)
  assert.equal(await members(), 2)

  const { res } = await authorise()
  assert.equal(res.status, 302)
  const resumed = await destination()
  assert.equal(resumed.status, 'active')
  assert.equal(resumed.statusReason, null)
  assert.notEqual((await storedToken()).plain, plain)
  await until('the kept events delivered', async () => (await members()) === 4)
  await until('nothing pending', async () => (await s.api('GET', '/api/stats')).body.pending === 0)
})

test('dead letters: a permanent TikTok error shows in Event Delivery with samples, and replays to delivered', async () => {
  await s.emulator('POST', '/faults', { rules: [{ path: '/segment/mapping/', code: 40002, message: 'injected bad request', count: 1 }] })
  await s.send([audienceEvent(person(5), 'vip', true)])
  const dl = await until('one dead letter', async () => {
    const r = (await s.api('GET', `/api/destinations/${dest.id}/dead-letters`)).body
    return r.total === 1 ? r : undefined
  })
  const failedId = dl.items[0].id
  assert.equal(dl.items[0].replayable, true)
  assert.equal(dl.items[0].errorCode, '40002')

  const now = Date.now()
  const delivery = await s.api('GET', `/api/destinations/${dest.id}/delivery?bucket=1m&from=${now - 3_540_000}&to=${new Date(now + 60_000).toISOString()}`)
  assert.equal(delivery.status, 200, JSON.stringify(delivery.body))
  assert.equal(delivery.body.totals.failed, 1)
  assert.ok(delivery.body.totals.delivered >= 4)
  assert.equal(delivery.body.buckets.length, 60)
  assert.equal(typeof delivery.body.p95LatencyMs, 'number')
  const error = delivery.body.errors.find((e: { errorCode: string }) => e.errorCode === '40002')
  assert.equal(error.count, 1)
  assert.match(error.reason, /injected bad request/)
  assert.match(error.sample.request.url, /\/segment\/mapping\/$/)
  assert.equal(error.sample.request.body.action, 'add')
  assert.equal(error.sample.response.body.code, 40002)
  const bad = await s.api('GET', `/api/destinations/${dest.id}/delivery?bucket=fast`)
  assert.equal(bad.status, 400)
  assert.equal(bad.body.field, 'bucket')

  // An event that failed before queueing (no audience settings) keeps its redacted sample and cannot be replayed.
  // (An unconnected audience's event is this destination's only when its integrations object names it.)
  await s.send([{ ...audienceEvent(person(6), 'unconnected', true), integrations: { 'oauth native': true } }])
  const notQueued = await until('a validation failure', async () => {
    const r = (await s.api('GET', `/api/destinations/${dest.id}/dead-letters`)).body
    return r.items.find((x: { replayable: boolean }) => !x.replayable)
  })

  const replay = await s.api('POST', `/api/destinations/${dest.id}/dead-letters/replay`, { ids: [failedId, notQueued.id, 999999] })
  assert.equal(replay.status, 200, JSON.stringify(replay.body))
  assert.equal(replay.body.replayed, 1)
  assert.deepEqual(replay.body.results[0], { id: failedId, replayed: true })
  assert.equal(replay.body.results[1].replayed, false)
  assert.match(replay.body.results[1].reason, /before it was queued/)
  assert.equal(replay.body.results[2].replayed, false)
  await until('the replayed change delivered', async () => (await members()) === 5)
  const after = (await s.api('GET', `/api/destinations/${dest.id}/dead-letters`)).body
  assert.deepEqual(
    after.items.map((x: { id: number }) => x.id),
    [notQueued.id]
  )
  const badReplay = await s.api('POST', `/api/destinations/${dest.id}/dead-letters/replay`, { ids: ['x'] })
  assert.equal(badReplay.status, 400)
  assert.equal(badReplay.body.field, 'ids[0]')
})
