import Database from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Db, Param, RunResult } from './db.js'
import { at } from '../util/array.js'
import { must } from '../util/must.js'

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
  return p.order ? p.order.map((i) => at(params, i - 1)) : params
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

interface SyncGroup {
  done: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function syncGroup(): SyncGroup {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)))
  return { done, resolve, reject }
}

/**
 * Group sync of the WAL, off the main thread. With `synchronous=FULL` SQLite would fsync the WAL
 * inside every COMMIT, on the main thread; instead the connection runs `synchronous=NORMAL` and a
 * write is reported done only after this syncs the WAL. One sync runs at a time. A commit that
 * lands while a sync runs may not be covered by it (the sync may already have flushed past its
 * pages), so it waits for the next sync, which starts when the running one ends and covers every
 * commit made meanwhile: N concurrent commits cost about two syncs, not N.
 */
export class WalSyncer {
  private running: SyncGroup | null = null
  private next: SyncGroup | null = null

  constructor(private readonly sync: () => Promise<void>) {}

  /** Call right after a write: resolves once a sync started after this call has completed. */
  afterWrite(): Promise<void> {
    if (!this.running) {
      const g = syncGroup()
      this.start(g)
      return g.done
    }
    return (this.next ??= syncGroup()).done
  }

  /**
   * Call after a read: resolves once every write made before this call is synced (at once if none
   * is pending), so that nothing read — and then acted upon — can still be lost on power loss.
   */
  afterRead(): Promise<void> | undefined {
    return (this.next ?? this.running)?.done
  }

  /** Resolves when no sync is running or due. */
  async drain(): Promise<void> {
    while (this.running) await this.running.done.catch(() => {})
  }

  private start(g: SyncGroup): void {
    this.running = g
    let syncing: Promise<void>
    try {
      syncing = this.sync()
    } catch (err) {
      syncing = Promise.reject(err)
    }
    // A failed sync rejects every write of its group (their callers must not acknowledge them);
    // the next group gets a sync of its own.
    void syncing.then(g.resolve, g.reject).then(() => {
      this.running = null
      const n = this.next
      this.next = null
      if (n) this.start(n)
    })
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT'
}

/**
 * The connection's `-wal` file, synced with `fdatasync` on libuv's thread pool. SQLite creates it on
 * the first write and keeps the same file until the connection closes; it is opened lazily and
 * reopened should it ever be a different file (another inode).
 */
export class WalFile {
  private handle: FileHandle | null = null
  private ino = 0n
  private dev = 0n
  private checkedAt = 0

  /**
   * Which file the path names is checked at most every `checkEveryMs`: a stat per sync cost the
   * event loop about as much as the sync itself, and SQLite does not replace the WAL while this
   * connection is open.
   */
  constructor(
    readonly path: string,
    private readonly checkEveryMs = 1000
  ) {}

  async datasync(): Promise<void> {
    const now = Date.now()
    if (!this.handle || now - this.checkedAt >= this.checkEveryMs) {
      if (!(await this.reopenIfReplaced())) return
      this.checkedAt = now
    }
    await must(this.handle, 'the open database file').datasync()
  }

  /** Opens the WAL, or reopens it if the path names another file; false when there is none. */
  private async reopenIfReplaced(): Promise<boolean> {
    let st
    try {
      st = await stat(this.path, { bigint: true })
    } catch (err) {
      // No WAL yet, or none any more: SQLite deletes it only once it is checkpointed into the
      // database, which it syncs. Nothing of ours is left unsynced in it.
      if (!isMissing(err)) throw err
      await this.close()
      return false
    }
    if (this.handle && st.ino === this.ino && st.dev === this.dev) return true
    await this.close()
    // r+: some systems (Windows) refuse to flush a file opened read-only.
    const handle = await open(this.path, 'r+')
    try {
      const hst = await handle.stat({ bigint: true })
      // A new WAL's directory entry must be durable too: with synchronous=FULL SQLite syncs the
      // directory on the first sync of a new journal, with NORMAL only at the first checkpoint.
      if (process.platform !== 'win32') await syncDirectory(dirname(this.path))
      this.handle = handle
      this.ino = hst.ino
      this.dev = hst.dev
    } catch (err) {
      await handle.close()
      throw err
    }
    return true
  }

  async close(): Promise<void> {
    const h = this.handle
    this.handle = null
    await h?.close()
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, 'r')
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}

export interface SqliteOptions {
  /**
   * FULL (default): a write's promise resolves once the WAL holding it is synced to disk (by
   * WalSyncer, off the main thread). NORMAL: no syncing; a killed process loses nothing, power loss
   * may lose the last commits. OFF: SQLite does not sync even at checkpoints (~3% of a 100k-event
   * `send`); only for a throw-away database (send's temporary one), which power loss may corrupt.
   */
  synchronous?: 'FULL' | 'NORMAL' | 'OFF'
  /** Replaces the WAL's fdatasync (tests observe and fail syncs through it). */
  walSync?: () => Promise<void>
}

const MAX_CACHED_STATEMENTS = 200

/** One better-sqlite3 connection with its prepared-statement cache. */
class SqliteConnection {
  readonly raw: Database.Database
  readonly lock = new Lock()
  /** Null when nothing is to be synced: NORMAL chosen, or an in-memory database. */
  readonly syncer: WalSyncer | null = null
  private readonly wal: WalFile | null = null
  private readonly cache = new Map<string, Prepared>()

