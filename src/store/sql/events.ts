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
  if (events.length === 0) return 0
  // A request's events commit together (SPEC §3.3 invariant 1), however many statements they take.
  if (events.length > INSERT_CHUNK) return db.tx((t) => insertChunks(t, events))
  return insertChunks(db, events)
}

const INSERT_CHUNK = 500
async function insertChunks(db: Db, events: InboxEvent[]): Promise<number> {
  let inserted = 0
  for (const part of chunks(events, INSERT_CHUNK)) {
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

/** Transaction-level advisory lock held by the one PostgreSQL router that routes at a time. */
export const ROUTER_LOCK = 774412

/**
 * The oldest unrouted events. With `lock` (the routing transaction; must run inside it), on
 * PostgreSQL the routers of several processes take turns: an advisory lock held until the routing
 * transaction commits, instead of routing side by side with SKIP LOCKED. Two routers that took
 * different slices of the inbox could commit a user's later change before an earlier one, and
 * change ids would no longer follow the order the events were received (invariant 3). Under the
 * lock each router sees the previous router's commit, and every change id is taken after all
 * earlier changes committed, so a partition's `ORDER BY id` is the order received. Routing is cheap
 * next to delivery, which stays parallel across processes. Without `lock`: a plain look-ahead read.
 */
export async function fetchUnroutedEvents(db: Db, limit: number, lock = true): Promise<UnroutedEvent[]> {
  if (lock && db.dialect === 'postgres') await db.run('SELECT pg_advisory_xact_lock($1)', [ROUTER_LOCK])
  return db.all<UnroutedEvent>(
    'SELECT id, source_id, received_at, body FROM events WHERE routed_at IS NULL ORDER BY id LIMIT $1',
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
