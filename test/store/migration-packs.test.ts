/** Migrations 6 and 7: pending change rows of version 5 move into queue packs, JSON pack bodies of version 6 become lines; nothing queued is lost. */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Db } from '../../src/store/db.js'
import { migrate, SCHEMA_VERSION } from '../../src/store/migrations.js'
import { oldestOpenEventId, openChangesOfPartition } from '../../src/store/sql/queue-packs.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { at } from '../../src/util/array.js'

function tempDb(): Db {
  return openSqlite(join(mkdtempSync(join(tmpdir(), 'tta-mig-')), 'db.sqlite'))
}

async function version5(db: Db): Promise<void> {
  await migrate(db, { upTo: 5 })
  const versions = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')
  assert.deepEqual(
    versions.map((r) => Number(r.version)),
    [1, 2, 3, 4, 5]
  )
  assert.equal(await db.get(`SELECT name FROM sqlite_master WHERE name = 'queue_packs'`), undefined, 'upTo: 5 stops before the packs')
  await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
  await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
}

async function columns(db: Db, table: string): Promise<string[]> {
  return (await db.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)).map((r) => r.name)
}

interface V5Change {
  id: number
  eventId: number | null
  mappingId: number | null
  partitionId: number
  action: string
  batchKey: string
  ids: (string | null)[] | null
  payload: string | null
  status: 'pending' | 'failed' | 'delivered'
}

