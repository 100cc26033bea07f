/**
 * Hostile input on every ingestion route (issue 17 item 1, issue 21 items 3 and 7): deep nesting
 * (objects and arrays, below the byte limits), huge strings, invalid JSON and UTF-8, wrong types,
 * gzip bombs, `__proto__`/`constructor` keys. Every refusal is a 4xx whose message names the
 * problem — never a 5xx (Segment's SDKs retry those forever) — and afterwards the service is
 * healthy, unpolluted and delivers a valid event. The service runs in this process (so its
 * Object.prototype can be checked) with one route worker (the `/v1/batch` path with the key in the
 * header).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { after, before, test } from 'node:test'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuMembers, waitFor } from '../helpers/emu-control.js'

const WK = 'wk_hostile_test'
const AUD = 'hostile_aud'
const dir = mkdtempSync(join(tmpdir(), 'tta-hostile-'))
process.env.DATABASE_URL = `sqlite:${join(dir, 'db.sqlite')}`
process.env.ADMIN_PASSWORD = 'hostile-test-password'
process.env.SECRET_KEY = 'hostile-test-secret'
process.env.TTA_ROUTE_WORKERS = '1'
delete process.env.TIKTOK_API_URL
delete process.env.PUBLIC_URL
const { startService } = await import('../../src/server/serve.js')
const { MAX_EVENT_DEPTH } = await import('../../src/pipeline/event.js')

let svc: Awaited<ReturnType<typeof startService>>
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
      - { key: ${AUD}, name: Hostile audience, advertiserId: "7000000000000000001", sendTrack: true, sendIdentify: true }
delivery: { windowMs: 50, retryBaseMs: 50 }
`
  )
  svc = await startService({ port: 0, banner: false, config, emulator: true, dataDir: dir })
  url = svc.url
  const aud = (await emuAudiences(`${url}/emulator`)).find((a) => a.name === 'Hostile audience')
  assert.ok(aud)
  audienceId = aud.audience_id
})
after(async () => {
  await svc?.close()
  rmSync(dir, { recursive: true, force: true })
})

const HEADER = { authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}` }
const SINGLE_ROUTES = [
  ['/v1/track', 'track'],
  ['/v1/t', 'track'],
  ['/v1/identify', 'identify'],
  ['/v1/i', 'identify'],
  ['/v1/page', 'page'],
  ['/v1/p', 'page'],
  ['/v1/screen', 'screen'],
  ['/v1/group', 'group'],
  ['/v1/alias', 'alias']
] as const

async function post(
  path: string,
  body: string | Buffer,
  headers: Record<string, string> = {}
): Promise<{ status: number; error: string; retryAfter: string | null }> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : new Uint8Array(body)
  })
  const text = await r.text()
  let error = text
  try {
    error = String((JSON.parse(text) as { error?: unknown }).error ?? text)
  } catch {
    // not JSON: the text itself is the message
  }
  return { status: r.status, error, retryAfter: r.headers.get('retry-after') }
}

/** JSON text of `levels` nested containers around 1 (built as text: JSON.stringify cannot write it). */
function nested(kind: 'object' | 'array', levels: number): string {
  return kind === 'object' ? '{"":'.repeat(levels) + '1' + '}'.repeat(levels) : '['.repeat(levels) + '1' + ']'.repeat(levels)
}

let seq = 0
/** A valid event of `type` as JSON text, with `deep` (JSON text) as properties.deep: 2 levels (event, properties) + deep's own. */
function eventText(type: string, deep?: string, extra: Record<string, unknown> = {}): string {
  const tag = `hostile-${++seq}`
  const event: Record<string, unknown> = { type, userId: tag, messageId: `msg-${tag}`, properties: { deep: '__DEEP__' }, ...extra }
  if (type === 'track') event.event = 'Hostile Test'
  if (type === 'group') event.groupId = 'g1'
  if (type === 'alias') event.previousId = 'p1'
  return JSON.stringify(event).replace('"__DEEP__"', deep ?? '1')
}

interface Case {
  name: string
  path: string
  body: string | Buffer
  headers?: Record<string, string>
  status: number
  error: RegExp
}

async function expectRefused(cases: Case[]): Promise<void> {
  for (const c of cases) {
    const r = await post(c.path, c.body, c.headers ?? HEADER)
    assert.equal(r.status, c.status, `${c.name}: ${r.status} ${r.error.slice(0, 300)}`)
    assert.match(r.error, c.error, c.name)
    await assertHealthy(c.name)
  }
}

