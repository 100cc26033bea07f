/**
 * Back-pressure (issue 17 item 4, issue 21 item 5): with TikTok answering 503 the queue fills; past
 * TTA_MAX_QUEUED every ingestion route answers 429 with Retry-After and a message naming the bound,
 * instead of acknowledging without end; once TikTok is back the queue drains and ingestion accepts
 * again, and every acknowledged event is delivered. Below TTA_MIN_FREE_DISK_MB free, the same.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuFaults, emuMembers, sleep, waitFor } from '../helpers/emu-control.js'

const WK = 'wk_backpressure_test'
const AUD = 'bp_aud'
const MAX_QUEUED = 40
const dir = mkdtempSync(join(tmpdir(), 'tta-backpressure-'))
process.env.DATABASE_URL = `sqlite:${join(dir, 'db.sqlite')}`
process.env.ADMIN_PASSWORD = 'backpressure-test-password'
process.env.SECRET_KEY = 'backpressure-test-secret'
process.env.TTA_MAX_QUEUED = String(MAX_QUEUED)
process.env.TTA_MIN_FREE_DISK_MB = '0'
delete process.env.TIKTOK_API_URL
delete process.env.PUBLIC_URL
const { startService } = await import('../../src/server/serve.js')

let svc: Awaited<ReturnType<typeof startService>>
let url: string
let emu: string
let audienceId: string
const config = join(dir, 'config.yaml')

before(async () => {
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
    batchSize: 10
    mappings:
      - name: Sync
        action: syncAudience
        trigger: 'type = "track"'
        mapping: { send_phone: false, send_advertising_id: false }
    audiences:
      - { key: ${AUD}, name: Back-pressure audience, advertiserId: "7000000000000000001", sendTrack: true }
delivery: { windowMs: 20, retryBaseMs: 100, retryMaxMs: 300 }
`
  )
  svc = await startService({ port: 0, banner: false, config, emulator: true, dataDir: dir })
  url = svc.url
  emu = `${url}/emulator`
  const aud = (await emuAudiences(emu)).find((a) => a.name === 'Back-pressure audience')
  assert.ok(aud)
  audienceId = aud.audience_id
})
after(async () => {
  await svc?.close()
  rmSync(dir, { recursive: true, force: true })
})

const HEADER = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}` }
const emailOf = (tag: string) => `${tag}@bp.example.com`
const track = (tag: string) => audienceEvent({ userId: tag, email: emailOf(tag) }, AUD, true, { messageId: `msg-${tag}` })

async function post(path: string, body: object): Promise<{ status: number; error: string; retryAfter: string | null }> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers: HEADER, body: JSON.stringify(body) })
  const parsed = (await r.json()) as { error?: string }
  return { status: r.status, error: String(parsed.error ?? ''), retryAfter: r.headers.get('retry-after') }
}

test('TikTok down: past TTA_MAX_QUEUED every ingestion route answers 429 with Retry-After; when TikTok is back the queue drains, ingestion resumes, every acknowledged event is delivered', async () => {
  await emuFaults(emu, [{ path: '/segment/mapping/', httpStatus: 503 }])
  const acknowledged: string[] = []
  let refused: Awaited<ReturnType<typeof post>> | undefined
  // 10 events a request; the bound is read once a second, so it holds within a second of ingestion.
  for (let i = 0; i < 200 && !refused; i++) {
    const tags = Array.from({ length: 10 }, (_, k) => `bp-${i}-${k}`)
    const r = await post('/v1/batch', { batch: tags.map(track) })
    if (r.status === 200) acknowledged.push(...tags)
    else refused = r
    await sleep(50)
  }
  assert.ok(refused, `never refused after ${acknowledged.length} acknowledged events`)
  assert.equal(refused.status, 429, refused.error)
  assert.equal(refused.retryAfter, '5')
  assert.match(refused.error, new RegExp(`the delivery queue is full: [\\d,]+ changes wait for TikTok, the bound is ${MAX_QUEUED} \\(TTA_MAX_QUEUED\\)`))
  assert.ok(acknowledged.length >= MAX_QUEUED && acknowledged.length < MAX_QUEUED + 300, `${acknowledged.length} acknowledged before the bound held`)

  // Every ingestion route, while full; the rest of the service answers as usual.
  for (const [path, body] of [
    ['/v1/track', track('bp-single')],
    ['/v1/identify', { type: 'identify', userId: 'bp-identify', traits: {} }],
    [`/v1/audiences/${AUD}/members`, { destination: 'tiktok', add: [{ email: emailOf('bp-member') }] }]
  ] as const) {
    const r = await post(path, body)
    assert.equal(r.status, 429, `${path}: ${r.error}`)
    assert.equal(r.retryAfter, '5', path)
    assert.match(r.error, /TTA_MAX_QUEUED/)
  }
  assert.equal((await fetch(`${url}/healthz`)).status, 200)
  const stats = await fetch(`${url}/api/stats`, { headers: { authorization: `Basic ${Buffer.from('admin:backpressure-test-password').toString('base64')}` } })
  assert.equal(stats.status, 200)

  // TikTok back: the queue drains and ingestion accepts again by itself.
  await emuFaults(emu, [])
  let resumed = false
  for (let i = 0; i < 150 && !resumed; i++) {
    const r = await post('/v1/batch', { batch: [track(`bp-after-${i}`)] })
    if (r.status === 200) {
      acknowledged.push(`bp-after-${i}`)
      resumed = true
    } else assert.equal(r.status, 429, r.error)
    await sleep(200)
  }
  assert.ok(resumed, 'ingestion accepted again within 30 s of TikTok recovering')
  let members = new Set<string>()
  const all = await waitFor(async () => {
    members = new Set((await emuMembers(emu, audienceId)).EMAIL_SHA256 ?? [])
    return acknowledged.every((t) => members.has(sha256(emailOf(t))))
  }, 30_000)
  assert.ok(all, `acknowledged but not delivered: ${acknowledged.filter((t) => !members.has(sha256(emailOf(t)))).length} of ${acknowledged.length}`)
  assert.ok(!members.has(sha256(emailOf('bp-single'))), 'a refused event was not stored')
})

test('below TTA_MIN_FREE_DISK_MB free on the data folder, ingestion answers 429 naming that bound; the rest of the service answers', async () => {
  // More free space than any disk has: the bound holds at once (the option overrides the environment as TTA_MIN_FREE_DISK_MB would).
  process.env.DATABASE_URL = `sqlite:${join(dir, 'disk.sqlite')}`
  // A data folder of its own: the built-in emulator's state file is one per process (emulator/persist.ts).
  const disk = await startService({ port: 0, banner: false, config, emulator: true, dataDir: mkdtempSync(join(dir, 'disk-')), minFreeDiskMb: 1e12 })
  try {
    const r = await fetch(`${disk.url}/v1/track`, { method: 'POST', headers: HEADER, body: JSON.stringify(track('bp-disk')) })
    const body = (await r.json()) as { error: string }
    assert.equal(r.status, 429, body.error)
    assert.equal(r.headers.get('retry-after'), '5')
    assert.match(body.error, /the disk of the data folder is nearly full: [\d,]+ MB free, the bound is 1,000,000,000,000 MB \(TTA_MIN_FREE_DISK_MB\)/)
    assert.equal((await fetch(`${disk.url}/healthz`)).status, 200)
  } finally {
    await disk.close()
  }
})

test('the bounds are read from the environment and refused when not numbers', async () => {
  const { backPressureBounds, DEFAULT_MAX_QUEUED, DEFAULT_MIN_FREE_DISK_MB } = await import('../../src/server/backpressure.js')
  assert.deepEqual(backPressureBounds({}), { maxQueued: DEFAULT_MAX_QUEUED, minFreeDiskMb: DEFAULT_MIN_FREE_DISK_MB })
  assert.deepEqual(backPressureBounds({ TTA_MAX_QUEUED: '10', TTA_MIN_FREE_DISK_MB: '0' }), { maxQueued: 10, minFreeDiskMb: 0 })
  assert.throws(() => backPressureBounds({ TTA_MAX_QUEUED: 'lots' }), /TTA_MAX_QUEUED must be a number/)
  assert.throws(() => backPressureBounds({ TTA_MIN_FREE_DISK_MB: '-1' }), /TTA_MIN_FREE_DISK_MB must be a number/)
})

test('a request arriving while the service shuts down is answered 503 with Retry-After; the one in flight completes', async () => {
  process.env.DATABASE_URL = `sqlite:${join(dir, 'closing.sqlite')}`
  const closing = await startService({ port: 0, banner: false, config, emulator: true, dataDir: mkdtempSync(join(dir, 'closing-')) })
  const { port } = new URL(closing.url)
  const socket = connect(Number(port), '127.0.0.1')
  await once(socket, 'connect')
  let received = ''
  socket.on('data', (d: Buffer) => (received += d.toString()))
  const request = (body: string) =>
    `POST /v1/track HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: ${HEADER.authorization}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`
  const first = JSON.stringify(track('bp-in-flight'))
  // The first request has arrived (its body not yet) when shutdown begins; the second comes after.
  socket.write(request(first) + first.slice(0, 10))
  await sleep(200)
  const closed = closing.close()
  await sleep(200)
  const second = JSON.stringify(track('bp-while-closing'))
  socket.write(first.slice(10) + request(second) + second)
  const complete = await waitFor(async () => (received.match(/HTTP\/1\.1 \d{3}/g) ?? []).length >= 2, 10_000)
  socket.destroy()
  await closed
  assert.ok(complete, `two answers expected, got:\n${received}`)
  const [answer1, answer2] = received.split(/(?=HTTP\/1\.1 \d{3})/)
  assert.ok(answer1 && answer2, received)
  assert.match(answer1, /^HTTP\/1\.1 200/)
  assert.match(answer2, /^HTTP\/1\.1 503/)
  assert.match(answer2, /\r\nretry-after: 5\r\n/i)
  assert.match(answer2, /shutting down/)
})
