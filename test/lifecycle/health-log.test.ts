/**
 * Audience health's log: a warning is a warn line in the round it starts holding, a debug line in
 * the rounds after (the banner and gauge keep showing it), and an info line when it clears; a
 * fan-out connection's advertisers each read and named (also on PostgreSQL: reads, gauges, history).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, test } from 'node:test'
import { pino } from 'pino'
import { applyConfig } from '../../src/config/apply.js'
import type { ConfigFile } from '../../src/config/schema.js'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { healthGauges, healthHistory, latestHealthReads } from '../../src/lifecycle/health/index.js'
import { pollAudienceHealth } from '../../src/lifecycle/health/poll.js'
import { openStore, type Store } from '../../src/store/index.js'
import { TikTokClient } from '../../src/tiktok/client.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const pgSkip = await pgSkipReason()
after(() => dropAllPgDatabases())

let emu: RunningEmulator
let store: Store
let dir: string
const lines: { level: number; msg: string }[] = []
const log = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) }))

before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-health-log-'))
  store = await openStore(`sqlite:${join(dir, 'db.sqlite')}`, { secretKey: 'k' })
  const config = {
    sources: [{ name: 'engage', writeKey: 'wk_hl' }],
    destinations: [
      {
        name: 'tiktok',
        source: 'engage',
        mode: 'native',
        accessToken: 'emulator-access-token',
        mappings: [{ name: 'Add', action: 'addToAudience' }],
        audiences: [{ key: 'vip', name: 'VIP', advertiserId: '7000000000000000001' }]
      }
    ]
  } as ConfigFile
  assert.deepEqual((await applyConfig(store, config, new TikTokClient({ baseUrl: emu.apiUrl }))).problems, [])
})
after(async () => {
  await store?.close()
  await emu?.close()
  rmSync(dir, { recursive: true, force: true })
})

const small = (level: number) => lines.filter((l) => l.level === level && /Fewer than 1,000 matched users/.test(l.msg) && !/cleared/.test(l.msg)).length

test('a small audience warns once, then logs at debug while the warning holds, and says when it clears', async () => {
  const tiktok = new TikTokClient({ baseUrl: emu.apiUrl })
  const [first] = await pollAudienceHealth(store, tiktok, log)
  assert.ok(first && first.coverNum !== null && first.coverNum < 1000, 'the new audience is below 1,000 matched users')
  assert.equal(small(40), 1, 'one warn line in the first round')
  await pollAudienceHealth(store, tiktok, log)
  await pollAudienceHealth(store, tiktok, log)
  assert.equal(small(40), 1, 'no further warn line while it holds')
  assert.equal(small(20), 2, 'a debug line in each later round')
  const r = await fetch(`${emu.url}/_emulator/audiences/${first.externalAudienceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ coverNum: 5000 })
  })
  assert.equal(r.status, 200, await r.text())
  await pollAudienceHealth(store, tiktok, log)
  assert.equal(lines.filter((l) => l.level === 30 && /small warning cleared/.test(l.msg)).length, 1)
})

const advertisers = ['7000000000000000001', '7000000000000000002']
const fanConfig = () =>
  ({
    sources: [{ name: 'engage', writeKey: 'wk_hl' }],
    destinations: [
      {
        name: 'fan',
        source: 'engage',
        mode: 'native',
        accessToken: 'emulator-access-token',
        advertiserIds: advertisers,
        mappings: [{ name: 'Add', action: 'addToAudience' }],
        audiences: [{ key: 'wide', name: 'Wide', advertiserIds: advertisers }]
      }
    ]
  }) as ConfigFile

test("a fan-out connection: each advertiser's audience warns once, its line naming the advertiser", async () => {
  const tiktok = new TikTokClient({ baseUrl: emu.apiUrl })
  assert.deepEqual((await applyConfig(store, fanConfig(), tiktok)).problems, [])
  lines.length = 0
  const reads = (await pollAudienceHealth(store, tiktok, log)).filter((r) => r.audienceKey === 'wide')
  assert.deepEqual(
    reads.map((r) => r.advertiserId),
    advertisers,
    'both advertisers read'
  )
  const warned = lines.filter((l) => l.level === 40 && /^audience health: "wide" of fan/.test(l.msg)).map((l) => l.msg)
  assert.deepEqual(
    warned.map((m) => /\(advertiser (\d+)\): Fewer than 1,000/.exec(m)?.[1]),
    advertisers,
    warned.join('\n')
  )
})

test('on PostgreSQL: the latest read, the gauges and the history of each fan-out advertiser', { skip: pgSkip }, async () => {
  const pg = await openStore((await createPgDatabase()).url, { secretKey: 'k' })
  try {
    const tiktok = new TikTokClient({ baseUrl: emu.apiUrl })
    assert.deepEqual((await applyConfig(pg, fanConfig(), tiktok)).problems, [])
    await pollAudienceHealth(pg, tiktok, log)
    await pollAudienceHealth(pg, tiktok, log, Date.now() + 1)
    const latest = await latestHealthReads(pg.db)
    assert.deepEqual(
      latest.map((r) => [r.audienceKey, r.advertiserId]),
      advertisers.map((a) => ['wide', a])
    )
    const [one, two] = latest
    assert.ok(one && two)
    assert.notEqual(one.externalAudienceId, two.externalAudienceId)
    const gauges = await healthGauges(pg)
    assert.deepEqual(
      gauges.warnings.filter((g) => g.labels.reason === 'small').map((g) => [g.labels.advertiser_id, g.value]),
      advertisers.map((a) => [a, 1])
    )
    for (const a of advertisers) {
      const history = await healthHistory(pg.db, one.destinationId, 'wide', 100, a)
      assert.deepEqual(
        history.map((r) => r.advertiserId),
        [a, a]
      )
    }
  } finally {
    await pg.close()
  }
})
