import pg from 'pg'
import type { Db, Param, RunResult } from './db.js'
import { asDatabaseError, isDatabaseUnavailable } from './errors.js'

// BIGINT columns hold epoch milliseconds and row ids: well inside Number's exact range.
pg.types.setTypeParser(20, (v: string) => Number(v))

type Queryable = pg.Pool | pg.PoolClient

/**
 * Statements are prepared once per connection (a named statement) and then only bound and run: the
 * same few texts run for every request, and parsing and planning them each time cost the server
 * more than running them. Names are given to the first texts seen, up to a bound — texts are a
 * fixed set plus IN lists of a few sizes — and later texts run unnamed (parsed each time).
 */
const statementNames = new Map<string, string>()
const MAX_NAMED = 400
function queryOf(text: string, params: Param[]): pg.QueryConfig {
  let name = statementNames.get(text)
  if (name === undefined && statementNames.size < MAX_NAMED) statementNames.set(text, (name = `tta${statementNames.size}`))
  return name === undefined ? { text, values: params as unknown[] } : { name, text, values: params as unknown[] }
}

/** Every failure leaves as a DatabaseUnavailableError when it means the server is unreachable. */
async function guarded<T>(work: Promise<T>): Promise<T> {
  try {
    return await work
  } catch (err) {
    throw asDatabaseError(err)
  }
}

class PostgresDb implements Db {
  readonly dialect = 'postgres' as const
  constructor(
    private readonly pool: pg.Pool,
    private readonly client?: pg.PoolClient
  ) {}
  private get q(): Queryable {
    return this.client ?? this.pool
  }
  async all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return (await guarded(this.q.query(queryOf(sql, params)))).rows as T[]
  }
  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return (await guarded(this.q.query(queryOf(sql, params)))).rows[0] as T | undefined
  }
  async run(sql: string, params: Param[] = []): Promise<RunResult> {
    return { changes: (await guarded(this.q.query(queryOf(sql, params)))).rowCount ?? 0 }
  }
  async exec(sql: string): Promise<void> {
    await guarded(this.q.query(sql))
  }
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.client) return fn(this)
    const client = await guarded(this.pool.connect())
    let broken: Error | undefined
    try {
      await guarded(client.query('BEGIN'))
      const result = await fn(new PostgresDb(this.pool, client))
      await guarded(client.query('COMMIT'))
      return result
    } catch (err) {
      // A lost connection is discarded (the server rolls back what it had); so is one whose ROLLBACK fails.
      if (isDatabaseUnavailable(err)) broken = err as Error
      else await client.query('ROLLBACK').catch((e: Error) => (broken = e))
      throw asDatabaseError(err)
    } finally {
      client.release(broken)
    }
  }
  async close(): Promise<void> {
    await this.pool.end()
  }
}

export interface PostgresOptions {
  max?: number
  /** Connecting (and waiting for a free pooled connection) gives up after this long. */
  connectTimeoutMs?: number
  /** A statement is cancelled by the server after this long, and abandoned by the client 1 s later; 0: no limit. */
  queryTimeoutMs?: number
}

function positiveMs(name: string, fallback: number): number {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive number of milliseconds, got "${v}"`)
  return n
}

/** TTA_PG_CONNECT_TIMEOUT_MS (5000) and TTA_PG_QUERY_TIMEOUT_MS (10000): how long a request can wait on PostgreSQL. */
export function postgresTimeoutsFromEnv(): { connectTimeoutMs: number; queryTimeoutMs: number } {
  return { connectTimeoutMs: positiveMs('TTA_PG_CONNECT_TIMEOUT_MS', 5000), queryTimeoutMs: positiveMs('TTA_PG_QUERY_TIMEOUT_MS', 10_000) }
}

export function openPostgres(url: string, opts: PostgresOptions = {}): Db {
  const defaults = postgresTimeoutsFromEnv()
  const queryTimeoutMs = opts.queryTimeoutMs ?? defaults.queryTimeoutMs
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? defaults.connectTimeoutMs,
    ...(queryTimeoutMs > 0 ? { statement_timeout: queryTimeoutMs, query_timeout: queryTimeoutMs + 1000 } : {})
  })
  // A connection lost while idle (pool 'error') or while checked out (the client's own 'error', which
  // pg emits with no listener of its own and would end the process): its next query fails with a
  // DatabaseUnavailableError and the pool discards it.
  pool.on('error', () => undefined)
  pool.on('connect', (client) => client.on('error', () => undefined))
  return new PostgresDb(pool)
}
