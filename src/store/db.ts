/**
 * The database seam. Queries are written once with PostgreSQL-style `$1` placeholders; the SQLite
 * driver rewrites them to `?1`. SQLite runs in-process and synchronously, so its transactions are
 * serialised with a lock: no statement of another task can slip into an open transaction.
 */
export type Dialect = 'sqlite' | 'postgres'
export type Param = string | number | bigint | null | Buffer
export interface RunResult {
  changes: number
}

export interface Db {
  readonly dialect: Dialect
  all<T = Record<string, unknown>>(sql: string, params?: Param[]): Promise<T[]>
  get<T = Record<string, unknown>>(sql: string, params?: Param[]): Promise<T | undefined>
  run(sql: string, params?: Param[]): Promise<RunResult>
  /** Runs `fn` in one transaction; `fn` must use the `Db` it is given. */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>
  /** Several statements separated by `;` (migrations). */
  exec(sql: string): Promise<void>
  close(): Promise<void>
}

/** `VALUES ($1,$2),($3,$4)` for `rows` rows of `width` columns, numbering from `start`. */
export function valuesList(rows: number, width: number, start = 1): string {
  const parts: string[] = new Array(rows)
  let n = start
  for (let r = 0; r < rows; r++) {
    const cols: string[] = new Array(width)
    for (let c = 0; c < width; c++) cols[c] = `$${n++}`
    parts[r] = `(${cols.join(',')})`
  }
  return parts.join(',')
}

/** `$1,$2,…,$n` for an `IN (…)` list. */
export function placeholders(count: number, start = 1): string {
  const out: string[] = new Array(count)
  for (let i = 0; i < count; i++) out[i] = `$${start + i}`
  return out.join(',')
}

/** Splits `items` into chunks so that one statement stays under the drivers' parameter limits. */
export function* chunks<T>(items: T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size)
}