  constructor(
    readonly path: string,
    opts: SqliteOptions
  ) {
    const inMemory = path === ':memory:' || path === ''
    if (!inMemory) mkdirSync(dirname(path), { recursive: true })
    this.raw = new Database(path)
    const journal = this.raw.pragma('journal_mode = WAL', { simple: true })
    const full = (opts.synchronous ?? 'FULL') === 'FULL'
    // FULL's promise — an acknowledged write survives power loss — is kept by the syncer below,
    // with SQLite at NORMAL: it does not sync the WAL at COMMIT (that fsync would block the event
    // loop) but still syncs it before a checkpoint and the database after one. Should WAL mode be
    // refused (no WAL file to sync; in-memory databases have nothing to sync), SQLite syncs itself.
    const ownSync = full && journal === 'wal'
    this.raw.pragma(`synchronous = ${full && !ownSync ? 'FULL' : opts.synchronous === 'OFF' ? 'OFF' : 'NORMAL'}`)
    this.raw.pragma('busy_timeout = 10000')
    this.raw.pragma('foreign_keys = ON')
    if (ownSync) {
      let sync = opts.walSync
      if (!sync) {
        const wal = (this.wal = new WalFile(`${path}-wal`))
        sync = () => wal.datasync()
      }
      this.syncer = new WalSyncer(sync)
    }
  }

  /** What a finished statement or transaction awaits before it resolves (see WalSyncer). */
  durable(wrote: boolean): Promise<void> | undefined {
    if (!this.syncer) return undefined
    return wrote ? this.syncer.afterWrite() : this.syncer.afterRead()
  }

  async closeWal(): Promise<void> {
    await this.syncer?.drain()
    await this.wal?.close()
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
      if (this.cache.size > MAX_CACHED_STATEMENTS) this.cache.delete(this.cache.keys().next().value ?? '')
    }
    return p
  }
}

/** Whether the open transaction has written: a transaction that only read needs no sync of its own. */
interface TxState {
  wrote: boolean
}

class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const
  constructor(
    private readonly root: SqliteConnection,
    private readonly txState: TxState | null
  ) {}
  /**
   * One statement (or `exec` batch); `fn` says whether it wrote. Outside a transaction it takes the
   * lock, and its promise resolves only once what it wrote, or read, is synced — after the lock is
   * released, so that other work runs during the sync. A write that returns rows (`RETURNING`, the
   * only kind `get` and `all` run) and returned none changed nothing: it waits like a read, not for
   * a sync of its own (the delivery loops' claim after every commit mostly finds nothing).
   */
  private async locked<T>(fn: () => { result: T; wrote: boolean }): Promise<T> {
    if (this.txState) {
      const r = fn()
      if (r.wrote) this.txState.wrote = true
      return r.result
    }
    const release = await this.root.lock.acquire()
    let r: { result: T; wrote: boolean }
    try {
      r = fn()
    } finally {
      release()
    }
    await this.root.durable(r.wrote)
    return r.result
  }
  all<T>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      const rows = p.stmt.all(bindValues(p, params)) as T[]
      return { result: rows, wrote: !p.stmt.readonly && rows.length > 0 }
    })
  }
  get<T>(sql: string, params: Param[] = []): Promise<T | undefined> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      const row = p.stmt.get(bindValues(p, params)) as T | undefined
      return { result: row, wrote: !p.stmt.readonly && row !== undefined }
    })
  }
  run(sql: string, params: Param[] = []): Promise<RunResult> {
    return this.locked(() => {
      const p = this.root.prepare(sql)
      return { result: { changes: p.stmt.run(bindValues(p, params)).changes }, wrote: !p.stmt.readonly }
    })
  }
  exec(sql: string): Promise<void> {
    return this.locked(() => {
      this.root.raw.exec(sql)
      return { result: undefined, wrote: true }
    })
  }
  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (this.txState) return fn(this)
    const release = await this.root.lock.acquire()
    const state: TxState = { wrote: false }
    let result: T
    try {
      this.root.raw.exec('BEGIN IMMEDIATE')
      try {
        result = await fn(new SqliteDb(this.root, state))
        this.root.raw.exec('COMMIT')
      } catch (err) {
        if (this.root.raw.inTransaction) this.root.raw.exec('ROLLBACK')
        throw err
      }
    } finally {
      release()
    }
    // The lock is already free: the next transaction runs while this one's sync is in flight.
    await this.root.durable(state.wrote)
    return result
  }
  async close(): Promise<void> {
    const release = await this.root.lock.acquire()
    try {
      this.root.raw.close()
    } finally {
      release()
    }
    await this.root.closeWal()
  }
}

export function openSqlite(path: string, opts: SqliteOptions = {}): Db {
  return new SqliteDb(new SqliteConnection(path, opts), null)
}
