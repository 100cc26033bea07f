/** Dead-letter replay never undoes a later change of the same identifiers. */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openStore } from '../../src/store/index.js'
import { listDeadLetters, replayDeadLetters } from '../../src/store/sql/admin-delivery.js'
import { insertPacks, openChangesOfPartition } from '../../src/store/sql/queue-packs.js'
import { encodeBatchKey, PackBody } from '../../src/store/queue-format.js'

test('replay: a failed add is not replayed once a later exit of the same person was delivered (row of an older version); an unrelated one is', async () => {
  const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'tta-replay-')), 'db.sqlite')}`, { secretKey: 'k' })
  const { db } = store
  try {
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id) VALUES (1, '1|7|9', 1)`)
    const row = (id: number, action: string, ids: string, status: string) =>
      db.run(
        `INSERT INTO changes (id, destination_id, partition_id, action, batch_key, ids, status, created_at, done_at) VALUES ($1, 1, 1, $2, $3, $4, $5, 0, 0)`,
        [id, action, `${action}|EMAIL_SHA256`, ids, status]
      )
    await row(1, 'add', '["aaa"]', 'failed')
    await row(2, 'add', '["bbb"]', 'failed')
    await row(3, 'delete', '["aaa"]', 'delivered')

    const outcomes = await replayDeadLetters(db, 1, undefined, 1)
    assert.deepEqual(
      outcomes.map((o) => [o.id, o.replayed]),
      [
        [1, false],
        [2, true]
      ]
    )
    assert.match((outcomes[0] as { reason: string }).reason, /later change of the same identifiers \(#3, delete, delivered\)/)
    const status = await db.all<{ id: number; status: string }>('SELECT id, status FROM changes ORDER BY id')
    assert.deepEqual(
      status.map((r) => [Number(r.id), r.status]),
      [
        [1, 'failed'],
        [3, 'delivered']
      ],
      'the replayed dead letter left the list'
    )
    const open = await openChangesOfPartition(db, 1)
    assert.deepEqual(
      open.map((c) => [c.batchKey, c.ids]),
      [['add|EMAIL_SHA256', ['bbb']]],
      'and is queued again'
    )
    assert.equal(Number((await db.get<{ pending: number }>('SELECT pending FROM partitions WHERE id = 1'))!.pending), 1)
  } finally {
    await store.close()
  }
})

test('replay: not while a later change of the same identifiers is queued, nor once one was delivered (resolved)', async () => {
  const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'tta-replay-')), 'db.sqlite')}`, { secretKey: 'k' })
  const { db } = store
  try {
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|9', 1, 1)`)
    const failed = (id: number, ids: string, resolvedBy: string | null) =>
      db.run(
        `INSERT INTO changes (id, destination_id, partition_id, action, batch_key, ids, status, created_at, done_at, resolved_by) VALUES ($1, 1, 1, 'add', 'add|EMAIL_SHA256', $2, 'failed', 0, 0, $3)`,
        [id, ids, resolvedBy]
      )
    await failed(1, '["aaa"]', null)
    await failed(2, '["bbb"]', 'a later delete of the same identifiers was delivered (request #4)')
    await insertPacks(db, [
      {
        partitionId: 1,
        destinationId: 1,
        createdAt: 0,
        body: PackBody.of([
          { eventId: null, mappingId: null, batchKey: encodeBatchKey({ action: 'delete', idSchema: ['EMAIL_SHA256'] }), ids: ['aaa'], payload: null }
        ])
      }
    ])

    const outcomes = await replayDeadLetters(db, 1, undefined, 1)
    assert.deepEqual(outcomes, [
      { id: 1, replayed: false, reason: 'a later change of the same identifiers is queued' },
      { id: 2, replayed: false, reason: 'a later delete of the same identifiers was delivered (request #4)' }
    ])
    const dead = await listDeadLetters(db, 1, 10)
    assert.deepEqual(
      dead.items.map((d) => [d.id, d.replayable, d.resolvedBy !== null]),
      [
        [2, false, true],
        [1, true, false]
      ]
    )
  } finally {
    await store.close()
  }
})
