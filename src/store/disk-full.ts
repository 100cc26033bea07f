/**
 * The database's disk being full: SQLite's SQLITE_FULL (and ENOSPC underneath it), PostgreSQL's
 * 53100 disk_full. Nothing was stored; the same request succeeds once space is freed, so callers
 * answer 503 with Retry-After rather than 500.
 */
const CODES = new Set(['SQLITE_FULL', 'ENOSPC', '53100'])

export function isDiskFull(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  return (typeof code === 'string' && CODES.has(code)) || /database or disk is full|no space left on device/i.test(err.message)
}
