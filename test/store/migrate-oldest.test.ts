/**
 * Every migration in a row, on data: a database built by the oldest schema (version 1) holding
 * configuration, events with failure samples and changes queued in the old shape (a row per change)
 * is migrated to the newest, on SQLite and PostgreSQL. The queued changes come out as packs the
 * current queue code reads and settles, in their order; the samples are redacted; nothing else moves.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { Db } from '../../src/store/db.js'
import { migrate, SCHEMA_VERSION } from '../../src/store/migrations.js'
import { openPostgres } from '../../src/store/postgres.js'
import { openChangesOfPartition, oldestOpenEventId, settlePositions } from '../../src/store/sql/queue-packs.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { at } from '../../src/util/array.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const pgSkip = await pgSkipReason()
after(() => dropAllPgDatabases())

const create = '{"advertiserId":"7","name":"a \\"quoted\\" name"}'
/** Version 1's changes: a row each, ids as a JSON array, `status` saying whether it is queued. */
const v1Changes = [
  { id: 1, event: 1, mapping: 10, partition: 1, action: 'create', key: null, ids: null, payload: create, status: 'pending' },
  { id: 2, event: 1, mapping: 10, partition: 1, action: 'add', key: 'add|EMAIL_SHA256,PHONE_SHA256', ids: ['e1', null], payload: null, status: 'pending' },
  { id: 3, event: 2, mapping: 11, partition: 2, action: 'add', key: 'add|EMAIL_SHA256', ids: ['e\\2'], payload: null, status: 'pending' },
  { id: 4, event: 2, mapping: 10, partition: 1, action: 'add', key: 'add|EMAIL_SHA256,PHONE_SHA256', ids: ['e4', 'p4'], payload: null, status: 'failed' },
  {
    id: 5,
    event: 3,
    mapping: 10,
    partition: 1,
    action: 'delete',
    key: 'delete|EMAIL_SHA256,PHONE_SHA256',
    ids: [null, 'p5'],
    payload: null,
    status: 'pending'
  },
  { id: 6, event: 3, mapping: 11, partition: 2, action: 'delete', key: 'delete|EMAIL_SHA256', ids: ['e6'], payload: null, status: 'delivered' },
  { id: 7, event: null, mapping: null, partition: 2, action: 'delete', key: 'delete|EMAIL_SHA256', ids: ['e7'], payload: null, status: 'pending' }
] as const

/** Kept failure samples as version 1 stored them (identifier keys masked, emails elsewhere not). */
const v1Samples: [number, string | null][] = [
  [1, JSON.stringify({ type: 'track', userId: 'a.b@example.com', traits: { email: 'j***@example.com' }, context: { note: 'call +1 415 555 0123' } })],
  [2, 'not JSON: write to bob@example.com'],
  [3, null]
]

