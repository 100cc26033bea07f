/**
 * PostgreSQL for tests: a fresh database per test (created on the server at 127.0.0.1:5432, user
 * postgres, trust auth; `TTA_TEST_PG_URL` overrides), dropped afterwards. Without a reachable server
 * the tests skip with a clear message locally, and FAIL in CI (`CI=true`): the scale-out store is
 * part of the product.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export const PG_ADMIN_URL = process.env.TTA_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

/** `undefined` when PostgreSQL answers; otherwise why the PostgreSQL tests are skipped. Throws in CI. */
export async function pgSkipReason(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (err) {
    const why = `PostgreSQL is not reachable at ${PG_ADMIN_URL.replace(/\/\/[^@]*@/, '//')} (${(err as Error).message})`
    if (process.env.CI === 'true' || process.env.CI === '1')
      throw new Error(`${why}: CI requires it (start it with pg_ctlcluster … main start)`, { cause: err })
    return `${why}: start it to run the PostgreSQL tests`
  } finally {
    await client.end().catch(() => undefined)
  }
}

export interface PgDatabase {
  name: string
  url: string
  /** A client on this database (closed by drop()). */
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>
  drop(): Promise<void>
}

const live = new Set<PgDatabase>()

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Creates `tta_test_<random>`; its URL has the same server and user as PG_ADMIN_URL. */
export async function createPgDatabase(): Promise<PgDatabase> {
  const name = `tta_test_${randomBytes(6).toString('hex')}`
  await admin((c) => c.query(`CREATE DATABASE ${name}`))
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${name}`
  const url = u.toString()
  let client: pg.Client | undefined
  const db: PgDatabase = {
    name,
    url,
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) {
      if (!client) {
        client = new pg.Client({ connectionString: url })
        await client.connect()
      }
      return (await client.query<T>(sql, params)).rows
    },
    async drop() {
      live.delete(db)
      await client?.end().catch(() => undefined)
      client = undefined
      // FORCE: connections of killed or stuck service processes must not keep the database alive.
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    }
  }
  live.add(db)
  return db
}

/** Drops every database this process created and has not dropped yet. */
export async function dropAllPgDatabases(): Promise<void> {
  await Promise.all([...live].map((d) => d.drop().catch(() => undefined)))
}
