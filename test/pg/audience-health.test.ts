/**
 * Audience health across processes: two `serve` processes on one fresh PostgreSQL database, each
 * with AUDIENCE_HEALTH_INTERVAL=2s (the second pointed at the first's built-in emulator), read
 * TikTok once per interval between them — never twice in one interval — and both export the gauges.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { at } from '../../src/util/array.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'
import { startServe, stopAllServes } from '../helpers/serve.js'
import { sleep } from '../helpers/emu-control.js'

const skip = await pgSkipReason()
if (skip) process.stdout.write(`# skipping PostgreSQL tests: ${skip}\n`)

after(async () => {
  await stopAllServes()
  await dropAllPgDatabases()
})

test('two serve processes on one database poll audience health once per interval between them', { skip, timeout: 120_000 }, async () => {
  const db = await createPgDatabase()
  const dir = mkdtempSync(join(tmpdir(), 'tta-health-pg-'))
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - { name: engage, writeKey: wk_health_pg }
destinations:
  - name: tiktok
    source: engage
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["7000000000000000001"]
    audiences:
      - { key: vip, name: VIP, advertiserId: "7000000000000000001" }
`
  )
  const env = (name: string, extra: Record<string, string | undefined> = {}) => ({
    DATABASE_URL: db.url,
    DATA_DIR: mkdtempSync(join(tmpdir(), `tta-health-${name}-`)),
    ADMIN_PASSWORD: 'health',
    SECRET_KEY: 'health-secret',
    AUDIENCE_HEALTH_INTERVAL: '2s',
    TIKTOK_API_URL: undefined,
    TIKTOK_APP_ID: undefined,
    ...extra
  })
  const first = await startServe(['--config', config], env('first'))
  const second = await startServe(['--config', config], env('second', { TIKTOK_API_URL: `${first.url}/emulator/open_api` }))
  await sleep(9000)
  const rounds = (await db.query<{ checked_at: string }>('SELECT DISTINCT checked_at FROM audience_health ORDER BY checked_at')).map((r) =>
    Number(r.checked_at)
  )
  const span = Date.now() - at(rounds, 0)
  // One round per 2 s since the first (each claimed at most a quarter interval late), never more.
  assert.ok(span >= 9000, 'the first process polled at start')
  assert.ok(rounds.length >= Math.floor(span / 2500), `${rounds.length} rounds in ${span} ms: fewer than one per interval`)
  assert.ok(rounds.length <= Math.floor(span / 2000) + 1, `${rounds.length} rounds in ${span} ms: more than one per interval`)
  for (let i = 1; i < rounds.length; i++)
    assert.ok(at(rounds, i) - at(rounds, i - 1) >= 2000, `rounds ${rounds[i - 1]} and ${rounds[i]} less than an interval apart`)
  const perRound = await db.query<{ n: string }>('SELECT COUNT(*) AS n FROM audience_health GROUP BY checked_at')
  assert.ok(
    perRound.every((r) => Number(r.n) === 1),
    'one read of the one audience per round'
  )

  for (const s of [first, second]) {
    const m = await (await fetch(`${s.url}/metrics`)).text()
    assert.match(m, /tiktok_audience_matched_users\{destination="tiktok",audience="vip",advertiser_id="7000000000000000001"\} 0/)
    assert.match(m, /tiktok_audience_warning\{destination="tiktok",audience="vip",advertiser_id="7000000000000000001",reason="small"\} 1/)
  }
  assert.match(first.output() + second.output(), /audience health: \\"vip\\" of tiktok: Fewer than 1,000 matched users/)
})
