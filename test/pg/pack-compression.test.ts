/**
 * PostgreSQL stores queue pack bodies with lz4 (or uncompressed where the server lacks lz4), not
 * pglz: pglz cost a fifth of the database's CPU on ingestion failing to compress hashed identifiers.
 * A body of any size still reads back as written.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, test } from 'node:test'
import { migrate } from '../../src/store/migrations.js'
import { openPostgres } from '../../src/store/postgres.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

test('queue pack bodies: lz4 or no compression, and read back intact', { skip }, async () => {
  const pg = await createPgDatabase()
  const db = openPostgres(pg.url)
  try {
    await migrate(db)
    const col = await db.get<{ compression: string; storage: string }>(
      `SELECT attcompression AS compression, attstorage AS storage FROM pg_attribute WHERE attrelid = 'queue_packs'::regclass AND attname = 'body'`
    )
    assert.ok(col?.compression === 'l' || col?.storage === 'e', `body column: compression '${col?.compression}', storage '${col?.storage}'`)

    const line = (i: number) => `${i},1,0,"${createHash('sha256').update(String(i)).digest('hex')}",null`
    const body = `[["add",["EMAIL_SHA256"]]]\n${Array.from({ length: 2000 }, (_, i) => line(i)).join('\n')}`
    await db.run(`INSERT INTO queue_packs (partition_id, destination_id, n, open, body, created_at) VALUES (1, 1, 2000, 2000, $1, 0)`, [body])
    const back = await db.get<{ body: string; method: string | null }>(`SELECT body, pg_column_compression(body) AS method FROM queue_packs`)
    assert.equal(back?.body, body)
    assert.ok(back?.method === null || back.method === 'lz4', `stored with ${back?.method}`)
  } finally {
    await db.close()
  }
})
