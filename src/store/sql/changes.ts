/** The queue proper: one row per TikTok membership change (or audience creation) and its outcome. */
import { chunks, placeholders, valuesList, type Db } from '../db.js'
import type { ChangeStatus } from '../model.js'

export interface NewChange {
  eventId: number | null
  destinationId: number
  mappingId: number | null
  /** null for changes that failed before queueing (they carry their error). */
  partitionId: number | null
  action: string
  batchKey: string | null
  /** JSON array of hashed ids aligned with the id_schema in batchKey. */
  ids: string | null
  /** JSON of what an audience creation needs. */
  payload: string | null
  status: ChangeStatus
  error: string | null
  errorCode: string | null
  createdAt: number
}

const COLS = 13
export async function insertChanges(db: Db, rows: NewChange[]): Promise<void> {
  for (const part of chunks(rows, 400)) {
    const params: (string | number | null)[] = []
    for (const c of part) {
      params.push(c.eventId, c.destinationId, c.mappingId, c.partitionId, c.action, c.batchKey, c.ids, c.payload, c.status,
        c.error, c.errorCode, c.createdAt, c.status === 'pending' ? null : c.createdAt)
    }
    await db.run(
      `INSERT INTO changes (event_id, destination_id, mapping_id, partition_id, action, batch_key, ids, payload, status,
         error, error_code, created_at, done_at) VALUES ${valuesList(part.length, COLS)}`,
      params
    )
  }
}

export interface PendingChange {
  id: number
  event_id: number | null
  action: string
  batch_key: string | null
  ids: string | null
  payload: string | null
  attempts: number
  created_at: number
}

export async function fetchPendingChanges(db: Db, partitionId: number, limit: number): Promise<PendingChange[]> {
  return db.all<PendingChange>(
    `SELECT id, event_id, action, batch_key, ids, payload, attempts, created_at FROM changes
     WHERE partition_id = $1 AND status = 'pending' ORDER BY id LIMIT $2`,
    [partitionId, limit]
  )
}

/** Settles pending changes; returns how many were still pending (a repeat after a lost lease settles nothing). */
export async function settleChanges(
  db: Db,
  ids: number[],
  outcome: { status: Exclude<ChangeStatus, 'pending'>; error?: string | null; errorCode?: string | null; requestRef?: number | null; now: number }
): Promise<number> {
  let n = 0
  for (const part of chunks(ids, 1000)) {
    const r = await db.run(
      `UPDATE changes SET status = $1, error = $2, error_code = $3, request_ref = $4, done_at = $5, attempts = attempts + 1
       WHERE id IN (${placeholders(part.length, 6)}) AND status = 'pending'`,
      [outcome.status, outcome.error ?? null, outcome.errorCode ?? null, outcome.requestRef ?? null, outcome.now, ...part]
    )
    n += r.changes
  }
  return n
}

export async function addAttempt(db: Db, ids: number[], error: string, errorCode: string | null, requestRef: number | null): Promise<void> {
  for (const part of chunks(ids, 1000)) {
    await db.run(
      `UPDATE changes SET attempts = attempts + 1, error = $1, error_code = $2, request_ref = $3 WHERE id IN (${placeholders(part.length, 4)})`,
      [error, errorCode, requestRef, ...part]
    )
  }
}

/** Per-event outcome over events with id > `afterEventId`: what `send` reports. */
export async function eventOutcomes(db: Db, afterEventId: number): Promise<{ received: number; delivered: number; failed: number; pending: number; filtered: number }> {
  const r = await db.get<{ received: number; delivered: number; failed: number; pending: number; filtered: number }>(
    `SELECT COUNT(*) AS received,
       SUM(CASE WHEN s.n_failed > 0 THEN 1 ELSE 0 END) AS failed,
       SUM(CASE WHEN s.n_failed = 0 AND s.n_pending > 0 THEN 1 ELSE 0 END) AS pending,
       SUM(CASE WHEN s.n_failed = 0 AND s.n_pending = 0 AND s.n_all > 0 THEN 1 ELSE 0 END) AS delivered,
       SUM(CASE WHEN s.n_all = 0 THEN 1 ELSE 0 END) AS filtered
     FROM (
       SELECT e.id,
         COUNT(c.id) AS n_all,
         SUM(CASE WHEN c.status = 'failed' THEN 1 ELSE 0 END) AS n_failed,
         SUM(CASE WHEN c.status = 'pending' THEN 1 ELSE 0 END) AS n_pending
       FROM events e LEFT JOIN changes c ON c.event_id = e.id
       WHERE e.id > $1
       GROUP BY e.id
     ) s`,
    [afterEventId]
  )
  return {
    received: Number(r?.received ?? 0),
    delivered: Number(r?.delivered ?? 0),
    failed: Number(r?.failed ?? 0),
    pending: Number(r?.pending ?? 0),
    filtered: Number(r?.filtered ?? 0)
  }
}

/** The failures of a run, grouped by reason: what `send` prints to stderr. */
export async function failureReasons(db: Db, afterEventId: number): Promise<{ error: string; n: number }[]> {
  const rows = await db.all<{ error: string | null; n: number }>(
    `SELECT error, COUNT(*) AS n FROM changes WHERE status = 'failed' AND (event_id IS NULL OR event_id > $1)
     GROUP BY error ORDER BY COUNT(*) DESC LIMIT 50`,
    [afterEventId]
  )
  return rows.map((r) => ({ error: r.error ?? 'unknown error', n: Number(r.n) }))
}

/** Outcome per event (by messageId) of one source: delivered, failed, pending or filtered (no change). */
export async function outcomesByMessageId(db: Db, sourceId: number, messageIds: string[]): Promise<Map<string, 'delivered' | 'failed' | 'pending' | 'filtered'>> {
  const out = new Map<string, 'delivered' | 'failed' | 'pending' | 'filtered'>()
  for (const part of chunks(messageIds, 500)) {
    const rows = await db.all<{ message_id: string; n_all: number; n_failed: number; n_pending: number }>(
      `SELECT e.message_id, COUNT(c.id) AS n_all,
         SUM(CASE WHEN c.status = 'failed' THEN 1 ELSE 0 END) AS n_failed,
         SUM(CASE WHEN c.status = 'pending' THEN 1 ELSE 0 END) AS n_pending
       FROM events e LEFT JOIN changes c ON c.event_id = e.id
       WHERE e.source_id = $1 AND e.message_id IN (${placeholders(part.length, 2)})
       GROUP BY e.message_id`,
      [sourceId, ...part]
    )
    for (const r of rows) {
      out.set(r.message_id, Number(r.n_failed) > 0 ? 'failed' : Number(r.n_pending) > 0 ? 'pending' : Number(r.n_all) > 0 ? 'delivered' : 'filtered')
    }
  }
  return out
}
