/**
 * Events as received: one row per accepted event, for idempotency (a `(source, messageId)` seen
 * before is not routed again) and per-event outcomes. Routing happens in the same transaction as
 * the insert, so no raw body is ever stored — except a redacted copy of an event that failed, kept
 * as the sample Event Delivery shows (event-samples.ts).
 *
 * A row holds only what is read back: source and messageId (idempotency), received_at (retention)
 * and n_changes (outcomes). The columns type, name, body and routed_at of earlier versions are no
 * longer written — nothing read them, and writing them cost a third of the insert (175 → 123 ms per
 * 100,000 rows) — but stay in the schema, NULL, for processes of the previous version during an
 * upgrade.
 */
import { chunkSize, valuesList, type Db } from '../db.js'
import { int4Array, int8Array, textArray } from '../pg-arrays.js'
import { at } from '../../util/array.js'

/** Event records as columns (a routed batch's items): index i of every column is one event. */
export interface EventRecords {
  count: number
  sourceId: ArrayLike<number>
  messageId: string[]
  receivedAt: ArrayLike<number>
  /** How many changes routing made of each (0: filtered). */
  changes: ArrayLike<number>
}

const INSERT_CHUNK = 500
const COLS = 4

/**
 * The insert of `rows` rows, the same string each time: the driver finds its prepared statement by
 * the text, and a text built anew (5 KB for 500 rows) is hashed anew on every call.
 */
const insertSqls = new Map<number, string>()
function insertSql(rows: number): string {
  let sql = insertSqls.get(rows)
  if (sql === undefined) {
    sql = `INSERT INTO events (source_id, message_id, received_at, n_changes) VALUES ${valuesList(rows, COLS)}
       ON CONFLICT (source_id, message_id) DO NOTHING`
    insertSqls.set(rows, sql) // a few sizes: the chunk ladder (chunkSize)
  }
  return sql
}

/**
 * Inserts event records; returns the id of each record that was new, by index (a duplicate, also
 * within the same call, has none).
 */
export async function insertEventRecords(db: Db, events: EventRecords): Promise<(number | undefined)[]> {
  const ids: (number | undefined)[] = new Array(events.count)
  if (events.count === 0) return ids
  if (db.dialect === 'sqlite') {
    // SQLite gives a new row the largest id + 1, row after row, and this transaction is the only
    // writer: when every row was new their ids are the next ones in order. RETURNING would cost
    // about as much as the insert itself. Re-sent messageIds (rare) are told apart by reading
    // back the rows this call added.
    const before = await maxEventId(db)
    let added = 0
    for (let offset = 0; offset < events.count;) {
      const size = chunkSize(events.count - offset, INSERT_CHUNK)
      added += (await db.run(insertSql(size), insertParams(events, offset, size))).changes
      offset += size
    }
    if (added === events.count && (await maxEventId(db)) === before + added) {
      for (let i = 0; i < events.count; i++) ids[i] = before + 1 + i
      return ids
    }
    assignIds(ids, events, 0, events.count, await db.all<AddedRow>('SELECT id, source_id, message_id FROM events WHERE id > $1', [before]))
    return ids
  }
  // PostgreSQL: one statement for the whole group, a column per array parameter. The multi-row
  // VALUES it replaces took ~4 statements per 100 events (the chunk ladder) and had the server
  // parse and plan 4 parameters per row each time.
  const added = await db.all<AddedRow>(PG_INSERT, [
    int8Array(events.sourceId),
    textArray(events.messageId),
    int8Array(events.receivedAt),
    int4Array(events.changes)
  ])
  assignIds(ids, events, 0, events.count, added)
  return ids
}

const PG_INSERT = `INSERT INTO events (source_id, message_id, received_at, n_changes)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::integer[])
  ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id`

/** The insert's parameters for records `offset … offset + size`. */
function insertParams(events: EventRecords, offset: number, size: number): (string | number | null)[] {
  const params: (string | number | null)[] = new Array(size * COLS)
  for (let i = 0, p = 0; i < size; i++) {
    const e = offset + i
    params[p++] = at(events.sourceId, e)
    params[p++] = at(events.messageId, e)
    params[p++] = at(events.receivedAt, e)
    params[p++] = at(events.changes, e)
  }
  return params
}

/** A record an insert added, as read back. */
interface AddedRow {
  id: number
  source_id: number
  message_id: string
}

/** Ids of the records `offset … offset + size` among the rows the insert added; a second copy in the call gets none. */
function assignIds(ids: (number | undefined)[], events: EventRecords, offset: number, size: number, added: AddedRow[]): void {
  const byKey = new Map(added.map((r) => [`${r.source_id}|${r.message_id}`, Number(r.id)]))
  for (let i = offset; i < offset + size; i++) {
    const key = `${events.sourceId[i]}|${events.messageId[i]}`
    const id = byKey.get(key)
    if (id !== undefined) {
      ids[i] = id
      byKey.delete(key) // a second copy in the same call is a duplicate
    }
  }
}

export async function maxEventId(db: Db): Promise<number> {
  const r = await db.get<{ m: number | null }>('SELECT MAX(id) AS m FROM events')
  return Number(r?.m ?? 0)
}
