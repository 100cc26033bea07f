import { dirname, join } from 'node:path'
import type { Db } from './db.js'
import { migrate } from './migrations.js'
import { openPostgres } from './postgres.js'
import { openSqlite } from './sqlite.js'
import { SecretBox, loadSecretKey } from '../util/secrets.js'

export const DEFAULT_DATABASE_URL = 'sqlite:./data/tiktok-audiences.db'

/** The database plus what is needed to read it: the key that seals stored tokens. */
export interface Store {
  db: Db
  secrets: SecretBox
  url: string
  close(): Promise<void>
}

export function describeDatabaseUrl(url: string): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } {
  if (/^postgres(ql)?:\/\//.test(url)) return { kind: 'postgres', url }
  if (url.startsWith('sqlite:')) return { kind: 'sqlite', path: url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') || ':memory:' }
  throw new Error(`DATABASE_URL must be "sqlite:PATH" or "postgres://…", got "${url}"`)
}

/**
 * SQLITE_SYNCHRONOUS: FULL (default): a write is reported done only after the WAL holding it has
 * been synced to disk (fdatasync on the thread pool, one sync shared by the commits made while the
 * previous one ran; SQLite itself runs synchronous=NORMAL), so an acknowledged event survives power
 * loss. NORMAL: no such sync; survives a killed process but may lose the last commits on power loss.
 */
function sqliteSynchronousFromEnv(): 'FULL' | 'NORMAL' | undefined {
  const v = process.env.SQLITE_SYNCHRONOUS?.toUpperCase()
  if (!v) return undefined
  if (v === 'FULL' || v === 'NORMAL') return v
  throw new Error(`SQLITE_SYNCHRONOUS must be FULL or NORMAL, got "${process.env.SQLITE_SYNCHRONOUS}"`)
}

/** Opens (and migrates) the database named by `url`. */
export async function openStore(
  url: string,
  opts: { secretKey?: string; warn?: (m: string) => void; sqliteSynchronous?: 'FULL' | 'NORMAL' | 'OFF' } = {}
): Promise<Store> {
  const target = describeDatabaseUrl(url)
  let db: Db
  if (target.kind === 'postgres') {
    // Migrations on a connection of their own without the statement timeout: rewriting a large
    // table may take longer than any request should.
    const migrator = openPostgres(target.url, { max: 1, queryTimeoutMs: 0 })
    try {
      await migrate(migrator)
    } finally {
      await migrator.close()
    }
    db = openPostgres(target.url)
  } else {
    db = openSqlite(target.path, { synchronous: opts.sqliteSynchronous ?? sqliteSynchronousFromEnv() })
    try {
      await migrate(db)
    } catch (err) {
      await db.close().catch(() => undefined)
      throw err
    }
  }
  // Without SECRET_KEY the key lives beside the SQLite file (or in ./data for PostgreSQL; several
  // hosts sharing one PostgreSQL database must share SECRET_KEY).
  const keyFile = target.kind === 'sqlite' ? (target.path === ':memory:' ? undefined : join(dirname(target.path), 'secret.key')) : join('data', 'secret.key')
  const secret = opts.secretKey ?? loadSecretKey(keyFile, opts.warn ?? ((m) => process.stderr.write(`warning: ${m}\n`)))
  return { db, secrets: new SecretBox(secret), url, close: () => db.close() }
}

export type { Db } from './db.js'
