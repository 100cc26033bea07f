/** Retention deletes old settled data and keeps what is pending, failed, or young. */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { openStore } from '../../src/store/index.js'
import { pruneBefore } from '../../src/store/sql/retention.js'

test('retention: old delivered changes, their events and requests go; dead letters, pending work and young rows stay', async () => {
  const store = await openStore(`sqlite:${join(mkdtempSync(join(tmpdir(), 'tta-ret-')), 'db.sqlite')}`, { secretKey: 'k' })
  const { db } = store
  try {
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    const OLD = 1_000
    const NEW = 10_000
    // Events 1-4 old, 5 young. 1: delivered; 2: failed (dead letter); 3: pending; 4: filtered (no change); 5: delivered but young.
    for (const [id, at] of [
      [1, OLD],
      [2, OLD],
      [3, OLD],
      [4, OLD],
      [5, NEW]
    ] as const) {
      await db.run('INSERT INTO events (id, source_id, message_id, received_at) VALUES ($1, 1, $2, $3)', [id, `m${id}`, at])
    }
    await db.run(
      `INSERT INTO requests (id, destination_id, kind, sent_at, outcome) VALUES (1, 1, 'mapping', ${OLD}, 'delivered'), (2, 1, 'mapping', ${OLD}, 'failed'), (3, 1, 'mapping', ${NEW}, 'delivered')`
    )
    const change = (id: number, eventId: number, status: string, at: number, ref: number | null) =>
      db.run(`INSERT INTO changes (id, event_id, destination_id, action, status, created_at, done_at, request_ref) VALUES ($1, $2, 1, 'add', $3, $4, $5, $6)`, [
        id,
        eventId,
        status,
        at,
        status === 'pending' ? null : at,
        ref
      ])
    await change(1, 1, 'delivered', OLD, 1)
    await change(2, 2, 'failed', OLD, 2)
    await change(3, 3, 'pending', OLD, null)
    await change(4, 5, 'delivered', NEW, 3)

    const pruned = await pruneBefore(db, 5_000)
    assert.deepEqual(pruned, { changes: 1, events: 2, requests: 1 })
    const left = async (table: string) => (await db.all<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).map((r) => Number(r.id))
    assert.deepEqual(await left('changes'), [2, 3, 4])
    assert.deepEqual(await left('events'), [2, 3, 5], 'the delivered and the filtered old events go; the dead letter and the pending one stay')
    assert.deepEqual(await left('requests'), [2, 3], "the dead letter's request (its sample) stays")
    assert.deepEqual(await pruneBefore(db, 5_000), { changes: 0, events: 0, requests: 0 }, 'a second run finds nothing')
  } finally {
    await store.close()
  }
})
