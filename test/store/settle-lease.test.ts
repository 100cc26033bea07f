/**
 * Settling a delivered request updates the partition's row in one statement (pending count, retry
 * state, lease) when the worker still holds the lease; when the lease was lost meanwhile, the
 * settled changes still come off the pending count and the new owner's lease is left alone.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { migrate } from '../../src/store/migrations.js'
import { encodeBatchKey, PackBody, type OpenChange } from '../../src/store/queue-format.js'
import { insertPacks, readOpenChanges } from '../../src/store/sql/queue-packs.js'
import { settleDelivered } from '../../src/store/sql/settle-delivered.js'
import { openSqlite } from '../../src/store/sqlite.js'

const request = {
  destinationId: 1,
  partitionId: 1,
  kind: 'mapping' as const,
  sentAt: 0,
  durationMs: 1,
  httpStatus: 200,
  code: 0,
  message: 'OK',
  tiktokRequestId: null,
  rowCount: 2,
  outcome: 'delivered' as const,
  requestSample: '{}',
  response: '{}'
}

async function partitionWithTwoChanges(owner: string) {
  const db = openSqlite(join(mkdtempSync(join(tmpdir(), 'tta-settle-lease-')), 'db.sqlite'))
  await migrate(db)
  await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
  await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
  await db.run(
    `INSERT INTO partitions (id, key, destination_id, pending, attempts, retry_at, last_error, lease_owner, lease_until) VALUES (1, '1|7|100', 1, 2, 3, 50, 'earlier failure', $1, 1000)`,
    [owner]
  )
  const key = encodeBatchKey({ action: 'add', idSchema: ['EMAIL_SHA256'] })
  const body = PackBody.of([
    { eventId: 1, mappingId: 1, batchKey: key, ids: ['a'.repeat(64)], payload: null },
    { eventId: 2, mappingId: 1, batchKey: key, ids: ['b'.repeat(64)], payload: null }
  ])
  await insertPacks(db, [{ partitionId: 1, destinationId: 1, createdAt: 0, body }])
  const { changes } = await readOpenChanges(db, 1, 0, 10)
  assert.equal(changes.length, 2)
  return { db, changes }
}

const partition = (db: Awaited<ReturnType<typeof partitionWithTwoChanges>>['db']) =>
  db.get<{ pending: number; attempts: number; retry_at: number; last_error: string | null; lease_owner: string; lease_until: number }>(
    'SELECT pending, attempts, retry_at, last_error, lease_owner, lease_until FROM partitions WHERE id = 1'
  )

/** Settles `changes` as worker w1, at 500 with a 60 s lease. */
const settleAsW1 = (db: Awaited<ReturnType<typeof partitionWithTwoChanges>>['db'], changes: OpenChange[]) =>
  settleDelivered(db, {
    partition: { id: 1, owner: 'w1' },
    destinationId: 1,
    request,
    send: changes,
    superseded: [],
    deadLetters: new Map(),
    now: 500,
    leaseMs: 60_000
  })

test('the lease still held: pending count, retry state and lease in one update', async () => {
  const { db, changes } = await partitionWithTwoChanges('w1')
  const kept = await settleAsW1(db, changes)
  assert.equal(kept, true)
  assert.deepEqual(await partition(db), { pending: 0, attempts: 0, retry_at: 0, last_error: null, lease_owner: 'w1', lease_until: 60_500 })
  await db.close()
})

test('the lease lost meanwhile: the settled changes still leave the pending count; the new owner keeps its lease', async () => {
  const { db, changes } = await partitionWithTwoChanges('w2')
  const kept = await settleAsW1(db, changes)
  assert.equal(kept, false)
  assert.deepEqual(await partition(db), { pending: 0, attempts: 3, retry_at: 50, last_error: 'earlier failure', lease_owner: 'w2', lease_until: 1000 })
  await db.close()
})
