/**
 * Audience health of a fan-out connection (SPEC §5.7): one audience sent to two advertisers has a
 * TikTok audience for each, and each is read, recorded, warned about and exported in /metrics on its
 * own (labelled with its advertiser id) — not only the connection's first advertiser.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { basic, until } from '../server/admin-service.js'

const PASSWORD = 'health-fanout-password'
const ADV = '7000000000000000001'
const ADV2 = '7000000000000000002'
let dir: string
let service: { url: string; close(): Promise<void> }
const auth = { authorization: basic('admin', PASSWORD) }

async function api(path: string): Promise<any> {
  const r = await fetch(service.url + path, { headers: auth })
  assert.equal(r.status, 200, `${path}: ${r.status}`)
  return r.json()
}
type Read = { destinationId: number; audienceKey: string; advertiserId: string; externalAudienceId: string; coverNum: number; warnings: { reason: string }[] }
const reads = async (): Promise<Read[]> => ((await api('/api/audience-health')).audiences as Read[]).filter((a) => a.audienceKey === 'big')
const metrics = async () => (await fetch(`${service.url}/metrics`)).text()

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-health-fanout-'))
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
  - { name: engage, writeKey: wk_health_fanout }
destinations:
  - name: fanout
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}", "${ADV2}"]
    mappings:
      - { name: Add to Audience, action: addToAudience }
    audiences:
      - { key: big, name: Big spenders, advertiserIds: ["${ADV}", "${ADV2}"] }
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

test(
  'every advertiser of a fan-out connection is read: its own size and warnings, in /api/audience-health, the history and /metrics',
  { timeout: 60_000 },
  async () => {
    const both = await until(
      'both advertisers read',
      async () => {
        const r = await reads()
        return r.length === 2 ? r : undefined
      },
      15_000
    )
    assert.deepEqual(
      both.map((r) => r.advertiserId),
      [ADV, ADV2],
      'first advertiser, then the further one'
    )
    const [one, two] = both
    assert.ok(one && two)
    assert.notEqual(one.externalAudienceId, two.externalAudienceId)
    const conn = (await api(`/api/destinations/${one.destinationId}/audiences/big`)) as { targets: { advertiserId: string; externalAudienceId: string }[] }
    assert.deepEqual(
      both.map((r) => r.externalAudienceId),
      conn.targets.map((t) => t.externalAudienceId),
      "each advertiser's own TikTok audience"
    )
    for (const r of both)
      assert.deepEqual(
        r.warnings.map((w) => w.reason),
        ['small']
      )

    // The further advertiser's audience grows and nears its expiry; the first one's stays empty.
    const set = await fetch(`${service.url}/emulator/_emulator/audiences/${two.externalAudienceId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ coverNum: 4000, expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString() })
    })
    assert.equal(set.status, 200, await set.text())
    await until(
      'advertiser 2 expiring',
      async () =>
        (await reads())
          .find((r) => r.advertiserId === ADV2)
          ?.warnings.map((w) => w.reason)
          .join() === 'expiring',
      10_000
    )
    const now = await reads()
    assert.deepEqual(
      now.map((r) => [r.advertiserId, r.coverNum, r.warnings.map((w) => w.reason).join()]),
      [
        [ADV, 0, 'small'],
        [ADV2, 4000, 'expiring']
      ]
    )
    assert.equal((await api('/api/audience-health')).warnings, 2, 'one warned audience per advertiser')

    const m = await metrics()
    const line = (name: string, labels: string, value: number) =>
      assert.match(
        m,
        new RegExp(`^${name}\\{${labels}\\} ${value}$`, 'm'),
        `${name}{${labels}} ${value}\n${m
          .split('\n')
          .filter((l) => l.startsWith('tiktok_audience_'))
          .join('\n')}`
      )
    line('tiktok_audience_matched_users', `destination="fanout",audience="big",advertiser_id="${ADV}"`, 0)
    line('tiktok_audience_matched_users', `destination="fanout",audience="big",advertiser_id="${ADV2}"`, 4000)
    line('tiktok_audience_warning', `destination="fanout",audience="big",advertiser_id="${ADV}",reason="small"`, 1)
    line('tiktok_audience_warning', `destination="fanout",audience="big",advertiser_id="${ADV}",reason="expiring"`, 0)
    line('tiktok_audience_warning', `destination="fanout",audience="big",advertiser_id="${ADV2}",reason="small"`, 0)
    line('tiktok_audience_warning', `destination="fanout",audience="big",advertiser_id="${ADV2}",reason="expiring"`, 1)

    // One advertiser's history holds its own reads only.
    const history = async (adv?: string) =>
      (await api(`/api/destinations/${one.destinationId}/audiences/big/health/history${adv ? `?advertiserId=${adv}` : ''}`)).reads as {
        advertiserId: string
        coverNum: number
      }[]
    const second = await history(ADV2)
    assert.ok(second.length >= 2 && second.every((r) => r.advertiserId === ADV2), JSON.stringify(second))
    assert.equal(second.at(-1)?.coverNum, 4000)
    assert.ok((await history(ADV)).every((r) => r.advertiserId === ADV && r.coverNum === 0))
    assert.deepEqual([...new Set((await history()).map((r) => r.advertiserId))].sort(), [ADV, ADV2])
  }
)
