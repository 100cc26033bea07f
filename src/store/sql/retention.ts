/**
 * Retention: what is old and settled is deleted, so the database does not grow forever. Kept:
 * queued changes (packs delete themselves once settled), failed changes (dead letters), the events
 * they belong to, the request records they point at, and the outcome totals. Rows are walked in id order (oldest first) and the walk
 * stops at the first row young enough to keep, so a run costs what it deletes, not the table size;
 * each chunk is its own short statement, so ingestion is never held up for long.
 */
import { placeholders, type Db } from '../db.js'
import { oldestOpenEventId } from './queue-packs.js'
import { last } from '../../util/array.js'

const CHUNK = 2000

/** Walks `table` from the oldest row; deletes the rows `deletable` picks until a row is not older than `cutoff`. */
async function pruneOldest<R extends { id: number; at: number }>(
  db: Db,
  select: string,
  remove: string,
  cutoff: number,
  deletable: (r: R) => boolean
): Promise<number> {
  let after = 0
  let deleted = 0
  for (;;) {
    const rows = await db.all<R>(select, [after, CHUNK])
    if (rows.length === 0) return deleted
    const old = rows.filter((r) => Number(r.at) < cutoff)
    const ids = old.filter(deletable).map((r) => Number(r.id))
    if (ids.length > 0) deleted += (await db.run(`${remove} (${placeholders(ids.length)})`, ids)).changes
    if (old.length < rows.length) return deleted
    after = Number(last(rows).id)
  }
}

/** Deletes settled change rows (older versions kept delivered ones), events and TikTok request records older than `cutoff`; returns the counts. */
export async function pruneBefore(db: Db, cutoff: number): Promise<{ changes: number; events: number; requests: number }> {
  const changes = await pruneOldest<{ id: number; at: number; status: string }>(
    db,
    'SELECT id, created_at AS at, status FROM changes WHERE id > $1 ORDER BY id LIMIT $2',
    'DELETE FROM changes WHERE id IN',
    cutoff,
    (r) => r.status === 'delivered' || r.status === 'superseded'
  )
  // Events of changes still queued stay (their outcome is pending): everything from the oldest on.
  const oldestOpen = (await oldestOpenEventId(db)) ?? Number.MAX_SAFE_INTEGER
  const events = await pruneOldest<{ id: number; at: number; kept: number }>(
    db,
    `SELECT e.id, e.received_at AS at, EXISTS (SELECT 1 FROM changes c WHERE c.event_id = e.id) AS kept
     FROM events e WHERE e.id > $1 ORDER BY e.id LIMIT $2`,
    'DELETE FROM events WHERE id IN',
    cutoff,
    (r) => !Number(r.kept) && Number(r.id) < oldestOpen
  )
  // Request records stay while a dead letter points at them (its samples): one pass over the small
  // index of failed changes, not a lookup per request.
  const samples = new Set(
    (await db.all<{ r: number }>(`SELECT DISTINCT request_ref AS r FROM changes WHERE status = 'failed' AND request_ref IS NOT NULL`)).map((x) => Number(x.r))
  )
  const requests = await pruneOldest<{ id: number; at: number }>(
    db,
    'SELECT id, sent_at AS at FROM requests WHERE id > $1 ORDER BY id LIMIT $2',
    'DELETE FROM requests WHERE id IN',
    cutoff,
    (r) => !samples.has(Number(r.id))
  )
  return { changes, events, requests }
}
