/**
 * The database being unreachable, as one error type: PostgreSQL stopped or restarting, the
 * connection lost or refused, a connect or query timing out. Callers answer 503 (HTTP) or wait and
 * retry (delivery) instead of treating it as a fault of the work at hand.
 */
export class DatabaseUnavailableError extends Error {
  readonly code?: string
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { cause: options.cause })
    this.name = 'DatabaseUnavailableError'
    this.code = options.code
  }
}

/** Node's socket errors that mean the server cannot be reached. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED'
])
/**
 * PostgreSQL SQLSTATEs of a server going away or refusing connections: class 08 (connection
 * exception), 57P01–57P03 (admin/crash shutdown, cannot connect now), 53300 (too many connections),
 * 57014 (canceled: the statement timeout).
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '57014'])
/** What pg and pg-pool say when a connection ends or a connect/query times out. */
const MESSAGES =
  /connection terminated|timeout exceeded when trying to connect|query read timeout|connection timeout|not queryable|connect ECONNREFUSED|server closed the connection/i

/** Whether `err` means the database is unreachable (rather than a bad query or bad data). */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true
  // Node tries each address of a host name in turn (localhost: ::1 and 127.0.0.1) and reports them together.
  if (err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)) return true
  return MESSAGES.test(err.message)
}

/** `err` as a DatabaseUnavailableError when it is one of those, otherwise unchanged. */
export function asDatabaseError(err: unknown): unknown {
  if (err instanceof DatabaseUnavailableError || !isDatabaseUnavailable(err)) return err
  const e = err as Error & { code?: string }
  return new DatabaseUnavailableError(`database unavailable: ${e.message || e.code || 'connection failed'}`, { cause: err, code: e.code })
}
