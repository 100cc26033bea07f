/**
 * Audience health against the built-in emulator with a 1-second AUDIENCE_HEALTH_INTERVAL: both
 * connected audiences start below 1,000 matched users (warning `small`); one is given 5,000 matched
 * users (the warning clears), the other an expiry 10 days out (warning `expiring`) — in the recorded
 * reads, /api/audience-health and /metrics; sizes recorded over time grow as members are added.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { audienceEvent } from '../helpers/events.js'
import { basic, until } from '../server/admin-service.js'

const PASSWORD = 'health-password'
const ADV = '7000000000000000001'
let dir: string
let service: { url: string; close(): Promise<void> }
const auth = { authorization: basic('admin', PASSWORD) }

async function api(path: string): Promise<any> {
  const r = await fetch(service.url + path, { headers: auth })
  assert.equal(r.status, 200, `${path}: ${r.status}`)
  return r.json()
}
async function emulatorSet(audienceId: string, body: Record<string, unknown>): Promise<void> {
  const r = await fetch(`${service.url}/emulator/_emulator/audiences/${audienceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  assert.equal(r.status, 200, await r.text())
}
const metrics = async () => (await fetch(`${service.url}/metrics`)).text()
type Health = { audienceKey: string; externalAudienceId: string; coverNum: number; checkedAt: number; warnings: { reason: string }[] }
const healthOf = async (key: string): Promise<Health | undefined> =>
  ((await api('/api/audience-health')).audiences as Health[]).find((a) => a.audienceKey === key)

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-health-'))
  process.env.DATABASE_URL = `sqlite:${join(dir, 'db.sqlite')}`
  process.env.ADMIN_PASSWORD = PASSWORD
  process.env.AUDIENCE_HEALTH_INTERVAL = '1s'
  delete process.env.TIKTOK_APP_ID
  delete process.env.TIKTOK_API_URL
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - { name: engage, writeKey: wk_health }
destinations:
  - name: tiktok
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]
    mappings:
      - { name: Add to Audience, action: addToAudience }
    audiences:
      - { key: vip, name: VIP customers, advertiserId: "${ADV}" }
      - { key: winter, name: Winter sale, advertiserId: "${ADV}" }
delivery: { windowMs: 20 }
`
  )
  const { startService } = await import('../../src/server/serve.js')
  service = await startService({ port: 0, banner: false, config, dataDir: dir })
})
after(async () => {
  delete process.env.AUDIENCE_HEALTH_INTERVAL
  await service?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('a bad AUDIENCE_HEALTH_INTERVAL is refused with the variable named', async () => {
  const { parseHealthInterval } = await import('../../src/lifecycle/health/index.js')
  assert.equal(parseHealthInterval(undefined), 3600_000)
  assert.equal(parseHealthInterval('15m'), 900_000)
  assert.throws(() => parseHealthInterval('hourly'), /AUDIENCE_HEALTH_INTERVAL="hourly": give a duration/)
  assert.throws(() => parseHealthInterval('0s'), /at least 1s/)
})

test('warnings appear and clear: small below 1,000 matched users, expiring within 30 days; /metrics follows', { timeout: 60_000 }, async () => {
  const vip = await until('vip read', async () => healthOf('vip'))
  const winter = await until('winter read', async () => healthOf('winter'))
  assert.deepEqual(
    vip.warnings.map((w) => w.reason),
    ['small']
  )
  assert.deepEqual(
    winter.warnings.map((w) => w.reason),
    ['small']
  )
  assert.match(await metrics(), new RegExp(`tiktok_audience_matched_users\\{destination="tiktok",audience="vip",advertiser_id="${ADV}"\\} 0`))
  assert.match(await metrics(), /tiktok_audience_warning\{destination="tiktok",audience="vip",advertiser_id="7000000000000000001",reason="small"\} 1/)

  await emulatorSet(vip.externalAudienceId, { coverNum: 5000 })
  await emulatorSet(winter.externalAudienceId, { coverNum: 2500, expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString() })
  await until('vip small warning cleared', async () => (await healthOf('vip'))?.warnings.length === 0, 10_000)
  await until('winter expiring', async () => (await healthOf('winter'))?.warnings.map((w) => w.reason).join() === 'expiring', 10_000)
  const m = await metrics()
  assert.match(m, new RegExp(`tiktok_audience_matched_users\\{destination="tiktok",audience="vip",advertiser_id="${ADV}"\\} 5000`))
  assert.match(m, /tiktok_audience_warning\{destination="tiktok",audience="vip",advertiser_id="7000000000000000001",reason="small"\} 0/)
  assert.match(m, /tiktok_audience_warning\{destination="tiktok",audience="winter",advertiser_id="7000000000000000001",reason="expiring"\} 1/)
  assert.match(m, /tiktok_audience_warning\{destination="tiktok",audience="winter",advertiser_id="7000000000000000001",reason="small"\} 0/)
})

test("sizes recorded over time grow as members are added (cover_num follows the emulator's members)", { timeout: 60_000 }, async () => {
  const winter = (await healthOf('winter'))!
  await emulatorSet(winter.externalAudienceId, { coverNum: null })
  const events = ['a', 'b', 'c'].map((u) => audienceEvent({ userId: u, email: `${u}@example.com` }, 'winter', true))
  const sent = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic('wk_health', '') },
    body: JSON.stringify({ batch: events })
  })
  assert.equal(sent.status, 200)
  await until('3 matched users read', async () => (await healthOf('winter'))?.coverNum === 3, 15_000)
  const destinations = await api('/api/destinations')
  const history = await api(`/api/destinations/${destinations[0].id}/audiences/winter/health/history`)
  const sizes: number[] = history.reads.map((r: { coverNum: number }) => r.coverNum)
  assert.ok(sizes.length >= 3, JSON.stringify(sizes))
  assert.equal(sizes[0], 0, 'first read: an empty audience')
  assert.ok(sizes.includes(2500), 'the size the emulator was told to report is in the history')
  assert.equal(sizes[sizes.length - 1], 3)
  const times: number[] = history.reads.map((r: { checkedAt: number }) => r.checkedAt)
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
    'oldest first'
  )
})
