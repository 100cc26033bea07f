/**
 * Identifiers at rest (issue 21 item 6, issue 20 item 4): failure samples kept by earlier versions
 * are redacted by the migration; applying a config gives a new destination the US phone region and
 * leaves an existing destination's region as it was.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { applyConfig } from '../../src/config/apply.js'
import { migrate } from '../../src/store/migrations.js'
import { openStore } from '../../src/store/index.js'
import { listDestinations, upsertDestination } from '../../src/store/sql/config.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { TikTokClient } from '../../src/tiktok/client.js'
import { at } from '../../src/util/array.js'

const tempDir = () => mkdtempSync(join(tmpdir(), 'tta-rest-'))

test('the migration redacts failure samples kept raw by version 7 (a userId that is an email, phones in text)', async () => {
  const db = openSqlite(join(tempDir(), 'db.sqlite'))
  try {
    await migrate(db, { upTo: 7 })
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    const kept = {
      type: 'track',
      userId: 'first.last@example.com',
      anonymousId: '+14155550123',
      context: { traits: { email: 'j***@example.com' } },
      properties: { note: 'call 415-555-0124' }
    }
    await db.run('INSERT INTO events (id, source_id, message_id, received_at, body) VALUES (1, 1, $1, 0, $2), (2, 1, $3, 0, NULL)', [
      'm1',
      JSON.stringify(kept),
      'm2'
    ])
    await migrate(db)
    const rows = await db.all<{ id: number; body: string | null }>('SELECT id, body FROM events ORDER BY id')
    assert.equal(at(rows, 1).body, null, 'events without a sample stay without one')
    const body = JSON.parse(at(rows, 0).body!)
    assert.equal(body.userId, 'f***@example.com')
    assert.equal(body.anonymousId, '***23')
    assert.equal(body.properties.note, 'call ***24')
    assert.equal(body.context.traits.email, 'j***@example.com')
    assert.equal(await db.get(`SELECT name FROM sqlite_master WHERE name = 'identifier_drops'`).then((r) => (r as { name: string }).name), 'identifier_drops')
  } finally {
    db.close()
  }
})

test('config: a new destination gets the US phone region, null chooses none, an existing one keeps its own', async () => {
  const store = await openStore(`sqlite:${join(tempDir(), 'db.sqlite')}`, { secretKey: 'k' })
  try {
    // A destination created before this version, without a region.
    await upsertDestination(store.db, store.secrets, {
      name: 'old',
      sourceId: null,
      mode: 'native',
      enabled: false,
      normalization: 'recommended',
      defaultPhoneRegion: null,
      accessToken: null,
      advertiserIds: [],
      batchSize: 10000,
      autoConnect: false
    })
    const tiktok = new TikTokClient({ baseUrl: 'http://127.0.0.1:9' })
    const config = { destinations: [{ name: 'old' }, { name: 'new' }, { name: 'none', defaultPhoneRegion: null }, { name: 'gb', defaultPhoneRegion: 'GB' }] }
    for (let i = 0; i < 2; i++) {
      await applyConfig(store, config, tiktok)
      const regions = Object.fromEntries((await listDestinations(store.db, store.secrets)).map((d) => [d.name, d.defaultPhoneRegion]))
      assert.deepEqual(regions, { old: null, new: 'US', none: null, gb: 'GB' }, `apply #${i + 1}`)
    }
  } finally {
    await store.close()
  }
})