async function assertHealthy(after: string): Promise<void> {
  const r = await fetch(`${url}/healthz`)
  assert.equal(r.status, 200, `healthz after ${after}`)
}

const depthError = new RegExp(`nested more than ${MAX_EVENT_DEPTH} levels`)

test('deep nesting (objects and arrays, 5,000 and 20,000 levels, and one past the limit) is a 400 naming the depth limit on every route and path', async () => {
  const cases: Case[] = []
  for (const kind of ['object', 'array'] as const) {
    for (const levels of [MAX_EVENT_DEPTH - 1, 5000, 20_000]) {
      const deep = nested(kind, levels)
      // Single routes take 32 KB: 5,000 levels fit as arrays (10 KB); objects that deep are bigger than the limit.
      if (deep.length < 30_000) {
        for (const [path, type] of SINGLE_ROUTES) {
          cases.push({ name: `${path} ${kind} ${levels} deep, key in header`, path, body: eventText(type, deep), status: 400, error: depthError })
        }
        cases.push({
          name: `/v1/track ${kind} ${levels} deep, key in body`,
          path: '/v1/track',
          body: eventText('track', deep, { writeKey: WK }),
          headers: {},
          status: 400,
          error: depthError
        })
        cases.push({
          name: `/v1/identify "type" ${kind} ${levels} deep`,
          path: '/v1/identify',
          body: eventText('identify').replace('"type":"identify"', `"type":${deep}`),
          status: 400,
          error: /"type"/
        })
      }
      const batch = `{"batch":[${eventText('track')},${eventText('identify', deep)}]`
      cases.push({
        name: `/v1/batch ${kind} ${levels} deep, key in header`,
        path: '/v1/batch',
        body: batch + '}',
        status: 400,
        error: new RegExp(`batch\\[1\\]: .*${depthError.source}`)
      })
      cases.push({
        name: `/v1/batch ${kind} ${levels} deep, key in body`,
        path: '/v1/batch',
        body: batch + `,"writeKey":"${WK}"}`,
        headers: {},
        status: 400,
        error: new RegExp(`batch\\[1\\]: .*${depthError.source}`)
      })
      // Deep where no event is: the batch-wide context applies to every event.
      cases.push({
        name: `/v1/batch context ${kind} ${levels} deep`,
        path: '/v1/batch',
        body: `{"batch":[${eventText('track')}],"context":{"x":${deep}}}`,
        status: 400,
        error: depthError
      })
      cases.push({
        name: `/v1/batch as the batch itself, ${kind} ${levels} deep`,
        path: '/v1/batch',
        body: `{"batch":[${deep}]}`,
        status: 400,
        error: levels > MAX_EVENT_DEPTH ? depthError : /batch\[0\]: (an event must be a JSON object|"type" is missing)/
      })
      cases.push({
        name: `members API member ${kind} ${levels} deep`,
        path: `/v1/audiences/${AUD}/members`,
        body: `{"destination":"tiktok","add":[{"email":${deep}}]}`,
        status: 400,
        error: /add\[0\]\.email must be a string/
      })
    }
  }
  await expectRefused(cases)
  // At the limit exactly: accepted (the event and properties are 2 of the levels).
  for (const kind of ['object', 'array'] as const) {
    const r = await post('/v1/batch', `{"batch":[${eventText('track', nested(kind, MAX_EVENT_DEPTH - 2))}]}`, HEADER)
    assert.equal(r.status, 200, `${kind} nested ${MAX_EVENT_DEPTH} levels: ${r.error}`)
    const single = await post('/v1/track', eventText('track', nested(kind, MAX_EVENT_DEPTH - 2)), HEADER)
    assert.equal(single.status, 200, `${kind} nested ${MAX_EVENT_DEPTH} levels on /v1/track: ${single.error}`)
  }
})

