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
  type: string | null
  name: string | null
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
    for (const e of part) params.push(e.sourceId, e.messageId, e.receivedAt, e.type, e.name, routedAt)
    const rows = await db.all<{ id: number; source_id: number; message_id: string }>(
      `INSERT INTO events (source_id, message_id, received_at, type, name, routed_at) VALUES ${valuesList(part.length, 6)}
       ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id, source_id, message_id`,
      params
    )
    const byKey = new Map(rows.map((r) => [`${r.source_id}|${r.message_id}`, Number(r.id)]))
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
