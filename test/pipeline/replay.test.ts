/** Dead-letter replay never undoes a later change of the same identifiers. */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openStore } from '../../src/store/index.js'
import { replayDeadLetters } from '../../src/store/sql/admin-delivery.js'

test('replay: a failed add is not replayed once a later exit of the same person was delivered; an unrelated one is', async () => {
  const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'tta-replay-')), 'db.sqlite')}`, { secretKey: 'k' })
  const { db } = store
  try {
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id) VALUES (1, '1|7|9', 1)`)
    const row = (id: number, action: string, ids: string, status: string) =>
      db.run(`INSERT INTO changes (id, destination_id, partition_id, action, batch_key, ids, status, created_at, done_at) VALUES ($1, 1, 1, $2, $3, $4, $5, 0, 0)`, [id, action, `${action}|EMAIL_SHA256`, ids, status])
    await row(1, 'add', '["aaa"]', 'failed')
    await row(2, 'add', '["bbb"]', 'failed')
    await row(3, 'delete', '["aaa"]', 'delivered')

    const outcomes = await replayDeadLetters(db, 1, undefined, 1)
    assert.deepEqual(outcomes.map((o) => [o.id, o.replayed]), [[1, false], [2, true]])
    assert.match((outcomes[0] as { reason: string }).reason, /later change of the same identifiers \(#3, delete, delivered\)/)
    const status = await db.all<{ id: number; status: string }>('SELECT id, status FROM changes ORDER BY id')
    assert.deepEqual(status.map((r) => r.status), ['failed', 'pending', 'delivered'])
    assert.equal(Number((await db.get<{ pending: number }>('SELECT pending FROM partitions WHERE id = 1'))!.pending), 1)
  } finally {
    await store.close()
  }
})
