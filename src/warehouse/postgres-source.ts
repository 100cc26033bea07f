/**
 * A PostgreSQL query as a mirror sync source: the query runs in a read-only transaction through a
 * server-side cursor (DECLARE … CURSOR, FETCH n), so the rows arrive a page at a time and the
 * result is never held whole, however large it is. Its `email`, `phone` and `advertising_id`
 * columns (any subset, any case; other columns ignored) are the member's identifiers.
 */
import pg from 'pg'
import type { Member, MemberLine, MemberSource } from '../mirror/source.js'

export const IDENTIFIER_COLUMNS = ['email', 'phone', 'advertising_id'] as const
type IdentifierColumn = (typeof IDENTIFIER_COLUMNS)[number]

/** Why a run cannot read its rows: the database refused the query, or its result has no identifier column. */
export class WarehouseQueryError extends Error {
  override readonly name = 'WarehouseQueryError'
}

/** Rows per FETCH: a page small enough for flat memory, large enough that round trips do not dominate. */
const FETCH_ROWS = 5000
const CURSOR = 'tiktok_audiences_sync'

export interface PostgresSourceOptions {
  url: string
  query: string
  fetchRows?: number
}

/** `SELECT …;` → `SELECT …` (a cursor is declared FOR one statement, without its terminator). */
function cursorQuery(query: string): string {
  return query.trim().replace(/;\s*$/, '')
}

function describe(err: unknown): string {
  const e = err as Error & { code?: string; position?: string }
  return e.message || String(err)
}

function toText(column: IdentifierColumn, value: unknown): string | { error: string } | undefined {
  if (value === null || value === undefined || value === '') return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  return { error: `column "${column}" must be text (got ${value instanceof Date ? 'a date' : typeof value})` }
}

export function postgresMemberSource(opts: PostgresSourceOptions): MemberSource {
  const fetchRows = opts.fetchRows ?? FETCH_ROWS
  return {
    async *rows(): AsyncGenerator<MemberLine> {
      const client = new pg.Client({ connectionString: opts.url, application_name: 'tiktok-audiences warehouse sync', connectionTimeoutMillis: 10_000 })
      // A connection dropped mid-read surfaces as the failing query; without a listener it would crash the process.
      client.on('error', () => undefined)
      try {
        await client.connect()
      } catch (err) {
        throw new WarehouseQueryError(`cannot connect to the warehouse: ${describe(err)}`)
      }
      try {
        let indexes: [IdentifierColumn, number][] | undefined
        let line = 0
        try {
          await client.query('BEGIN READ ONLY')
          await client.query(`DECLARE ${CURSOR} NO SCROLL CURSOR FOR ${cursorQuery(opts.query)}`)
        } catch (err) {
          throw new WarehouseQueryError(`the query failed: ${describe(err)}`)
        }
        for (;;) {
          let page: pg.QueryArrayResult
          try {
            page = await client.query({ text: `FETCH ${fetchRows} FROM ${CURSOR}`, rowMode: 'array' })
          } catch (err) {
            throw new WarehouseQueryError(`the query failed: ${describe(err)}`)
          }
          if (!indexes) {
            const names = page.fields.map((f) => f.name)
            indexes = IDENTIFIER_COLUMNS.map((c) => [c, names.findIndex((n) => n.toLowerCase() === c)] as [IdentifierColumn, number]).filter(([, i]) => i >= 0)
            if (indexes.length === 0) {
              throw new WarehouseQueryError(
                `the query returned none of the columns ${IDENTIFIER_COLUMNS.join(', ')} (it returned: ${names.join(', ') || 'no columns'})`
              )
            }
          }
          for (const row of page.rows) {
            line++
            const member: Member = {}
            let error: string | undefined
            for (const [column, i] of indexes) {
              const v = toText(column, row[i])
              if (typeof v === 'object') error ??= v.error
              else if (v !== undefined) member[column] = v
            }
            if (error) yield { line, error }
            else if (!member.email && !member.phone && !member.advertising_id)
              yield { line, error: `needs at least one of ${indexes.map(([c]) => c).join(', ')}` }
            else yield { line, member }
          }
          if (page.rows.length < fetchRows) break
        }
        await client.query('COMMIT').catch(() => undefined)
      } finally {
        await client.end().catch(() => undefined)
      }
    }
  }
}
