/** The inbox: events as received, held until routed, then stripped of their raw body. */
import { chunks, placeholders, valuesList, type Db } from '../db.js'

export interface InboxEvent {
  sourceId: number
  messageId: string
  receivedAt: number
  type: string | null
  name: string | null
  body: string
}

/** Inserts events; a `(source, messageId)` seen before is ignored (routing is idempotent). Returns how many were new. */
export async function insertEvents(db: Db, events: InboxEvent[]): Promise<number> {
  let inserted = 0
  for (const part of chunks(events, 500)) {
    const params: (string | number | null)[] = []
    for (const e of part) params.push(e.sourceId, e.messageId, e.receivedAt, e.type, e.name, e.body)
    const r = await db.run(
      `INSERT INTO events (source_id, message_id, received_at, type, name, body) VALUES ${valuesList(part.length, 6)}
       ON CONFLICT (source_id, message_id) DO NOTHING`,
      params
    )
    inserted += r.changes
  }
  return inserted
}

export interface UnroutedEvent {
  id: number
  source_id: number
  received_at: number
  body: string
}

/** The oldest unrouted events, locked for this router on PostgreSQL (others skip them). */
export async function fetchUnroutedEvents(db: Db, limit: number, lockRows = true): Promise<UnroutedEvent[]> {
  const lock = db.dialect === 'postgres' && lockRows ? 'FOR UPDATE SKIP LOCKED' : ''
  return db.all<UnroutedEvent>(
    `SELECT id, source_id, received_at, body FROM events WHERE routed_at IS NULL ORDER BY id LIMIT $1 ${lock}`,
    [limit]
  )
}

/**
 * Marks events routed and drops their raw body (no raw email/phone/mobile id is kept past routing),
 * except for `keepBody` ids: events that failed, kept as the sample Event Delivery shows.
 */
export async function markEventsRouted(db: Db, ids: number[], keepBody: Set<number>, now: number): Promise<void> {
  const drop = ids.filter((id) => !keepBody.has(id))
  const keep = ids.filter((id) => keepBody.has(id))
  for (const part of chunks(drop, 1000)) {
    await db.run(`UPDATE events SET routed_at = $1, body = NULL WHERE id IN (${placeholders(part.length, 2)})`, [now, ...part])
  }
  for (const part of chunks(keep, 1000)) {
    await db.run(`UPDATE events SET routed_at = $1 WHERE id IN (${placeholders(part.length, 2)})`, [now, ...part])
  }
}

export async function countUnroutedEvents(db: Db): Promise<number> {
  const r = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events WHERE routed_at IS NULL')
  return Number(r?.n ?? 0)
}

export async function maxEventId(db: Db): Promise<number> {
  const r = await db.get<{ m: number | null }>('SELECT MAX(id) AS m FROM events')
  return Number(r?.m ?? 0)
}