test('migration 6: pending changes of two interleaved partitions become packs in order; failed and delivered rows stay', async () => {
  const db = tempDb()
  try {
    await version5(db)
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|100', 1, 5), (2, '1|7|200', 1, 3)`)
    for (let e = 1; e <= 9; e++) {
      await db.run('INSERT INTO events (id, source_id, message_id, received_at, routed_at) VALUES ($1, 1, $2, 1000, 1000)', [e, `m${e}`])
    }
    const create = '{"advertiserId":"7","name":"x"}'
    const rows: V5Change[] = [
      { id: 1, eventId: 1, mappingId: 10, partitionId: 1, action: 'create', batchKey: 'create', ids: null, payload: create, status: 'pending' },
      { id: 2, eventId: 1, mappingId: 10, partitionId: 1, action: 'add', batchKey: 'add|EMAIL_SHA256', ids: ['e1'], payload: null, status: 'pending' },
      {
        id: 3,
        eventId: 2,
        mappingId: 11,
        partitionId: 2,
        action: 'add',
        batchKey: 'add|EMAIL_SHA256,PHONE_SHA256',
        ids: ['e2', null],
        payload: null,
        status: 'pending'
      },
      {
        id: 4,
        eventId: 3,
        mappingId: 10,
        partitionId: 1,
        action: 'delete',
        batchKey: 'delete|EMAIL_SHA256,PHONE_SHA256',
        ids: [null, 'p3'],
        payload: null,
        status: 'pending'
      },
      { id: 5, eventId: 4, mappingId: 10, partitionId: 1, action: 'add', batchKey: 'add|EMAIL_SHA256', ids: ['e4'], payload: null, status: 'failed' },
      {
        id: 6,
        eventId: 5,
        mappingId: 11,
        partitionId: 2,
        action: 'delete',
        batchKey: 'delete|EMAIL_SHA256,PHONE_SHA256',
        ids: ['e5', 'p5'],
        payload: null,
        status: 'pending'
      },
      { id: 7, eventId: 6, mappingId: 10, partitionId: 1, action: 'add', batchKey: 'add|EMAIL_SHA256', ids: ['e6'], payload: null, status: 'delivered' },
      { id: 8, eventId: null, mappingId: null, partitionId: 1, action: 'add', batchKey: 'add|EMAIL_SHA256', ids: ['e1'], payload: null, status: 'pending' },
      {
        id: 9,
        eventId: 8,
        mappingId: 11,
        partitionId: 2,
        action: 'add',
        batchKey: 'add|EMAIL_SHA256,PHONE_SHA256',
        ids: [null, 'p8'],
        payload: null,
        status: 'pending'
      },
      {
        id: 10,
        eventId: 9,
        mappingId: 10,
        partitionId: 1,
        action: 'delete',
        batchKey: 'delete|EMAIL_SHA256,PHONE_SHA256',
        ids: ['e9', 'p9'],
        payload: null,
        status: 'pending'
      }
    ]
    for (const r of rows) {
      const settled = r.status !== 'pending'
      await db.run(
        `INSERT INTO changes (id, event_id, destination_id, mapping_id, partition_id, action, batch_key, ids, payload, status, attempts, error, error_code, request_ref, created_at, done_at)
         VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
        [
          r.id,
          r.eventId,
          r.mappingId,
          r.partitionId,
          r.action,
          r.batchKey,
          r.ids === null ? null : JSON.stringify(r.ids),
          r.payload,
          r.status,
          settled ? 1 : 0,
          r.status === 'failed' ? 'Invalid audience' : null,
          r.status === 'failed' ? '40001' : null,
          settled ? 1 : null,
          1000 + r.id,
          settled ? 2000 : null
        ]
      )
    }
    const settledBefore = await db.all(`SELECT * FROM changes WHERE status <> 'pending' ORDER BY id`)
    assert.equal(settledBefore.length, 2)

    await migrate(db)

    assert.equal(Number((await db.get<{ v: number }>('SELECT MAX(version) AS v FROM schema_migrations'))!.v), SCHEMA_VERSION)
    assert.equal(Number((await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM changes WHERE status = 'pending'`))!.n), 0, 'no pending rows remain')
    const settledAfter = await db.all<Record<string, unknown>>(`SELECT * FROM changes WHERE status <> 'pending' ORDER BY id`)
    assert.deepEqual(
      settledAfter.map(({ resolved_by, ...rest }) => {
        assert.equal(resolved_by, null)
        return rest
      }),
      settledBefore,
      'the failed and the delivered row are untouched'
    )

    for (const p of [1, 2]) {
      const expected = rows
        .filter((r) => r.partitionId === p && r.status === 'pending')
        .map((r) => ({ eventId: r.eventId, mappingId: r.mappingId, batchKey: r.batchKey, ids: r.ids, payload: r.payload }))
      const open = await openChangesOfPartition(db, p)
      assert.deepEqual(
        open.map((c) => ({ eventId: c.eventId, mappingId: c.mappingId, batchKey: c.batchKey, ids: c.ids, payload: c.payload })),
        expected,
        `partition ${p}: the former pending changes, in their former order`
      )
    }
    const pending = await db.all<{ id: number; pending: number }>('SELECT id, pending FROM partitions ORDER BY id')
    assert.deepEqual(
      pending.map((r) => [Number(r.id), Number(r.pending)]),
      [
        [1, 5],
        [2, 3]
      ],
      'partitions.pending is unchanged'
    )
    assert.equal(await oldestOpenEventId(db), 1, 'retention keeps the events of the moved changes')

    assert.ok((await columns(db, 'events')).includes('n_changes'))
    assert.ok((await columns(db, 'partitions')).includes('last_error_code'))
    assert.ok((await columns(db, 'changes')).includes('resolved_by'))
    const indexes = (
      await db.all<{ name: string }>(
        `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('changes', 'queue_packs') AND sql IS NOT NULL ORDER BY name`
      )
    ).map((r) => r.name)
    assert.deepEqual(indexes, ['changes_event', 'changes_failed', 'changes_failed_partition', 'queue_packs_queue'], 'the per-change queue index is gone')

    await migrate(db)
    assert.equal((await openChangesOfPartition(db, 1)).length, 5, 'a second migrate changes nothing')
  } finally {
    await db.close()
  }
})

