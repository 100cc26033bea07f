import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Db, Param, RunResult } from './db.js'

type Statement = Database.Statement<unknown[], unknown>

/**
 * A prepared statement plus the order of its `$n` parameters: better-sqlite3 has no numbered
 * positional parameters, so `$n` becomes `?` and the values are reordered (repeats included).
 */
interface Prepared {
  stmt: Statement
  order: number[] | null
}

function bindValues(p: Prepared, params: Param[]): Param[] {
  return p.order ? p.order.map((i) => params[i - 1]) : params
}

/** Serialises async work on the single SQLite connection. */
class Lock {
  private tail: Promise<void> = Promise.resolve()
  async acquire(): Promise<() => void> {
    let release!: () => void
    const next = new Promise<void>((r) => (release = r))
    const prev = this.tail
    this.tail = prev.then(() => next)
    await prev
    return release
  }
}

const MAX_CACHED_STATEMENTS = 200

/** One better-sqlite3 connection with its prepared-statement cache. */
class SqliteConnection {
  readonly raw: Database.Database
  readonly lock = new Lock()
  private readonly cache = new Map<string, Prepared>()

  constructor(readonly path: string, synchronous: 'FULL' | 'NORMAL') {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    this.raw = new Database(path)
    this.raw.pragma('journal_mode = WAL')
    // FULL: an acknowledged commit survives power loss, not only a killed process.
    this.raw.pragma(`synchronous = ${synchronous}`)
    this.raw.pragma('busy_timeout = 10000')
    this.raw.pragma('foreign_keys = ON')
  }

  prepare(sql: string): Prepared {
    let p = this.cache.get(sql)
    if (p) {
      // Least recently used last out: re-insert on use.
      this.cache.delete(sql)
      this.cache.set(sql, p)
    } else {
      const numbers = [...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]))
      const inOrder = numbers.every((n, i) => n === i + 1)
      p = { stmt: this.raw.prepare(sql.replace(/\$\d+/g, '?')) as Statement, order: inOrder ? null : numbers }
      this.cache.set(sql, p)
      // A bound on prepared statements: each holds memory until finalised (by the GC, once dropped).
      if (this.cache.size > MAX_CACHED_STATEMENTS) this.cache.delete(this.cache.keys().next().value!)
    }
    return p
  }
}

class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const
  constructor(
    private readonly root: SqliteConnection,
    private readonly inTx: boolean
  ) {}
  private async locked<T>(fn: () => T): Promise<T> {
    if (this.inTx) return fn()
    const release = await this.root.lock.acquire()
    try {
      return fn()
    } finally {
      release()
    }
  }
  all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      return p.stmt.all(...bindValues(p, params)) as T[]
    })
  }
  get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      return p.stmt.get(...bindValues(p, params)) as T | undefined
    })
  }
  run(sql: string, params: Param[] = []): Promise<RunResult> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      return { changes: p.stmt.run(...bindValues(p, params)).changes }
    })
  }
  exec(sql: string): Promise<void> {
    return this.locked(() => void this.root.raw.exec(sql))
  }
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.inTx) return fn(this)
    const release = await this.root.lock.acquire()
    const inner = new SqliteDb(this.root, true)
    try {
      this.root.raw.exec('BEGIN IMMEDIATE')
      try {
        const result = await fn(inner)
        this.root.raw.exec('COMMIT')
        return result
      } catch (err) {
        if (this.root.raw.inTransaction) this.root.raw.exec('ROLLBACK')
        throw err
      }
    } finally {
      release()
    }
  }
  async close(): Promise<void> {
    const release = await this.root.lock.acquire()
    try {
      this.root.raw.close()
    } finally {
      release()
    }
  }
}

export function openSqlite(path: string, opts: { synchronous?: 'FULL' | 'NORMAL' } = {}): Db {
  return new SqliteDb(new SqliteConnection(path, opts.synchronous ?? 'FULL'), false)
}