test('huge strings and bodies, gzip bombs: 413 naming what is too large and its limit', async () => {
  const huge = 'x'.repeat(6 * 1024 * 1024)
  const bomb = (prefix: string) => gzipSync(Buffer.concat([Buffer.from(prefix), Buffer.alloc(40 * 1024 * 1024, ' ')]))
  await expectRefused([
    {
      name: '6 MB string on /v1/track',
      path: '/v1/track',
      body: eventText('track', JSON.stringify(huge)),
      status: 413,
      error: /request body is larger than .*32 KB per event/
    },
    {
      name: '6 MB string on /v1/batch',
      path: '/v1/batch',
      body: `{"batch":[${eventText('track', JSON.stringify(huge))}]}`,
      status: 413,
      error: /request body is larger than .*500 KB per batch/
    },
    {
      name: '6 MB members body',
      path: `/v1/audiences/${AUD}/members`,
      body: `{"destination":"tiktok","add":[{"email":${JSON.stringify(huge)}}]}`,
      status: 413,
      error: /request body is larger than .*500 KB per request/
    },
    {
      name: '32.5 KB event on /v1/track',
      path: '/v1/track',
      body: eventText('track', JSON.stringify('y'.repeat(32 * 1024 + 300))),
      status: 413,
      error: /^the event is 33 KB: Segment's limit is 32 KB per event/
    },
    {
      name: '40 KB event in a batch',
      path: '/v1/batch',
      body: `{"batch":[${eventText('track')},${eventText('track', JSON.stringify('y'.repeat(40 * 1024)))}]}`,
      status: 413,
      error: /^batch\[1\]: the event is 41 KB: Segment's limit is 32 KB per event/
    },
    {
      name: '40 KB of escapes in a batch, key in body',
      path: '/v1/batch',
      body: `{"writeKey":"${WK}","batch":[${eventText('track', JSON.stringify('\u0001'.repeat(7000)))}]}`,
      headers: {},
      status: 413,
      error: /^batch\[0\]: the event is \d+ KB: Segment's limit is 32 KB per event/
    },
    {
      name: 'gzip bomb on /v1/track',
      path: '/v1/track',
      body: bomb(''),
      headers: { ...HEADER, 'content-encoding': 'gzip' },
      status: 413,
      error: /32 KB per event/
    },
    {
      name: 'gzip bomb on /v1/batch',
      path: '/v1/batch',
      body: bomb('{"batch":['),
      headers: { ...HEADER, 'content-encoding': 'gzip' },
      status: 413,
      error: /500 KB per batch/
    },
    {
      name: 'gzip bomb of whitespace only on /v1/batch',
      path: '/v1/batch',
      body: gzipSync(Buffer.alloc(20 * 1024 * 1024, ' ')),
      headers: { ...HEADER, 'content-encoding': 'gzip' },
      status: 413,
      error: /500 KB per batch/
    }
  ])
})

test('invalid JSON, invalid UTF-8 and wrong types: 400 naming the problem', async () => {
  // Bytes that are no UTF-8 inside a string (after the quote opening `"u…`).
  const invalidUtf8 = (text: string) => {
    const at = text.indexOf('"u') + 1
    return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(text.slice(at))])
  }
  const ev = eventText('track')
  await expectRefused([
    { name: 'truncated JSON', path: '/v1/track', body: ev.slice(0, -3), status: 400, error: /not valid JSON/ },
    { name: 'trailing garbage', path: '/v1/batch', body: `{"batch":[${ev}]}}`, status: 400, error: /not valid JSON/ },
    { name: 'NaN', path: '/v1/batch', body: `{"batch":[NaN]}`, headers: {}, status: 400, error: /not valid JSON/ },
    { name: 'single quotes', path: '/v1/identify', body: "{'type':'identify'}", status: 400, error: /not valid JSON/ },
    { name: 'invalid UTF-8 on /v1/track', path: '/v1/track', body: invalidUtf8(ev), status: 400, error: /not valid UTF-8/ },
    { name: 'invalid UTF-8 on /v1/batch, key in header', path: '/v1/batch', body: invalidUtf8(`{"batch":[${ev}]}`), status: 400, error: /not valid UTF-8/ },
    {
      name: 'invalid UTF-8 on /v1/batch, key in body',
      path: '/v1/batch',
      body: invalidUtf8(`{"writeKey":"${WK}","batch":[${ev}]}`),
      headers: {},
      status: 400,
      error: /not valid UTF-8/
    },
    {
      name: 'invalid UTF-8 on the members API',
      path: `/v1/audiences/${AUD}/members`,
      body: invalidUtf8(`{"destination":"tiktok","add":[{"email":"a@b.example","x":"u"}]}`),
      status: 400,
      error: /not valid UTF-8/
    },
    { name: '"type" a number', path: '/v1/track', body: ev.replace('"type":"track"', '"type":5'), status: 400, error: /"type"/ },
    {
      name: '"type" an object on a batch',
      path: '/v1/batch',
      body: `{"batch":[${ev.replace('"type":"track"', '"type":{"a":[1]}')}]}`,
      status: 400,
      error: /batch\[0\]: "type"/
    },
    {
      name: '"userId" an object',
      path: '/v1/track',
      body: ev.replace(/"userId":"[^"]*"/, '"userId":{"x":1}'),
      status: 400,
      error: /"userId" or "anonymousId"/
    },
    { name: '"event" a number', path: '/v1/track', body: ev.replace('"event":"Hostile Test"', '"event":42'), status: 400, error: /"event"/ },
    {
      name: '"properties" a string',
      path: '/v1/track',
      body: ev.replace('"properties":{"deep":1}', '"properties":"x"'),
      status: 400,
      error: /"properties" must be an object/
    },
    {
      name: '"context" an array',
      path: '/v1/batch',
      body: `{"batch":[${ev.replace('"properties":{"deep":1}', '"context":[1]')}]}`,
      status: 400,
      error: /"context" must be an object/
    },
    {
      name: '"messageId" a number',
      path: '/v1/batch',
      body: `{"batch":[${ev.replace(/"messageId":"[^"]*"/, '"messageId":7')}]}`,
      status: 400,
      error: /"messageId"/
    },
    { name: '"batch" a string', path: '/v1/batch', body: '{"batch":"x"}', status: 400, error: /"batch" must be an array/ },
    { name: '"writeKey" a number', path: '/v1/batch', body: `{"batch":[${ev}],"writeKey":123}`, headers: {}, status: 401, error: /missing write key/ },
    { name: 'body an array', path: '/v1/track', body: `[${ev}]`, status: 400, error: /JSON object/ },
    { name: 'body null', path: '/v1/batch', body: 'null', status: 400, error: /JSON object/ },
    {
      name: '"add" an object',
      path: `/v1/audiences/${AUD}/members`,
      body: '{"destination":"tiktok","add":{"email":"a@b.example"}}',
      status: 400,
      error: /"add" must be an array/
    }
  ])
})

