import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { emulatorPlugin, EmulatorState } from '../../src/emulator/index.js'
import { SlidingWindowRateLimiter } from '../../src/emulator/rate-limit.js'
import { RequestLog } from '../../src/emulator/request-log.js'
import { at } from '../../src/util/array.js'
import { ADV1, EmulatorClient, sha256, TOKEN } from './helpers.js'

let em: EmulatorClient

before(async () => {
  em = await EmulatorClient.start()
})
after(() => em.close())
beforeEach(() => em.state.reset())

async function addEmail(audience: string, email: string) {
  return em.api('POST', '/segment/mapping/', {
    body: { advertiser_ids: [ADV1], action: 'add', id_schema: ['EMAIL_SHA256'], batch_data: [[{ id: sha256(email), audience_ids: [audience] }]] }
  })
}

function memberCount(audience: string): number {
  return em.state.coverNum(em.state.audiences.get(audience)!)
}

test('rate limit: over qps on /segment/* is HTTP 200 code 40100; other routes are counted separately', async () => {
  assert.equal((await em.control('POST', '/config', { qps: 3 })).json.qps, 3)
  const codes: number[] = []
  for (let i = 0; i < 5; i++) {
    const { status, json } = await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, custom_audience_name: `r${i}` } })
    assert.equal(status, 200)
    codes.push(json.code)
    if (json.code === 40100) assert.equal(json.message, 'Too many requests. Please retry in some time.')
  }
  assert.deepEqual(codes, [0, 0, 0, 40100, 40100])
  assert.equal(em.state.audiences.size, 3, 'limited requests are not applied')
  assert.equal((await em.api('GET', '/user/info/')).json.code, 0)

  await em.control('POST', '/config', { qps: 0 })
  for (let i = 0; i < 20; i++) {
    assert.equal((await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, custom_audience_name: 'u' } })).json.code, 0)
  }
})

test('rate limit is per app', async () => {
  const state = new EmulatorState({
    qps: 1,
    seed: { apps: [{ app_id: 'app-b', secret: 's' }], tokens: [{ access_token: 'tok-b', app_id: 'app-b', advertiser_ids: [ADV1] }] }
  })
  const local = await EmulatorClient.start({ state })
  try {
    const create = (token: string) => local.api('POST', '/segment/audience/', { token, body: { advertiser_id: ADV1, custom_audience_name: 'x' } })
    assert.equal((await create(TOKEN)).json.code, 0)
    assert.equal((await create(TOKEN)).json.code, 40100)
    assert.equal((await create('tok-b')).json.code, 0)
  } finally {
    await local.close()
  }
})

test('sliding window frees capacity one second after the requests it counted', () => {
  const limiter = new SlidingWindowRateLimiter()
  assert.equal(limiter.tryAcquire('a', 2, 1000), true)
  assert.equal(limiter.tryAcquire('a', 2, 1500), true)
  assert.equal(limiter.tryAcquire('a', 2, 1999), false)
  assert.equal(limiter.tryAcquire('a', 2, 2000), true, 'the request at t=1000 has left the window')
  assert.equal(limiter.tryAcquire('a', 2, 2100), false)
  assert.equal(limiter.tryAcquire('b', 2, 2100), true)
  assert.equal(limiter.tryAcquire('a', 0, 2100), true, '0 = unlimited')
})

test('fault with code and count: hits that many requests, which are not applied, then is spent', async () => {
  const audience = await em.createAudience('faulty')
  const set = await em.control('POST', '/faults', { rules: [{ path: '/segment/mapping/', code: 40100, count: 2 }] })
  assert.equal(set.status, 200)
  assert.equal(set.json.rules.length, 1)

  for (let i = 0; i < 2; i++) {
    const { status, json } = await addEmail(audience, `a${i}@x.com`)
    assert.equal(status, 200)
    assert.equal(json.code, 40100)
    assert.equal(json.message, 'Too many requests. Please retry in some time.')
    assert.match(json.request_id, /^\d{14}[0-9A-F]{16}$/)
  }
  assert.equal(memberCount(audience), 0)
  assert.equal((await addEmail(audience, 'ok@x.com')).json.code, 0)
  assert.equal(memberCount(audience), 1)
  assert.deepEqual((await em.control('GET', '/faults')).json.rules, [])
})