async function buildVersion1(db: Db): Promise<void> {
  await migrate(db, { upTo: 1 })
  const versions = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
  assert.deepEqual(
    versions.map((r) => Number(r.version)),
    [1]
  )
  await db.run(`INSERT INTO sources (id, name, write_key, created_at) VALUES (1, 'web', 'wk', 0)`)
  await db.run(
    `INSERT INTO destinations (id, name, source_id, mode, enabled, access_token, advertiser_ids, batch_size, created_at, updated_at) VALUES
     (1, 'TikTok Audiences (emulator)', 1, 'native', 1, 'tok', '["7"]', 10000, 0, 0), (2, 'mine', 1, 'legacy', 0, NULL, '[]', 500, 0, 0)`
  )
  await db.run(
    `INSERT INTO mappings (id, destination_id, name, action, trigger_fql, mapping, created_at, updated_at) VALUES (10, 1, 'Add', 'addToAudience', 'type = "track"', '{}', 0, 0)`
  )
  await db.run(`INSERT INTO connections (id, destination_id, audience_key, external_audience_id, created_at, updated_at) VALUES (1, 1, 'vip', '900', 0, 0)`)
  for (const [id, body] of v1Samples) {
    await db.run('INSERT INTO events (id, source_id, message_id, received_at, type, name, body, routed_at) VALUES ($1, 1, $2, 1000, $3, NULL, $4, 1000)', [
      id,
      `m${id}`,
      'track',
      body
    ])
  }
  await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|900', 1, 3), (2, '1|7|901', 1, 2)`)
  for (const c of v1Changes) {
    const settled = c.status !== 'pending'
    await db.run(
      `INSERT INTO changes (id, event_id, destination_id, mapping_id, partition_id, action, batch_key, ids, payload, status, attempts, error, error_code, created_at, done_at)
       VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        c.id,
        c.event,
        c.mapping,
        c.partition,
        c.action,
        c.key,
        c.ids === null ? null : JSON.stringify(c.ids),
        c.payload,
        c.status,
        settled ? 1 : 0,
        c.status === 'failed' ? 'Invalid audience' : null,
        c.status === 'failed' ? '40001' : null,
        1000 + c.id,
        settled ? 2000 : null
      ]
    )
  }
}

async function checkNewest(db: Db): Promise<void> {
  const versions = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
  assert.deepEqual(
    versions.map((r) => Number(r.version)),
    Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1)
  )

  // The queue: the pending rows, now packs the current code reads, in their former order.
  for (const p of [1, 2]) {
    const expected = v1Changes
      .filter((c) => c.partition === p && c.status === 'pending')
      .map((c) => ({ eventId: c.event, mappingId: c.mapping, batchKey: c.key ?? 'create', ids: c.key ? [...c.ids!] : null, payload: c.payload }))
    const open = await openChangesOfPartition(db, p)
    assert.deepEqual(
      open.map((c) => ({ eventId: c.eventId, mappingId: c.mappingId, batchKey: c.batchKey, ids: c.ids, payload: c.payload })),
      expected,
      `partition ${p}: its pending changes, in order`
    )
  }
  assert.equal(at(await openChangesOfPartition(db, 1), 1).serializedIds as string, '"e1",null', 'serialised ids as the current format writes them')
  assert.equal(await oldestOpenEventId(db), 1)
  const all = [...(await openChangesOfPartition(db, 1)), ...(await openChangesOfPartition(db, 2))]
  assert.equal((await db.tx((t) => settlePositions(t, all))).length, 5, 'the current code settles every moved change')
  assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM queue_packs'))!.n), 0, 'settled packs are gone')

  // Dead letters and delivered rows stay rows; no pending row is left.
  const rows = await db.all<{ id: number; status: string; error_code: string | null; resolved_by: string | null }>(
    'SELECT id, status, error_code, resolved_by FROM changes ORDER BY id'
  )
  assert.deepEqual(
    rows.map((r) => [Number(r.id), r.status, r.error_code, r.resolved_by]),
    [
      [4, 'failed', '40001', null],
      [6, 'delivered', null, null]
    ]
  )

  // Failure samples redacted as they are now (migration 10), the rest of each sample kept.
  const bodies = new Map((await db.all<{ id: number; body: string | null }>('SELECT id, body FROM events ORDER BY id')).map((r) => [Number(r.id), r.body]))
  assert.deepEqual(JSON.parse(bodies.get(1)!), {
    type: 'track',
    userId: 'a***@example.com',
    traits: { email: 'j***@example.com' },
    context: { note: 'call ***23' }
  })
  assert.equal(bodies.get(2), JSON.stringify('not JSON: write to b***@example.com'))
  assert.equal(bodies.get(3), null)

  // Configuration as it was, with the columns later versions added.
  const destinations = await db.all<{ id: number; name: string; batch_size: number; demo: number; access_token: string | null }>(
    'SELECT id, name, batch_size, demo, access_token FROM destinations ORDER BY id'
  )
  assert.deepEqual(
    destinations.map((d) => [Number(d.id), d.name, Number(d.batch_size), Number(d.demo), d.access_token]),
    [
      [1, 'TikTok Audiences (emulator)', 10000, 1, 'tok'],
      [2, 'mine', 500, 0, null]
    ]
  )
  assert.deepEqual(await db.get('SELECT name, write_key, shared_secret FROM sources WHERE id = 1'), { name: 'web', write_key: 'wk', shared_secret: null })
  assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM mappings'))!.n), 1)
  assert.equal((await db.get<{ e: string }>('SELECT external_audience_id AS e FROM connections WHERE id = 1'))!.e, '900')
  const pending = await db.all<{ id: number; pending: number }>('SELECT id, pending FROM partitions ORDER BY id')
  assert.deepEqual(
    pending.map((r) => [Number(r.id), Number(r.pending)]),
    [
      [1, 3],
      [2, 2]
    ]
  )
}

test('SQLite: a version-1 database with data migrates to the newest schema', async () => {
  const db = openSqlite(join(mkdtempSync(join(tmpdir(), 'tta-mig1-')), 'db.sqlite'))
  try {
    await buildVersion1(db)
    await migrate(db)
    await checkNewest(db)
  } finally {
    await db.close()
  }
})

test('PostgreSQL: a version-1 database with data migrates to the newest schema', { skip: pgSkip }, async () => {
  const pg = await createPgDatabase()
  const db = openPostgres(pg.url)
  try {
    await buildVersion1(db)
    await migrate(db)
    await checkNewest(db)
  } finally {
    await db.close()
    await pg.drop()
  }
})
