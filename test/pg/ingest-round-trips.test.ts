/**
 * PostgreSQL ingestion round trips: a group commit inserts its events with one statement, also when
 * its requests were routed apart (route workers: a batch per request); a group of new events queued
 * to known partitions is one statement in all (events, packs, partition counts, totals: no
 * BEGIN/COMMIT). Re-sent messageIds still are not routed twice (the statement gives way to the
 * general transaction), and every new event is delivered.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import pg from 'pg'
import { checkEvent, type SegmentEvent } from '../../src/pipeline/event.js'
import { routeBatch } from '../../src/pipeline/route-batch.js'
import { first } from '../../src/util/array.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuMembers, waitFor } from '../helpers/emu-control.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
const WK = 'wk_round_trips'
const AUD = 'rt_aud'
const dir = mkdtempSync(join(tmpdir(), 'tta-pg-rt-'))
after(async () => {
  await dropAllPgDatabases()
  rmSync(dir, { recursive: true, force: true })
})

/** The statements this process sends, by their first words (node-postgres: one query per round trip). */
const sent: string[] = []
const original = pg.Client.prototype.query
pg.Client.prototype.query = function (this: pg.Client, config: unknown, ...rest: unknown[]) {
  const text = typeof config === 'string' ? config : ((config as { text?: string })?.text ?? '')
  sent.push(text.replace(/\s+/g, ' ').trim())
  return (original as (...a: unknown[]) => unknown).call(this, config, ...rest)
} as typeof pg.Client.prototype.query

const checked = (e: Record<string, unknown>): SegmentEvent => {
  const c = checkEvent(e)
  assert.ok(c.ok)
  return c.event
}
const email = (i: number) => `rt${i}@example.com`
const batchOf = (from: number, to: number) => ({
  batch: Array.from({ length: to - from }, (_, k) =>
    audienceEvent({ userId: `u${from + k}`, email: email(from + k) }, AUD, true, { messageId: `m${from + k}` })
  )
})

test('PostgreSQL: one events insert per group commit, one statement for new events, re-sent messageIds not routed twice', { skip }, async () => {
  const db = await createPgDatabase()
  process.env.DATABASE_URL = db.url
  process.env.ADMIN_PASSWORD = 'rt-password'
  process.env.SECRET_KEY = 'rt-secret'
  process.env.TTA_ROUTE_WORKERS = '1'
  delete process.env.TIKTOK_API_URL
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
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: ${AUD}, name: Round trips, advertiserId: "7000000000000000001" }
delivery: { windowMs: 50, retryBaseMs: 50 }
`
  )
  const { startService } = await import('../../src/server/serve.js')
  const svc = await startService({ port: 0, banner: false, config, emulator: true, dataDir: dir })
  try {
    const post = async (body: object) => {
      const r = await fetch(`${svc.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}` },
        body: JSON.stringify(body)
      })
      assert.equal(r.status, 200, await r.text())
    }
    // The first commit creates the partition (the general transaction).
    await post(batchOf(0, 10))

    // A request of new events to a known partition: one statement, nothing else of ingestion's.
    const pending = async () => Number(first(await db.query<{ p: string }>(`SELECT COALESCE(SUM(pending), 0) AS p FROM partitions`)).p)
    assert.ok(await waitFor(async () => (await pending()) === 0, 10_000))
    sent.length = 0
    await post(batchOf(10, 110))
    const ingestion = sent.filter((s) => /^(WITH ins AS|INSERT INTO events|INSERT INTO queue_packs|UPDATE partitions SET ready_at)/.test(s))
    assert.deepEqual(
      ingestion.map((s) => s.slice(0, 12)),
      ['WITH ins AS '],
      'events, packs, partition counts and totals in one statement'
    )

    // Two requests routed apart (a route worker's batch each) in one group commit: one events insert.
    const table = svc.ctx.pipeline.table
    await table.refresh()
    const sourceId = first(await db.query<{ id: number }>(`SELECT id FROM sources WHERE write_key = $1`, [WK])).id
    const now = Date.now()
    const routed = (from: number, to: number) =>
      routeBatch(
        table,
        batchOf(from, to).batch.map((event) => ({ sourceId, event: checked({ ...event, receivedAt: new Date(now).toISOString() }), receivedAt: now }))
      )
    // One event of each re-sent (m5, m50): the one statement gives way to the general transaction.
    sent.length = 0
    const added = await svc.ctx.pipeline.ingestRouted([routed(105, 160), routed(160, 200)])
    assert.equal(added, 200 - 110, 'm105 … m109 were recorded before')
    const inserts = sent.filter((s) => /^(WITH ins AS|INSERT INTO events)/.test(s))
    assert.equal(
      inserts.filter((s) => s.startsWith('INSERT INTO events')).length,
      1,
      `one events insert for both batches: ${inserts.map((s) => s.slice(0, 30)).join(' | ')}`
    )

    const { n } = first(await db.query<{ n: string }>(`SELECT count(*) AS n FROM events`))
    assert.equal(Number(n), 200)
    const { received } = first(await db.query<{ received: string }>(`SELECT SUM(received) AS received FROM outcome_totals WHERE scope = 'source'`))
    assert.equal(Number(received), 200, 'each event counted once')

    // Every event delivered once: 200 members, and nothing left pending.
    const aud = (await emuAudiences(`${svc.url}/emulator`)).find((a) => a.name === 'Round trips')
    assert.ok(aud)
    const members = async () => Object.values(await emuMembers(`${svc.url}/emulator`, aud.audience_id)).flat()
    assert.ok(await waitFor(async () => new Set(await members()).size >= 200, 20_000), `members: ${(await members()).length}`)
    const all = await members()
    assert.equal(new Set(all).size, 200)
    assert.ok(all.includes(sha256(email(199))))
    assert.ok(await waitFor(async () => (await pending()) === 0, 10_000), 'nothing left pending')

    // The configuration changes behind this process's back (another process's admin API): the next
    // request is routed with the new one — ingestion reads no version per request, the commit checks it.
    await db.query(`UPDATE mappings SET enabled = 0 WHERE name = 'Add'`)
    await db.query(`UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'config_version'`)
    await post(batchOf(200, 210))
    const changed = await db.query<{ n: string }>(`SELECT SUM(n_changes) AS n FROM events WHERE message_id IN ('m200', 'm205', 'm209')`)
    assert.equal(Number(changed[0]?.n), 0, 'routed without the disabled mapping')
    // And in this thread (no route worker): the same.
    await db.query(`UPDATE mappings SET enabled = 1 WHERE name = 'Add'`)
    await db.query(`UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'config_version'`)
    const items = batchOf(210, 220).batch.map((event) => ({
      sourceId,
      event: checked({ ...event, receivedAt: new Date().toISOString() }),
      receivedAt: Date.now()
    }))
    assert.equal(
      await svc.ctx.pipeline.ingest(
        sourceId,
        items.map((i) => i.event)
      ),
      10
    )
    const back = await db.query<{ n: string }>(`SELECT SUM(n_changes) AS n FROM events WHERE message_id IN ('m210', 'm219')`)
    assert.equal(Number(back[0]?.n), 2, 'routed with the mapping enabled again')
  } finally {
    await svc.close()
    delete process.env.TTA_ROUTE_WORKERS
  }
})