test('fault codes carry realistic messages unless overridden; path and method must match', async () => {
  await em.control('POST', '/faults', {
    rules: [
      { path: '/segment/mapping/', method: 'GET', code: 50000 },
      { path: '/user/info/', code: 51063, count: 1 },
      { path: '/advertiser/info/', code: 50002, message: 'custom words', count: 1 }
    ]
  })
  const info = await em.api('GET', '/user/info/')
  assert.deepEqual([info.json.code, info.json.message], [51063, 'Segment gateway service error.'])
  const adv = await em.api('GET', '/advertiser/info/', { query: { advertiser_ids: JSON.stringify([ADV1]) } })
  assert.deepEqual([adv.json.code, adv.json.message], [50002, 'custom words'])
  const audience = await em.createAudience('method filter')
  assert.equal((await addEmail(audience, 'post@x.com')).json.code, 0, 'a GET-only rule leaves POSTs alone')
})

test('fault with httpStatus 504 answers a non-JSON gateway page and applies nothing', async () => {
  const audience = await em.createAudience('gateway')
  await em.control('POST', '/faults', { rules: [{ path: '/segment/mapping/', httpStatus: 504, count: 1 }] })
  const res = await fetch(`${em.emulator.apiUrl}/v1.3/segment/mapping/`, {
    method: 'POST',
    headers: { 'Access-Token': TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({ advertiser_ids: [ADV1], id_schema: ['EMAIL_SHA256'], batch_data: [[{ id: sha256('g@x.com'), audience_ids: [audience] }]] })
  })
  assert.equal(res.status, 504)
  assert.match(res.headers.get('content-type') ?? '', /text\/html/)
  const text = await res.text()
  assert.equal(text, '<html><body><h1>504 Gateway Time-out</h1></body></html>')
  assert.throws(() => JSON.parse(text))
  assert.equal(memberCount(audience), 0)
})

test('fault with reset closes the connection without an answer and applies nothing', async () => {
  const audience = await em.createAudience('reset')
  await em.control('POST', '/faults', { rules: [{ path: '/segment/mapping/', reset: true, count: 1 }] })
  const body = JSON.stringify({ advertiser_ids: [ADV1], id_schema: ['EMAIL_SHA256'], batch_data: [[{ id: sha256('r@x.com'), audience_ids: [audience] }]] })
  const send = () =>
    fetch(`${em.emulator.apiUrl}/v1.3/segment/mapping/`, { method: 'POST', headers: { 'Access-Token': TOKEN, 'content-type': 'application/json' }, body })
  const err = await send().then(
    () => undefined,
    (e: Error & { cause?: { code?: string } }) => e
  )
  assert.ok(err, 'the request fails without an answer')
  assert.match(String(err.cause?.code ?? err.cause ?? err), /ECONNRESET|other side closed|socket/i)
  assert.equal(memberCount(audience), 0)
  assert.equal((await send()).status, 200, 'the rule is spent: the next request is handled')
  assert.equal(memberCount(audience), 1)
  assert.match((await em.control('POST', '/faults', { rules: [{ reset: 'yes' }] })).json.error, /reset must be a boolean/)
})

test('fault with latencyMs alone delays the answer but the request is handled', async () => {
  const audience = await em.createAudience('slow')
  await em.control('POST', '/faults', { rules: [{ path: '/segment/mapping/', latencyMs: 150 }] })
  const started = performance.now()
  const { json } = await addEmail(audience, 'slow@x.com')
  const elapsed = performance.now() - started
  assert.equal(json.code, 0)
  assert.ok(elapsed >= 140, `answered after ${elapsed} ms`)
  assert.equal(memberCount(audience), 1)
})

test('fault rate: 0 never hits, 1 always hits, in between follows the random source', async () => {
  await em.control('POST', '/faults', { rules: [{ path: '/user/info/', code: 50000, rate: 0 }] })
  for (let i = 0; i < 5; i++) assert.equal((await em.api('GET', '/user/info/')).json.code, 0)
  await em.control('POST', '/faults', { rules: [{ path: '/user/info/', code: 50000, rate: 1 }] })
  for (let i = 0; i < 5; i++) assert.equal((await em.api('GET', '/user/info/')).json.code, 50000)

  const draws = [0.1, 0.9, 0.4, 0.6]
  let n = 0
  const local = await EmulatorClient.start({ random: () => at(draws, n++ % draws.length) })
  try {
    await local.control('POST', '/faults', { rules: [{ path: '/user/info/', code: 50000, rate: 0.5 }] })
    const codes = []
    for (let i = 0; i < 4; i++) codes.push((await local.api('GET', '/user/info/')).json.code)
    assert.deepEqual(codes, [50000, 0, 50000, 0])
  } finally {
    await local.close()
  }
})

test('faults: POST replaces unless append, DELETE clears, bad rules are 400', async () => {
  await em.control('POST', '/faults', { rules: [{ path: '/a/', code: 50000 }] })
  await em.control('POST', '/faults', { rules: [{ path: '/b/', code: 50000 }] })
  assert.deepEqual(
    (await em.control('GET', '/faults')).json.rules.map((r: any) => r.path),
    ['/b/']
  )
  await em.control('POST', '/faults', { rules: [{ path: '/c/', httpStatus: 503 }], append: true })
  assert.deepEqual(
    (await em.control('GET', '/faults')).json.rules.map((r: any) => r.path),
    ['/b/', '/c/']
  )
  await em.control('DELETE', '/faults')
  assert.deepEqual((await em.control('GET', '/faults')).json.rules, [])

  const bad = await em.control('POST', '/faults', { rules: [{ path: '/x/' }] })
  assert.equal(bad.status, 400)
  assert.match(bad.json.error, /code, httpStatus, latencyMs/)
  assert.equal((await em.control('POST', '/faults', { rules: [{ code: 1, rate: 2 }] })).status, 400)
})

test('request log records TikTok calls with bodies, codes and timings; filters by path and since', async () => {
  const audience = await em.createAudience('logged')
  await addEmail(audience, 'log@x.com')
  await em.api('GET', '/user/info/', { token: 'bad' })
  await em.control('GET', '/audiences') // control calls are not logged

  const all = (await em.control('GET', '/requests')).json.requests
  assert.deepEqual(
    all.map((r: any) => [r.method, r.path, r.httpStatus, r.code]),
    [
      ['POST', '/open_api/v1.3/segment/audience/', 200, 0],
      ['POST', '/open_api/v1.3/segment/mapping/', 200, 0],
      ['GET', '/open_api/v1.3/user/info/', 200, 40105]
    ]
  )
  const mappingEntry = all[1]
  assert.equal(mappingEntry.body.batch_data[0][0].id, sha256('log@x.com'))
  assert.equal(mappingEntry.message, 'OK')
  assert.equal(typeof mappingEntry.durationMs, 'number')
  assert.ok(!Number.isNaN(Date.parse(mappingEntry.time)))
  assert.ok(all[0].seq < all[1].seq && all[1].seq < all[2].seq)

  const filtered = (await em.control('GET', '/requests?path=/segment/mapping/')).json.requests
  assert.deepEqual(
    filtered.map((r: any) => r.seq),
    [mappingEntry.seq]
  )
  const since = (await em.control('GET', `/requests?since=${all[1].seq}`)).json.requests
  assert.deepEqual(
    since.map((r: any) => r.seq),
    [all[2].seq]
  )

  assert.equal((await em.control('DELETE', '/requests')).status, 200)
  assert.deepEqual((await em.control('GET', '/requests')).json.requests, [])
})

test('request log keeps the last N entries and bounds retained body bytes', async () => {
  const local = await EmulatorClient.start({ requestLogSize: 3 })
  try {
    for (let i = 0; i < 5; i++) await local.api('GET', '/user/info/', { query: { n: String(i) } })
    const entries = (await local.control('GET', '/requests')).json.requests
    assert.deepEqual(
      entries.map((e: any) => e.query.n),
      ['2', '3', '4']
    )
  } finally {
    await local.close()
  }

  const log = new RequestLog(10, 100)
  const entry = (i: number) => ({ time: '', method: 'POST', path: '/p', query: {}, body: { i }, httpStatus: 200, code: 0, message: 'OK', durationMs: 0 })
  for (let i = 0; i < 3; i++) log.add(entry(i), 60)
  const bodies = log.list().map((e) => e.body as { i?: number; omitted?: string })
  assert.equal(bodies[2]?.i, 2, 'the newest body is kept')
  assert.ok(bodies[0]?.omitted && bodies[1]?.omitted, 'older bodies are dropped beyond the budget')
})

test('tokens: created tokens work, revoked tokens are 40105', async () => {
  const created = await em.control('POST', '/tokens', { access_token: 'pause-test', advertiser_ids: [ADV1] })
  assert.deepEqual(created.json, { access_token: 'pause-test', app_id: 'emulator-app', advertiser_ids: [ADV1] })
  assert.equal((await em.api('GET', '/user/info/', { token: 'pause-test' })).json.code, 0)
  assert.deepEqual(await em.control('POST', '/tokens/revoke', { access_token: 'pause-test' }), { status: 200, json: { revoked: true } })
  const after = await em.api('GET', '/user/info/', { token: 'pause-test' })
  assert.equal(after.json.code, 40105)
  assert.equal((await em.control('POST', '/tokens/revoke', { access_token: 'never-issued' })).status, 404)

  const generated = await em.control('POST', '/tokens', { advertiser_ids: ['7999999999999999999'] })
  assert.match(generated.json.access_token, /^[0-9a-f]{40}$/)
  const info = await em.api('GET', '/advertiser/info/', { token: generated.json.access_token, query: { advertiser_ids: '["7999999999999999999"]' } })
  assert.equal(info.json.code, 0)
  assert.equal(info.json.data.list[0].advertiser_id, '7999999999999999999')
})

test('reset restores the seeded state: audiences, faults, config, log and revoked tokens', async () => {
  await em.createAudience('gone after reset')
  await em.control('POST', '/faults', { rules: [{ path: '/x/', code: 50000 }] })
  await em.control('POST', '/config', { qps: 1, validThreshold: 5 })
  await em.control('POST', '/tokens/revoke', { access_token: TOKEN })
  assert.equal((await em.api('GET', '/user/info/')).json.code, 40105)

  const res = await fetch(`${em.emulator.url}/_emulator/reset`, { method: 'POST', headers: { 'content-type': 'application/json' } })
  assert.equal(res.status, 200, 'an empty JSON body is fine')
  assert.deepEqual((await em.control('GET', '/audiences')).json.audiences, [])
  assert.deepEqual((await em.control('GET', '/faults')).json.rules, [])
  assert.deepEqual((await em.control('GET', '/config')).json, { qps: 50, otherQps: 1000, validThreshold: 1000 })
  assert.deepEqual((await em.control('GET', '/requests')).json.requests, [])
  assert.equal((await em.api('GET', '/user/info/')).json.code, 0)
})

test('control API: summary, members of an unknown audience, invalid config', async () => {
  const summary = (await em.control('GET', '')).json
  assert.match(summary.emulator, /emulator/i)
  assert.equal(summary.credentials.app_id, 'emulator-app')
  assert.equal(summary.credentials.access_token, TOKEN)
  assert.equal(summary.counts.advertisers, 2)
  const missing = await em.control('GET', '/audiences/123/members')
  assert.equal(missing.status, 404)
  assert.ok(missing.json.error)
  assert.equal((await em.control('POST', '/config', { qps: -1 })).status, 400)
})

test('plugin mounts under a prefix inside another app without leaking its parsers', async () => {
  const host = Fastify({ routerOptions: { ignoreTrailingSlash: true } })
  host.post('/host/echo', async (request) => ({ got: request.body }))
  const state = new EmulatorState()
  await host.register(emulatorPlugin, { prefix: '/emulator', state })
  await host.ready()
  try {
    const headers = { 'access-token': TOKEN }
    for (const url of ['/emulator/open_api/v1.3/user/info/', '/emulator/open_api/v1.3/user/info']) {
      const res = await host.inject({ method: 'GET', url, headers })
      assert.equal(res.statusCode, 200, url)
      assert.equal(res.json().code, 0)
    }
    const created = await host.inject({
      method: 'POST',
      url: '/emulator/open_api/v1.3/segment/audience/',
      headers: { ...headers, 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify({ advertiser_id: ADV1, custom_audience_name: 'mounted' })
    })
    assert.equal(created.json().code, 0)
    assert.equal(state.audiences.size, 1)

    const log = await host.inject({ method: 'GET', url: '/emulator/_emulator/requests' })
    assert.deepEqual(
      log.json().requests.map((r: any) => r.path),
      ['/open_api/v1.3/user/info/', '/open_api/v1.3/user/info', '/open_api/v1.3/segment/audience/']
    )
    const consent = await host.inject({ method: 'GET', url: '/emulator/portal/auth?app_id=emulator-app&state=s&redirect_uri=http://127.0.0.1:9/cb&approve=1' })
    assert.equal(consent.statusCode, 302)

    // The host keeps Fastify's own JSON parser: an empty JSON body is still its 400.
    const empty = await host.inject({ method: 'POST', url: '/host/echo', headers: { 'content-type': 'application/json' }, payload: '' })
    assert.equal(empty.statusCode, 400)
    const echo = await host.inject({ method: 'POST', url: '/host/echo', payload: { a: 1 } })
    assert.deepEqual(echo.json(), { got: { a: 1 } })
  } finally {
    await host.close()
  }
})

test('mapping bodies far above the default 1 MB limit are accepted', async () => {
  const audience = await em.createAudience('big')
  const rows = []
  for (let i = 0; i < 10_000; i++) {
    rows.push([
      { id: sha256(`e${i}`), audience_ids: [audience] },
      { id: sha256(`p${i}`), audience_ids: [audience] },
      { id: sha256(`m${i}`), audience_ids: [audience] }
    ])
  }
  const body = JSON.stringify({ advertiser_ids: [ADV1], action: 'add', id_schema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'], batch_data: rows })
  assert.ok(body.length > 3_000_000)
  const res = await fetch(`${em.emulator.apiUrl}/v1.3/segment/mapping/`, {
    method: 'POST',
    headers: { 'Access-Token': TOKEN, 'content-type': 'application/json' },
    body
  })
  const json: any = await res.json()
  assert.equal(json.code, 0, json.message)
  assert.equal(memberCount(audience), 30_000)
})

test('a seed adds advertisers, tokens and audiences with members, and reset restores them', async () => {
  const hash = sha256('seeded@x.com')
  const state = new EmulatorState({
    seed: {
      advertisers: [{ advertiser_id: '7000000000000000003', name: 'Seeded', currency: 'EUR' }],
      tokens: [{ access_token: 'seeded-token', advertiser_ids: ['7000000000000000003'] }],
      audiences: [
        { advertiser_id: '7000000000000000003', name: 'Seeded audience', audience_id: '7300000000000000042', members: { EMAIL_SHA256: [hash.toUpperCase()] } }
      ]
    }
  })
  state.createAudience('7000000000000000003', 'dropped by reset')
  state.reset()
  const local = await EmulatorClient.start({ state })
  try {
    const audiences = (await local.control('GET', '/audiences')).json.audiences
    assert.deepEqual(
      audiences.map((a: any) => [a.audience_id, a.name, a.total]),
      [['7300000000000000042', 'Seeded audience', 1]]
    )
    assert.deepEqual((await local.control('GET', '/audiences/7300000000000000042/members')).json.members.EMAIL_SHA256, [hash])
    const list = await local.api('GET', '/dmp/custom_audience/list/', { token: 'seeded-token', query: { advertiser_id: '7000000000000000003' } })
    assert.equal(list.json.data.list[0].cover_num, 1)
  } finally {
    await local.close()
  }
})

test('a fault may combine latency with a code', async () => {
  await em.control('POST', '/faults', { rules: [{ path: '/user/info/', code: 40133, latencyMs: 100, count: 1 }] })
  const started = performance.now()
  const { json } = await em.api('GET', '/user/info/')
  assert.ok(performance.now() - started >= 90)
  assert.equal(json.code, 40133)
  assert.match(json.message, /retry/i)
})