test('migration 6: a partition with more than 5,000 pending changes keeps all of them, in order', async () => {
  const db = tempDb()
  try {
    await version5(db)
    const N = 12_345
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|100', 1, ${N}), (2, '1|7|200', 1, 1)`)
    // Change i (1-based) of partition 1 has id 2i, event i, ids ["h<i>"]; odd ids go to partition 2 now and then.
    await db.tx(async (t) => {
      const values: string[] = []
      for (let i = 1; i <= N; i++) {
        values.push(`(${2 * i}, ${i}, 1, 10, 1, 'add', 'add|EMAIL_SHA256', '["h${i}"]', NULL, 'pending', 0, ${i})`)
        if (i === 4_999) values.push(`(${2 * i + 1}, ${i}, 1, 11, 2, 'delete', 'delete|EMAIL_SHA256', '["x"]', NULL, 'pending', 0, ${i})`)
      }
      for (let at = 0; at < values.length; at += 1_000) {
        await t.exec(
          `INSERT INTO changes (id, event_id, destination_id, mapping_id, partition_id, action, batch_key, ids, payload, status, attempts, created_at) VALUES ${values.slice(at, at + 1_000).join(',')}`
        )
      }
    })

    await migrate(db)

    assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM changes'))!.n), 0, 'no change rows remain')
    const packs = await db.all<{ n: number; open: number }>('SELECT n, open FROM queue_packs WHERE partition_id = 1 ORDER BY id')
    assert.ok(packs.length > 1, 'more than one pack')
    assert.ok(packs.every((p) => Number(p.n) <= 5_000 && Number(p.open) === Number(p.n)))
    assert.equal(
      packs.reduce((s, p) => s + Number(p.n), 0),
      N
    )

    const open = await openChangesOfPartition(db, 1)
    assert.equal(open.length, N)
    for (let i = 1; i <= N; i++) {
      const c = at(open, i - 1)
      if (c.eventId !== i || c.ids?.[0] !== `h${i}` || c.ids.length !== 1 || c.batchKey !== 'add|EMAIL_SHA256' || c.mappingId !== 10) {
        assert.fail(`change ${i} of partition 1 is ${JSON.stringify(c)}`)
      }
    }
    assert.deepEqual(
      (await openChangesOfPartition(db, 2)).map((c) => [c.eventId, c.batchKey, c.ids]),
      [[4_999, 'delete|EMAIL_SHA256', ['x']]]
    )
    assert.equal(Number((await db.get<{ pending: number }>('SELECT pending FROM partitions WHERE id = 1'))!.pending), N)
  } finally {
    await db.close()
  }
})

test('migration 7: pack bodies written as JSON by version 6 become lines, settled positions and all', async () => {
  const db = tempDb()
  try {
    await migrate(db, { upTo: 6 })
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|100', 1, 4)`)
    const create = '{"advertiserId":"7","name":"a \\"quoted\\" name"}'
    // As version 6 wrote them: {"k": [batch keys], "r": [[eventId, mappingId, keyIndex, ...ids or payload]]}.
    const v6 = (r: unknown[][], k: string[]) => JSON.stringify({ k, r })
    const packs = [
      {
        id: 1,
        n: 3,
        open: 2,
        settled: '010',
        body: v6(
          [
            [1, 10, 0, create],
            [2, 10, 1, 'e2', null],
            [3, null, 1, null, 'p3']
          ],
          ['create', 'add|EMAIL_SHA256,PHONE_SHA256']
        )
      },
      {
        id: 2,
        n: 2,
        open: 2,
        settled: null,
        body: v6(
          [
            [4, 11, 0],
            [5, 11, 1, 'e\\5']
          ],
          ['delete|', 'delete|EMAIL_SHA256']
        )
      }
    ]
    for (const p of packs) {
      await db.run(
        `INSERT INTO queue_packs (id, partition_id, destination_id, first_event_id, last_event_id, n, open, settled, body, created_at) VALUES ($1, 1, 1, 1, 5, $2, $3, $4, $5, 1000)`,
        [p.id, p.n, p.open, p.settled, p.body]
      )
    }
    await migrate(db)
    const bodies = await db.all<{ body: string }>('SELECT body FROM queue_packs ORDER BY id')
    assert.ok(
      bodies.every((b) => !b.body.startsWith('{')),
      'no JSON body left'
    )
    const open = await openChangesOfPartition(db, 1)
    assert.deepEqual(
      open.map((c) => ({ at: c.at, eventId: c.eventId, mappingId: c.mappingId, batchKey: c.batchKey, ids: c.ids, payload: c.payload })),
      [
        { at: 0, eventId: 1, mappingId: 10, batchKey: 'create', ids: null, payload: create },
        { at: 2, eventId: 3, mappingId: null, batchKey: 'add|EMAIL_SHA256,PHONE_SHA256', ids: [null, 'p3'], payload: null },
        { at: 0, eventId: 4, mappingId: 11, batchKey: 'delete|', ids: [], payload: null },
        { at: 1, eventId: 5, mappingId: 11, batchKey: 'delete|EMAIL_SHA256', ids: ['e\\5'], payload: null }
      ],
      'the open changes, in order, as version 6 held them (the settled one stays settled)'
    )
    assert.equal(at(open, 1).serializedIds, 'null,"p3"')
    await migrate(db)
    assert.deepEqual(await db.all<{ body: string }>('SELECT body FROM queue_packs ORDER BY id'), bodies, 'a second migrate changes nothing')
  } finally {
    await db.close()
  }
})
