/**
 * Opening the database at start-up, for operators: a PostgreSQL that is not reachable yet is waited
 * for (TTA_DB_START_WAIT_MS, default 30 s) with one line saying what is wrong and how to fix it;
 * then the start fails with that line (DatabaseStartError: no stack). An unusable SQLite path fails
 * at once with the same kind of line.
 */
import { describeDatabaseUrl, openStore, type Store } from './index.js'
import { isDatabaseUnavailable } from './errors.js'

/** Why the service cannot start on its database, in one line for the operator. */
export class DatabaseStartError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DatabaseStartError'
  }
}

export const DEFAULT_DB_START_WAIT_MS = 30_000

export function dbStartWaitMs(): number {
  const v = process.env.TTA_DB_START_WAIT_MS
  if (v === undefined || v === '') return DEFAULT_DB_START_WAIT_MS
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) throw new DatabaseStartError(`TTA_DB_START_WAIT_MS must be a number of milliseconds (0: do not wait), got "${v}"`)
  return n
}

/** Host, port, database and user of a postgres:// URL — never its password. */
function pgTarget(url: string): { host: string; port: string; database: string; user: string } {
  try {
    const u = new URL(url)
    return {
      host: u.hostname || 'localhost',
      port: u.port || '5432',
      database: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
      user: decodeURIComponent(u.username) || 'postgres'
    }
  } catch {
    return { host: '?', port: '?', database: '?', user: '?' }
  }
}

const codeOf = (err: unknown): string | undefined => {
  const e = err as { code?: unknown; errors?: unknown[] }
  if (typeof e?.code === 'string') return e.code
  const inner = (err as { cause?: unknown })?.cause
  return inner ? codeOf(inner) : undefined
}

/** What is wrong with PostgreSQL at `url`, and the fix; undefined when `err` is not a start-up problem (a bug, a failed migration). */
export function postgresStartProblem(err: unknown, url: string): string | undefined {
  const { host, port, database, user } = pgTarget(url)
  const subject = `PostgreSQL database "${database}" at ${host}:${port}`
  const code = codeOf(err)
  const cli = `-h ${host} -p ${port}`
  if (code === '3D000') return `${subject}: no such database; create it with \`createdb ${cli} -U ${user} ${database}\``
  if (code === '28000')
    return `${subject}: no role "${user}" (or it may not connect); create it with \`createuser ${cli} ${user}\`, or name another user in DATABASE_URL`
  if (code === '28P01') return `${subject}: the password of "${user}" was refused; check DATABASE_URL`
  if (code === 'ECONNREFUSED') return `${subject}: connection refused; is PostgreSQL running, on that port?`
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `${subject}: the host "${host}" is not found; check DATABASE_URL`
  if (code === '57P03') return `${subject}: the server is starting up or shutting down`
  if (isDatabaseUnavailable(err)) return `${subject}: no answer (${(err as Error).message}); is PostgreSQL running, and reachable from here?`
  return undefined
}

/** What is wrong with the SQLite file at `path`, and the fix; undefined when `err` is something else. */
export function sqliteStartProblem(err: unknown, path: string): string | undefined {
  const code = codeOf(err) ?? ''
  const why =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EROFS' || code === 'SQLITE_READONLY'
        ? 'the file system is read-only'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a part of the path is a file, not a folder'
          : code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR') || code === 'ENOSPC'
            ? (err as Error).message
            : undefined
  return why && `cannot open the SQLite database ${path}: ${why}. Choose a writable path: DATABASE_URL=sqlite:PATH`
}

/**
 * openStore, waiting up to `waitMs` for a PostgreSQL that is not reachable yet (trying every second
 * or so). `report` gets one line when a problem first shows (and when it changes); the start then
 * fails with a DatabaseStartError once `waitMs` has passed.
 */
export async function openStoreAtStart(url: string, opts: { warn?: (m: string) => void; report: (line: string) => void; waitMs?: number }): Promise<Store> {
  const target = describeDatabaseUrl(url)
  const waitMs = opts.waitMs ?? dbStartWaitMs()
  if (target.kind === 'sqlite') {
    try {
      return await openStore(url, { warn: opts.warn })
    } catch (err) {
      const problem = sqliteStartProblem(err, target.path)
      throw problem ? new DatabaseStartError(problem) : err
    }
  }
  const deadline = Date.now() + waitMs
  let said: string | undefined
  for (;;) {
    try {
      const store = await openStore(url, { warn: opts.warn })
      if (said) opts.report(`database: reachable now; starting`)
      return store
    } catch (err) {
      const problem = postgresStartProblem(err, url)
      if (!problem) throw err
      if (Date.now() >= deadline) throw new DatabaseStartError(`${problem} (gave up after ${Math.round(waitMs / 1000)} s: TTA_DB_START_WAIT_MS)`)
      if (problem !== said) opts.report(`database: ${problem}; retrying for up to ${Math.round(waitMs / 1000)} s (TTA_DB_START_WAIT_MS)`)
      said = problem
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, deadline - Date.now()))))
    }
  }
}