test('__proto__ and constructor keys pollute nothing (here, nor in the route worker); afterwards a valid event is delivered', async () => {
  const pollution = '"__proto__":{"polluted":"yes","anonymousId":"from-proto"},"constructor":{"prototype":{"polluted":"yes","anonymousId":"from-proto"}}'
  const carrier = (type: string) => eventText(type, `{${pollution}}`).replace(/^\{/, `{${pollution},`)
  const accepted: [string, string, Record<string, string>][] = [
    ['/v1/track', carrier('track'), HEADER],
    ['/v1/identify', carrier('identify'), HEADER],
    ['/v1/batch', `{"batch":[${carrier('track')}],"context":{${pollution}},"integrations":{${pollution}}}`, HEADER],
    ['/v1/batch', `{"batch":[${carrier('identify')}],"context":{${pollution}},"writeKey":"${WK}",${pollution}}`, {}],
    [`/v1/audiences/${AUD}/members`, `{"destination":"tiktok","add":[{"email":"proto@hostile.example.com",${pollution}}],${pollution}}`, HEADER]
  ]
  for (const [path, body, headers] of accepted) {
    const r = await post(path, body, headers)
    assert.equal(r.status, 200, `${path}: ${r.error}`)
  }
  // Let the pipeline route, map and deliver them (mapping merges objects: where pollution would happen).
  await Promise.race([svc.ctx.pipeline.whenIdle(), new Promise((r) => setTimeout(r, 10_000))])
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype of the serve process')
  assert.equal(({} as Record<string, unknown>).anonymousId, undefined)
  // A polluted prototype would lend its anonymousId to an event without one: each path must still refuse it.
  const anonymous = '{"type":"track","event":"x","userId":""}'
  for (const [path, body, headers] of [
    ['/v1/track', anonymous, HEADER],
    ['/v1/batch', `{"batch":[${anonymous}]}`, HEADER],
    ['/v1/batch', `{"batch":[${anonymous}],"writeKey":"${WK}"}`, {}]
  ] as const) {
    const r = await post(path, body, headers)
    assert.equal(r.status, 400, `${path} with key ${headers === HEADER ? 'in header' : 'in body'}: ${r.error}`)
    assert.match(r.error, /"userId" or "anonymousId" is required/)
  }
})

test('after all of that the service is healthy and delivers a valid event', async () => {
  await assertHealthy('the hostile requests')
  const email = 'after-hostile@hostile.example.com'
  const r = await post(
    '/v1/batch',
    JSON.stringify({ batch: [audienceEvent({ userId: 'after-hostile', email }, AUD, true, { messageId: 'msg-after-hostile' })] }),
    HEADER
  )
  assert.equal(r.status, 200, r.error)
  const delivered = await waitFor(async () => ((await emuMembers(`${url}/emulator`, audienceId)).EMAIL_SHA256 ?? []).includes(sha256(email)), 15_000)
  assert.ok(delivered, 'the valid event reached the TikTok emulator')
})
