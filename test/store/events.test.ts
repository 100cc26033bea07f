/**
 * Event records: the id of each new record, by index, over several insert statements; a re-sent
 * messageId (an earlier call's, or a second copy in the same call) gets none. SQLite infers the ids
 * from MAX(id) before and after, PostgreSQL reads them back: both must agree.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import type { Db } from '../../src/store/db.js'
import { migrate } from '../../src/store/migrations.js'
import { openPostgres } from '../../src/store/postgres.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { insertEventRecords, type EventRecords } from '../../src/store/sql/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

function records(messageIds: string[], sourceId = 1): EventRecords {
  const n = messageIds.length
  return {
    count: n,
    sourceId: new Int32Array(n).fill(sourceId),
    messageId: messageIds,
    receivedAt: new Float64Array(n).fill(1),
    changes: new Int32Array(n).fill(1)
  }
}

async function check(db: Db): Promise<void> {
  await migrate(db)
  await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's1', 0), (2, 's2', 0)`)
  // 700 records: more than one insert statement (500 per statement at most).
  const first = Array.from({ length: 700 }, (_, i) => `m${i}`)
  const ids = await insertEventRecords(db, records(first))
  assert.equal(ids.length, 700)
  const firstStored = new Map((await db.all<{ id: number; message_id: string }>(`SELECT id, message_id FROM events`)).map((r) => [r.message_id, Number(r.id)]))
  assert.deepEqual(
    ids,
    first.map((m) => firstStored.get(m)),
    'the ids stored'
  )

  // Re-sent messageIds (one in the first statement, one in the second), a copy within the call, and
  // the same messageId from another source (not a duplicate).
  const second = ['n0', 'm3', 'n1', ...Array.from({ length: 600 }, (_, i) => `n${i + 2}`), 'm650', 'n1']
  const again = await insertEventRecords(db, records(second))
  assert.equal(again[1], undefined, 'm3 was recorded before')
  assert.equal(again[603], undefined, 'm650 was recorded before')
  assert.equal(again[604], undefined, 'the second copy of n1')
  assert.ok(again[2] !== undefined && again[0] !== undefined)
  const stored = await db.all<{ id: number; message_id: string }>(`SELECT id, message_id FROM events WHERE source_id = 1 AND message_id LIKE 'n%'`)
  const byMessage = new Map(stored.map((r) => [r.message_id, Number(r.id)]))
  second.forEach((m, i) => {
    if (again[i] !== undefined) assert.equal(again[i], byMessage.get(m), `id of ${m}`)
  })
  assert.equal(again.filter((id) => id !== undefined).length, 602)

  const other = await insertEventRecords(db, records(['m3'], 2))
  assert.ok(other[0] !== undefined, 'another source may use the same messageId')
  assert.deepEqual(await insertEventRecords(db, records([])), [])
}

test('event records: ids of the new ones, none for re-sent messageIds (SQLite)', async () => {
  const db = openSqlite(join(mkdtempSync(join(tmpdir(), 'tta-events-')), 'db.sqlite'))
  try {
    await check(db)
  } finally {
    await db.close()
  }
})

test('event records: ids of the new ones, none for re-sent messageIds (PostgreSQL)', { skip }, async () => {
  const pg = await createPgDatabase()
  const db = openPostgres(pg.url)
  try {
    await check(db)
  } finally {
    await db.close()
  }
})
