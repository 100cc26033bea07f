/**
 * Segment HTTP Tracking API compatibility of the real server (SPEC §3.1): every /v1 route, both ways
 * of sending the write key, gzip, Segment's size limits, refusals that name the problem, the plain
 * membership API, and Segment's own Node SDK pointed at the service. Delivery is checked in the
 * built-in emulator's audience; after every bad request the server stays healthy.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { after, before, test } from 'node:test'
import { Analytics } from '@segment/analytics-node'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuMembers, waitFor } from '../helpers/emu-control.js'

const WK = 'wk_ingest_test'
const AUD = 'ingest_aud'
const dir = mkdtempSync(join(tmpdir(), 'tta-ingest-'))
process.env.DATABASE_URL = `sqlite:${join(dir, 'db.sqlite')}`
process.env.ADMIN_PASSWORD = 'ingest-test-password'
process.env.SECRET_KEY = 'ingest-test-secret'
delete process.env.TIKTOK_API_URL
delete process.env.PUBLIC_URL
const { startService } = await import('../../src/server/serve.js')
type Running = Awaited<ReturnType<typeof startService>>

let svc: Running
let url: string
let audienceId: string

before(async () => {
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - { name: engage, writeKey: ${WK} }
destinations:
  - name: tiktok
    source: engage
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    batchSize: 100
    mappings:
      - name: Sync
        action: syncAudience
        trigger: 'type = "track" or type = "identify"'
        mapping: { send_phone: false, send_advertising_id: false }
    audiences:
      - { key: ${AUD}, name: Ingest audience, advertiserId: "7000000000000000001", sendTrack: true, sendIdentify: true }
delivery: { windowMs: 50, retryBaseMs: 50 }
`
  )
  svc = await startService({ port: 0, banner: false, config, emulator: true, dataDir: dir })
  url = svc.url
  const aud = (await emuAudiences(`${url}/emulator`)).find((a) => a.name === 'Ingest audience')
  assert.ok(aud, 'the connected audience was created in the built-in emulator')
  audienceId = aud.audience_id
})
after(async () => {
  await svc?.close()
  rmSync(dir, { recursive: true, force: true })
})

const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` })
const JSON_CT = { 'content-type': 'application/json' }

async function post(
  path: string,
  body: string | Buffer | object,
  headers: Record<string, string> = {}
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { ...JSON_CT, ...headers },
    body: typeof body === 'string' ? body : Buffer.isBuffer(body) ? new Uint8Array(body) : JSON.stringify(body)
  })
  const text = await r.text()
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(text) as Record<string, unknown>
  } catch {
    parsed = { raw: text }
  }
  return { status: r.status, body: parsed }
}

const emailOf = (tag: string) => `${tag}@ingest.example.com`
const track = (tag: string, member = true) => audienceEvent({ userId: tag, email: emailOf(tag) }, AUD, member, { messageId: `msg-${tag}-${member}` })
function identify(tag: string, member = true): Record<string, unknown> {
  return {
    type: 'identify',
    userId: tag,
    messageId: `msg-id-${tag}-${member}`,
    traits: { email: emailOf(tag), [AUD]: member },
    context: {
      traits: { email: emailOf(tag) },
      personas: { computation_class: 'audience', computation_key: AUD, computation_id: 'aud_x', namespace: 'spa_test' }
    }
  }
}

async function members(): Promise<Set<string>> {
  return new Set((await emuMembers(`${url}/emulator`, audienceId)).EMAIL_SHA256)
}
async function expectMembers(tags: string[], absent: string[] = [], timeoutMs = 15_000): Promise<void> {
  let last = new Set<string>()
  const ok = await waitFor(async () => {
    last = await members()
    return tags.every((t) => last.has(sha256(emailOf(t)))) && absent.every((t) => !last.has(sha256(emailOf(t))))
  }, timeoutMs)
  const missing = tags.filter((t) => !last.has(sha256(emailOf(t))))
  const extra = absent.filter((t) => last.has(sha256(emailOf(t))))
  assert.ok(ok, `emulator audience: missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}`)
}
async function assertHealthy(after: string): Promise<void> {
  const r = await fetch(`${url}/healthz`)
  assert.equal(r.status, 200, `healthz after ${after}`)
  assert.deepEqual(await r.json(), { status: 'ok' })
}

test('every route accepts its call: write key by Basic auth or in the body, gzip bodies; 200 only once stored, and the events reach TikTok', async () => {
  const ok = { status: 200, body: { success: true } }
  assert.deepEqual(await post('/v1/track', track('t-basic'), basic(WK)), ok)
  assert.deepEqual(await post('/v1/t', { ...track('t-short'), writeKey: WK }), ok)
  assert.deepEqual(await post('/v1/identify', identify('i-basic'), basic(WK)), ok)
  assert.deepEqual(await post('/v1/i', { ...identify('i-short'), writeKey: WK }), ok)
  assert.deepEqual(await post('/v1/batch', { batch: [track('b-1'), identify('b-2')], writeKey: WK, sentAt: new Date().toISOString() }), ok)
  const gz = gzipSync(JSON.stringify({ batch: [track('gz-1'), track('gz-2')], sentAt: new Date().toISOString() }))
  assert.deepEqual(await post('/v1/batch', gz, { ...basic(WK), 'content-encoding': 'gzip' }), ok)
  assert.deepEqual(await post('/v1/track', gzipSync(JSON.stringify({ ...track('gz-3'), writeKey: WK })), { 'content-encoding': 'gzip' }), ok)
  // A Basic password is ignored (Segment's write key is the user name); a key in the body with no header also works.
  assert.deepEqual(await post('/v1/track', track('t-pass'), { authorization: `Basic ${Buffer.from(`${WK}:anything`).toString('base64')}` }), ok)
  // The 200 means committed: the event is in the database at once.
  const stored = await svc.ctx.store.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE message_id = 'msg-t-basic-true'")
  assert.equal(Number(stored?.n), 1)
  await expectMembers(['t-basic', 't-short', 'i-basic', 'i-short', 'b-1', 'b-2', 'gz-1', 'gz-2', 'gz-3', 't-pass'])
  // An exit on any route removes the member again.
  assert.deepEqual(await post('/v1/identify', identify('i-basic', false), basic(WK)), ok)
  assert.deepEqual(await post('/v1/t', track('t-basic', false), basic(WK)), ok)
  await expectMembers(['t-short'], ['i-basic', 't-basic'])
})

test('bad requests are refused with the status and a message naming the problem; nothing of them is stored; the server stays healthy', async () => {
  const big = 'x'.repeat(33 * 1024)
  const cases: { name: string; path: string; body: string | Buffer | object; headers?: Record<string, string>; status: number; error: RegExp }[] = [
    { name: 'invalid JSON', path: '/v1/track', body: '{"type":"track",', headers: basic(WK), status: 400, error: /not valid JSON/ },
    { name: 'invalid JSON (batch)', path: '/v1/batch', body: '{"batch":[}', headers: basic(WK), status: 400, error: /not valid JSON/ },
    { name: 'not an object', path: '/v1/track', body: '[1,2]', headers: basic(WK), status: 400, error: /JSON object/ },
    { name: 'batch body not an object', path: '/v1/batch', body: '"hello"', headers: basic(WK), status: 400, error: /JSON object/ },
    { name: 'missing batch', path: '/v1/batch', body: { events: [track('bad-0')] }, headers: basic(WK), status: 400, error: /"batch"/ },
    { name: 'batch not an array', path: '/v1/batch', body: { batch: { a: 1 } }, headers: basic(WK), status: 400, error: /"batch" must be an array/ },
    {
      name: 'batch[3] not an object',
      path: '/v1/batch',
      body: { batch: [track('bad-1'), track('bad-2'), track('bad-3'), 'oops'] },
      headers: basic(WK),
      status: 400,
      error: /batch\[3\]/
    },
    {
      name: 'batch[3] track without event',
      path: '/v1/batch',
      body: { batch: [track('bad-4'), track('bad-5'), track('bad-6'), { type: 'track', userId: 'u' }] },
      headers: basic(WK),
      status: 400,
      error: /batch\[3\].*"event"/
    },
    {
      name: 'batch[3] no user',
      path: '/v1/batch',
      body: { batch: [track('bad-7'), track('bad-8'), track('bad-9'), { type: 'identify', traits: {} }] },
      headers: basic(WK),
      status: 400,
      error: /batch\[3\].*userId/
    },
    { name: 'wrong type for the route', path: '/v1/identify', body: track('bad-10'), headers: basic(WK), status: 400, error: /"type"/ },
    { name: 'empty body', path: '/v1/track', body: '', headers: basic(WK), status: 400, error: /empty/ },
    { name: 'blank body', path: '/v1/batch', body: '   ', headers: basic(WK), status: 400, error: /empty/ },
    {
      name: 'bad gzip',
      path: '/v1/batch',
      body: Buffer.from('this is not gzip at all'),
      headers: { ...basic(WK), 'content-encoding': 'gzip' },
      status: 400,
      error: /gzip/
    },
    {
      name: 'truncated gzip',
      path: '/v1/track',
      body: gzipSync(JSON.stringify(track('bad-11'))).subarray(0, 20),
      headers: { ...basic(WK), 'content-encoding': 'gzip' },
      status: 400,
      error: /gzip/
    },
    { name: 'missing write key', path: '/v1/track', body: track('bad-12'), status: 401, error: /missing write key/ },
    { name: 'missing write key (batch)', path: '/v1/batch', body: { batch: [track('bad-13')] }, status: 401, error: /missing write key/ },
    { name: 'unknown write key (Basic)', path: '/v1/track', body: track('bad-14'), headers: basic('wk_nobody'), status: 401, error: /unknown write key/ },
    { name: 'unknown write key (body)', path: '/v1/batch', body: { batch: [track('bad-15')], writeKey: 'wk_nobody' }, status: 401, error: /unknown write key/ },
    {
      name: 'event over 32 KB',
      path: '/v1/track',
      body: { ...track('bad-16'), properties: { [AUD]: true, audience_key: AUD, pad: big } },
      headers: basic(WK),
      status: 413,
      error: /32 KB/
    },
    {
      name: 'event over 32 KB inside a batch',
      path: '/v1/batch',
      body: { batch: [track('bad-17'), { ...track('bad-18'), properties: { [AUD]: true, pad: big } }] },
      headers: basic(WK),
      status: 413,
      error: /batch\[1\].*32 KB/
    },
    {
      name: 'batch over 500 KB',
      path: '/v1/batch',
      body: {
        batch: Array.from({ length: 20 }, (_, i) => ({ ...track(`bad-big-${i}`), properties: { [AUD]: true, audience_key: AUD, pad: 'y'.repeat(30 * 1024) } }))
      },
      headers: basic(WK),
      status: 413,
      error: /500 KB/
    },
    {
      name: 'gzip batch over 500 KB once decompressed',
      path: '/v1/batch',
      body: gzipSync(
        JSON.stringify({
          batch: Array.from({ length: 20 }, (_, i) => ({ ...track(`bad-gzbig-${i}`), properties: { [AUD]: true, pad: 'z'.repeat(30 * 1024) } }))
        })
      ),
      headers: { ...basic(WK), 'content-encoding': 'gzip' },
      status: 413,
      error: /500 KB/
    }
  ]
  for (const c of cases) {
    const r = await post(c.path, c.body, c.headers)
    assert.equal(r.status, c.status, `${c.name}: ${JSON.stringify(r.body)}`)
    assert.equal(r.body.success, false, c.name)
    assert.match(String(r.body.error), c.error, c.name)
    await assertHealthy(c.name)
  }
  // None of the refused requests stored anything (a refused batch is refused whole).
  const refused = await svc.ctx.store.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE message_id LIKE 'msg-bad-%'")
  assert.equal(Number(refused?.n), 0)
  // Valid events still go through after all of that.
  assert.equal((await post('/v1/batch', { batch: [track('after-bad-1'), identify('after-bad-2')] }, basic(WK))).status, 200)
  await expectMembers(['after-bad-1', 'after-bad-2'], ['bad-1', 'bad-4', 'bad-17'])
})

test('/v1/audiences/:key/members adds and removes members; refuses bad lists', async () => {
  const add = await post(
    `/v1/audiences/${AUD}/members`,
    { destination: 'tiktok', add: [{ email: emailOf('m-1') }, { email: emailOf('m-2') }, { email: emailOf('m-3') }] },
    basic(WK)
  )
  assert.deepEqual(add, { status: 200, body: { success: true, accepted: 3 } })
  await expectMembers(['m-1', 'm-2', 'm-3'])
  const remove = await post(`/v1/audiences/${AUD}/members`, { destination: 'tiktok', remove: [{ email: emailOf('m-2') }], writeKey: WK })
  assert.equal(remove.status, 200)
  await expectMembers(['m-1', 'm-3'], ['m-2'])
  // An empty identifier counts as not given: the member is accepted for the ones it has.
  assert.deepEqual(await post(`/v1/audiences/${AUD}/members`, { destination: 'tiktok', add: [{ email: '', phone: '+14155550100' }] }, basic(WK)), {
    status: 200,
    body: { success: true, accepted: 1 }
  })

  const bad: [object, Record<string, string>, number, RegExp][] = [
    [{ add: [{ email: emailOf('m-9') }] }, basic(WK), 400, /"destination"/],
    [{ destination: 'tiktok', add: 'nope' }, basic(WK), 400, /"add" must be an array/],
    [{ destination: 'tiktok', add: [{ name: 'x' }] }, basic(WK), 400, /add\[0\]/],
    [{ destination: 'tiktok', remove: [{ email: 42 }] }, basic(WK), 400, /remove\[0\]\.email/],
    [{ destination: 'tiktok' }, basic(WK), 400, /nothing to do/],
    [{ destination: 'tiktok', add: [{ email: emailOf('m-9') }] }, {}, 401, /write key/]
  ]
  for (const [body, headers, status, error] of bad) {
    const r = await post(`/v1/audiences/${AUD}/members`, body, headers)
    assert.equal(r.status, status, JSON.stringify(r.body))
    assert.match(String(r.body.error), error)
    await assertHealthy(`members ${JSON.stringify(body)}`)
  }
})

test('a write key refused once is accepted as soon as a source has it (unknown keys are not cached)', async () => {
  const key = 'wk_created_later'
  assert.equal((await post('/v1/track', track('later-1'), basic(key))).status, 401)
  const created = await fetch(`${url}/api/sources`, {
    method: 'POST',
    headers: { ...JSON_CT, authorization: `Basic ${Buffer.from('admin:ingest-test-password').toString('base64')}` },
    body: JSON.stringify({ name: 'created-later', writeKey: key })
  })
  assert.equal(created.status, 201)
  assert.equal((await post('/v1/track', track('later-1'), basic(key))).status, 200)
})

test("Segment's own Node SDK (@segment/analytics-node) pointed at the service delivers Engage track and identify calls", async () => {
  const statuses: number[] = []
  const errors: unknown[] = []
  const analytics = new Analytics({ writeKey: WK, host: url, path: '/v1/batch', flushAt: 5, flushInterval: 200, maxRetries: 1 })
  analytics.on('http_response', (r: { status: number }) => statuses.push(r.status))
  analytics.on('error', (e: unknown) => errors.push(e))
  const personas = { computation_class: 'audience', computation_key: AUD, computation_id: 'aud_sdk', namespace: 'spa_test' }
  for (let i = 0; i < 6; i++) {
    analytics.track({
      userId: `sdk-t${i}`,
      event: 'Audience Entered',
      properties: { audience_key: AUD, [AUD]: true },
      context: { traits: { email: emailOf(`sdk-t${i}`) }, personas }
    })
  }
  for (let i = 0; i < 4; i++) {
    analytics.identify({
      userId: `sdk-i${i}`,
      traits: { email: emailOf(`sdk-i${i}`), [AUD]: true },
      context: { traits: { email: emailOf(`sdk-i${i}`) }, personas }
    })
  }
  // An exit through the SDK too, sent after its enter was acknowledged.
  await analytics.flush()
  analytics.track({
    userId: 'sdk-t0',
    event: 'Audience Exited',
    properties: { audience_key: AUD, [AUD]: false },
    context: { traits: { email: emailOf('sdk-t0') }, personas }
  })
  await analytics.closeAndFlush({ timeout: 10_000 })
  assert.deepEqual(errors, [], 'the SDK reported no delivery error')
  assert.ok(statuses.length >= 2 && statuses.every((s) => s === 200), `the SDK's requests were answered 200: ${statuses.join(',')}`)
  await expectMembers(['sdk-t1', 'sdk-t2', 'sdk-t3', 'sdk-t4', 'sdk-t5', 'sdk-i0', 'sdk-i1', 'sdk-i2', 'sdk-i3'], ['sdk-t0'])
  // Stored under the SDK's own message ids (idempotent retries): 4 identify and 7 track calls.
  const stored = await svc.ctx.store.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE message_id LIKE 'node-next-%'")
  assert.equal(Number(stored?.n), 11)
})
