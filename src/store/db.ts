/**
 * The database seam. Queries are written once with PostgreSQL-style `$1` placeholders; the SQLite
 * driver rewrites them to `?1`. SQLite runs in-process and synchronously, so its transactions are
 * serialised with a lock: no statement of another task can slip into an open transaction.
 */
export type Dialect = 'sqlite' | 'postgres'
/**
 * A Buffer is a BLOB on SQLite; on PostgreSQL it is sent in binary, which is how array parameters
 * (`unnest($1::bigint[])`, one parameter for a column of many rows) go: see pg-arrays.ts.
 */
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

/** valuesList texts by shape: hot inserts ask for the same few shapes (the chunk ladder) per transaction. */
const valuesLists = new Map<string, string>()

/** `VALUES ($1,$2),($3,$4)` for `rows` rows of `width` columns, numbering from `start`. */
export function valuesList(rows: number, width: number, start = 1): string {
  const shape = `${rows},${width},${start}`
  let text = valuesLists.get(shape)
  if (text !== undefined) return text
  const parts: string[] = new Array(rows)
  let n = start
  for (let r = 0; r < rows; r++) {
    const cols: string[] = new Array(width)
    for (let c = 0; c < width; c++) cols[c] = `$${n++}`
    parts[r] = `(${cols.join(',')})`
  }
  text = parts.join(',')
  if (valuesLists.size >= 256) valuesLists.clear() // shapes outside the ladders are rare: a bound, not an LRU
  valuesLists.set(shape, text)
  return text
}

/** `$1,$2,…,$n` for an `IN (…)` list. */
export function placeholders(count: number, start = 1): string {
  const out: string[] = new Array(count)
  for (let i = 0; i < count; i++) out[i] = `$${start + i}`
  return out.join(',')
}

/**
 * Splits `items` into chunks of at most `max`, so that one statement stays under the drivers'
 * parameter limits. Chunk sizes come from a short ladder (max, max/4, max/16, …, 1) rather than
 * whatever is left over: a multi-row statement is prepared once per size, and every SQLite prepared
 * statement holds memory (measured: ~100 MB for 400 sizes of one 13-column insert).
 */
export function* chunks<T>(items: T[], max: number): Generator<T[]> {
  let i = 0
  while (i < items.length) {
    const size = chunkSize(items.length - i, max)
    yield items.slice(i, i + size)
    i += size
  }
}

/** The size of the next chunk (see chunks) when `left` items are left. */
export function chunkSize(left: number, max: number): number {
  let size = max
  while (size > left) size = size >= 4 ? Math.floor(size / 4) : 1
  return size
}
