/**
 * The delivery worker's view of a partition's queue on PostgreSQL, where transactions of several
 * processes overlap: a pack that commits after a pack with a later id was already read is still
 * delivered before anything queued after it commits (it was read past once: enter → exit → enter
 * of one user then ended with the exit).
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { OpenQueue } from '../../src/pipeline/open-queue.js'
import { migrate } from '../../src/store/migrations.js'
import { openPostgres } from '../../src/store/postgres.js'
import { insertPacks, settlePositions } from '../../src/store/sql/queue-packs.js'
import { encodeBatchKey, PackBody } from '../../src/store/queue-format.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

const pack = (eventId: number, action: 'add' | 'delete', hash: string) => ({
  partitionId: 1,
  destinationId: 1,
  createdAt: 0,
  body: PackBody.of([{ eventId, mappingId: 1, batchKey: encodeBatchKey({ action, idSchema: ['EMAIL_SHA256'] }), ids: [hash], payload: null }])
})

test('a pack committed late (a lower id than packs already read) is read before every pack committed after it', { skip }, async () => {
  const pg = await createPgDatabase()
  const db = openPostgres(pg.url)
  try {
    await migrate(db)
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|100', 1, 0)`)

    // Round 2 of enter → exit → enter, from two processes: X's exit takes pack id 1 but commits
    // after Y's exit (id 2), which the queue reads first.
    let inserted!: () => void
    let commit!: () => void
    const xInserted = new Promise<void>((r) => (inserted = r))
    const xExit = db.tx(async (t) => {
      await insertPacks(t, [pack(2, 'delete', 'x')])
      inserted()
      await new Promise<void>((r) => (commit = r))
    })
    await xInserted
    await db.tx((t) => insertPacks(t, [pack(3, 'delete', 'y')]))
    const queue = new OpenQueue(db, 1)
    const first = await queue.read(100)
    assert.deepEqual(
      first.map((c) => [c.pack, c.ids]),
      [[2, ['y']]],
      'only what is committed is visible'
    )
    await db.tx((t) => settlePositions(t, first))
    queue.settled(first)

    commit()
    await xExit
    // Round 3, posted once round 2 was acknowledged: X enters again.
    await db.tx((t) => insertPacks(t, [pack(4, 'add', 'x')]))
    const second = await queue.read(100)
    assert.deepEqual(
      second.map((c) => [c.pack, c.batchKey, c.ids]),
      [
        [1, 'delete|EMAIL_SHA256', ['x']],
        [3, 'add|EMAIL_SHA256', ['x']]
      ],
      "X's exit before its new entry"
    )
  } finally {
    await db.close()
    await pg.drop()
  }
})
