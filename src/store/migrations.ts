import { readFileSync } from 'node:fs'
import type { Db, Dialect } from './db.js'
import { movePendingChangesIntoPacks } from './migrations/000006.js'
import { packBodiesAsLines } from './migrations/000007.js'
import { redactKeptSamples } from './migrations/000010.js'
import { packBodiesLz4 } from './migrations/000017.js'
import { at } from '../util/array.js'

/**
 * The schema, one entry per version, written once for both databases: `{{id}}` becomes each
 * dialect's auto-increment key. Applied automatically at open, in order, each in a transaction.
 *
 * Each version is frozen: its SQL in `migrations/NNNNNN.sql` (copied into dist by the build), and
 * where it moves data, the code it needs in `migrations/NNNNNN.ts`, a copy as it ran then — never an
 * import of live code, whose formats move on (what each version does is said in its own file).
 */
type Migration = string | { sql: string; data: (db: Db) => Promise<void> }

/** The SQL of version `version` (`migrations/000001.sql`…). */
function sqlOf(version: number): string {
  return readFileSync(new URL(`./migrations/${String(version).padStart(6, '0')}.sql`, import.meta.url), 'utf8')
}

const MIGRATIONS: Migration[] = [
  sqlOf(1),
  sqlOf(2),
  sqlOf(3),
  sqlOf(4),
  sqlOf(5),
  { sql: sqlOf(6), data: movePendingChangesIntoPacks },
  { sql: '', data: packBodiesAsLines },
  sqlOf(8),
  sqlOf(9),
  { sql: sqlOf(10), data: redactKeptSamples },
  sqlOf(11),
  sqlOf(12),
  sqlOf(13),
  sqlOf(14),
  sqlOf(15),
  sqlOf(16),
  { sql: '', data: packBodiesLz4 }
]

function forDialect(sql: string, dialect: Dialect): string {
  return sql
    .replaceAll('{{id}}', dialect === 'sqlite' ? 'INTEGER PRIMARY KEY' : 'BIGSERIAL PRIMARY KEY')
    .replaceAll('{{without_rowid}}', dialect === 'sqlite' ? ' WITHOUT ROWID' : '')
}

export const SCHEMA_VERSION = MIGRATIONS.length

/**
 * Brings the database to the newest schema (or only up to version `upTo`, for tests of a
 * migration). Safe to run concurrently from several processes.
 */
export async function migrate(db: Db, opts: { upTo?: number } = {}): Promise<void> {
  // PostgreSQL: one migrator at a time across processes. CREATE TABLE IF NOT EXISTS is not safe
  // when two processes run it at once on a fresh database (a unique violation in pg_type), so it
  // takes the same lock.
  await db.tx(async (t) => {
    if (t.dialect === 'postgres') await t.run('SELECT pg_advisory_xact_lock(774411)')
    await t.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)')
  })
  const last = Math.min(opts.upTo ?? MIGRATIONS.length, MIGRATIONS.length)
  for (let v = 1; v <= last; v++) {
    await db.tx(async (t) => {
      if (t.dialect === 'postgres') await t.run('SELECT pg_advisory_xact_lock(774411)')
      const done = await t.get('SELECT version FROM schema_migrations WHERE version = $1', [v])
      if (done) return
      const m = at(MIGRATIONS, v - 1)
      await t.exec(forDialect(typeof m === 'string' ? m : m.sql, t.dialect))
      if (typeof m !== 'string') await m.data(t)
      await t.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, Date.now()])
    })
  }
}
