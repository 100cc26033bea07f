/**
 * Events as received: one row per accepted event, for idempotency (a `(source, messageId)` seen
 * before is not routed again) and per-event outcomes. Routing happens in the same transaction as
 * the insert, so no raw body is ever stored — except a redacted copy of an event that failed, kept
 * as the sample Event Delivery shows (event-samples.ts).
 */
import { chunks, valuesList, type Db } from '../db.js'

export interface EventRecord {
  sourceId: number
  messageId: string
  receivedAt: number
  type: string
  name: string | null
  /** How many changes routing made of it (0: filtered). */
  changes: number
}

const INSERT_CHUNK = 500

/**
 * Inserts event records, routed as of `routedAt`; returns the id of each record that was new, by
 * index into `events` (a duplicate, also within the same call, has none).
 */
export async function insertEventRecords(db: Db, events: EventRecord[], routedAt: number): Promise<(number | undefined)[]> {
  const ids: (number | undefined)[] = new Array(events.length)
  let offset = 0
  for (const part of chunks(events, INSERT_CHUNK)) {
    const params: (string | number | null)[] = []
    for (const e of part) params.push(e.sourceId, e.messageId, e.receivedAt, e.type, e.name, routedAt, e.changes)
    const insert = `INSERT INTO events (source_id, message_id, received_at, type, name, routed_at, n_changes) VALUES ${valuesList(part.length, 7)}
       ON CONFLICT (source_id, message_id) DO NOTHING`
    let byKey: Map<string, number>
    if (db.dialect === 'sqlite') {
      // SQLite gives a new row the largest id + 1, row after row, and this transaction is the only
      // writer: when every row was new their ids are the next ones in order. RETURNING would cost
      // about as much as the insert itself. Re-sent messageIds (rare) are told apart by reading
      // back the rows this statement added.
      const before = await maxEventId(db)
      const r = await db.run(insert, params)
      if (r.changes === part.length && (await maxEventId(db)) === before + part.length) {
        for (let i = 0; i < part.length; i++) ids[offset + i] = before + 1 + i
        offset += part.length
        continue
      }
      const rows = await db.all<{ id: number; source_id: number; message_id: string }>('SELECT id, source_id, message_id FROM events WHERE id > $1', [before])
      byKey = new Map(rows.map((r) => [`${r.source_id}|${r.message_id}`, Number(r.id)]))
    } else {
      const rows = await db.all<{ id: number; source_id: number; message_id: string }>(`${insert} RETURNING id, source_id, message_id`, params)
      byKey = new Map(rows.map((r) => [`${r.source_id}|${r.message_id}`, Number(r.id)]))
    }
    part.forEach((e, i) => {
      const key = `${e.sourceId}|${e.messageId}`
      const id = byKey.get(key)
      if (id !== undefined) {
        ids[offset + i] = id
        byKey.delete(key) // a second copy in the same call is a duplicate
      }
    })
    offset += part.length
  }
  return ids
}

export async function maxEventId(db: Db): Promise<number> {
  const r = await db.get<{ m: number | null }>('SELECT MAX(id) AS m FROM events')
  return Number(r?.m ?? 0)
}
