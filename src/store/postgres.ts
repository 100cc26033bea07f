import pg from 'pg'
import type { Db, Param, RunResult } from './db.js'

// BIGINT columns hold epoch milliseconds and row ids: well inside Number's exact range.
pg.types.setTypeParser(20, (v: string) => Number(v))

type Queryable = pg.Pool | pg.PoolClient

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
    return (await this.q.query(sql, params as unknown[])).rows as T[]
  }
  async get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return (await this.q.query(sql, params as unknown[])).rows[0] as T | undefined
  }
  async run(sql: string, params: Param[] = []): Promise<RunResult> {
    return { changes: (await this.q.query(sql, params as unknown[])).rowCount ?? 0 }
  }
  async exec(sql: string): Promise<void> {
    await this.q.query(sql)
  }
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.client) return fn(this)
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const result = await fn(new PostgresDb(this.pool, client))
      await client.query('COMMIT')
      return result
    } catch (err) {
      // A connection whose ROLLBACK fails is discarded rather than returned to the pool.
      await client.query('ROLLBACK').catch((e: Error) => (broken = e))
      throw err
    } finally {
      client.release(broken)
    }
  }
  async close(): Promise<void> {
    await this.pool.end()
  }
}

export function openPostgres(url: string, opts: { max?: number } = {}): Db {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 })
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined)
  return new PostgresDb(pool)
}
