/**
 * Changes that failed — before queueing (routing) or at TikTok (dead letters) — one row each, with
 * what replay needs (partition, hashed ids or payload). Queued changes live in packs
 * (queue-packs.ts); delivered and superseded ones leave only the outcome totals behind. (Rows of
 * other statuses are from versions before packs, kept until retention removes them.)
 */
import { chunks, placeholders, valuesList, type Db } from '../db.js'
import type { ChangeStatus } from '../model.js'
import { openChangesOfEvents } from './queue-packs.js'
import { CREATE_KEY, identityOf, serializeIds, storedBatchKey, type BatchKey, type PackChange } from '../queue-format.js'
import { must } from '../../util/must.js'

export interface NewChange {
  eventId: number | null
  destinationId: number
  mappingId: number | null
  /** null for changes that failed before queueing (they carry their error). */
  partitionId: number | null
  action: string
  batchKey: BatchKey | null
  /** JSON array of hashed ids aligned with the id_schema in batchKey. */
  ids: string | null
  /** JSON of what an audience creation needs. */
  payload: string | null
  status: ChangeStatus
  error: string | null
  errorCode: string | null
  createdAt: number
  requestRef?: number | null
  /** When it was settled (default: createdAt, for changes that failed at routing). */
  doneAt?: number
  attempts?: number
}

const COLS = 15
export async function insertChanges(db: Db, rows: NewChange[]): Promise<void> {
  for (const part of chunks(rows, 400)) {
    const params: (string | number | null)[] = []
    for (const c of part) {
      params.push(
        c.eventId,
        c.destinationId,
        c.mappingId,
        c.partitionId,
        c.action,
        c.batchKey,
        c.ids,
        c.payload,
        c.status,
        c.error,
        c.errorCode,
        c.createdAt,
        c.status === 'pending' ? null : (c.doneAt ?? c.createdAt),
        c.requestRef ?? null,
        c.attempts ?? 0
      )
    }
    await db.run(
      `INSERT INTO changes (event_id, destination_id, mapping_id, partition_id, action, batch_key, ids, payload, status,
         error, error_code, created_at, done_at, request_ref, attempts) VALUES ${valuesList(part.length, COLS)}`,
      params
    )
  }
}

/** A change row as it goes back into a pack: a replayed dead letter. */
export function packChangeOfRow(r: {
  event_id: number | null
  mapping_id: number | null
  batch_key: string | null
  ids: string | null
  payload: string | null
}): PackChange {
  return {
    eventId: r.event_id === null ? null : Number(r.event_id),
    mappingId: r.mapping_id === null ? null : Number(r.mapping_id),
    batchKey: r.batch_key === null ? CREATE_KEY : storedBatchKey(r.batch_key),
    ids: r.ids ? (JSON.parse(r.ids) as (string | null)[]) : null,
    payload: r.payload
  }
}

/** Failed, unresolved changes of a partition by identity (schema|ids): a later delivered change of the same identity resolves them. */
export async function failedIdentities(db: Db, partitionId: number): Promise<Map<string, number[]>> {
  const rows = await db.all<{ id: number; batch_key: string | null; ids: string | null }>(
    `SELECT id, batch_key, ids FROM changes WHERE partition_id = $1 AND status = 'failed' AND resolved_by IS NULL AND ids IS NOT NULL`,
    [partitionId]
  )
  const out = new Map<string, number[]>()
  for (const r of rows) {
    if (!r.batch_key) continue
    const k = identityOf(storedBatchKey(r.batch_key), serializeIds(JSON.parse(must(r.ids, `the ids of change ${r.batch_key}`)) as (string | null)[]))
    const list = out.get(k) ?? []
    list.push(Number(r.id))
    out.set(k, list)
  }
  return out
}

/** Marks dead letters as resolved: a later change of the same identifiers was delivered (replay would undo it). */
export async function resolveFailed(db: Db, ids: number[], note: string): Promise<void> {
  for (const part of chunks(ids, 500)) {
    await db.run(`UPDATE changes SET resolved_by = $1 WHERE id IN (${placeholders(part.length, 2)})`, [note, ...part])
  }
}

type EventOutcome = 'delivered' | 'failed' | 'pending' | 'filtered'
/** Changes an event made: recorded with it; events of versions before that count their change rows. */
const N_CHANGES = `CASE WHEN e.n_changes IS NULL THEN (SELECT COUNT(*) FROM changes c WHERE c.event_id = e.id) ELSE e.n_changes END`

/** Outcome of each of the events `rows` (id, changes made): failed beats pending beats delivered; no change is filtered. */
async function outcomesOf(db: Db, rows: { id: number; n: number }[]): Promise<Map<number, EventOutcome>> {
  const out = new Map<number, EventOutcome>()
  if (rows.length === 0) return out
  const ids = rows.map((r) => Number(r.id))
  const min = Math.min(...ids)
  const max = Math.max(...ids)
  const failed = new Set<number>()
  // By range: failed changes are few, and the range is one index scan rather than a lookup per event.
  for (const r of await db.all<{ e: number }>(`SELECT DISTINCT event_id AS e FROM changes WHERE event_id BETWEEN $1 AND $2 AND status = 'failed'`, [min, max]))
    failed.add(Number(r.e))
  const pending = new Set<number>()
  for (const c of await openChangesOfEvents(db, min, max)) if (c.eventId !== null) pending.add(c.eventId)
  for (const r of rows) {
    const id = Number(r.id)
    out.set(id, failed.has(id) ? 'failed' : pending.has(id) ? 'pending' : Number(r.n) > 0 ? 'delivered' : 'filtered')
  }
  return out
}

/**
 * Per-event outcome over events with id > `afterEventId`: what `send` reports. Counted, not read
 * event by event (that cost ~6% of a 100,000-event send): failed and pending events are few, and
 * found by their changes; every other event with changes was delivered.
 */
export async function eventOutcomes(
  db: Db,
  afterEventId: number
): Promise<{ received: number; delivered: number; failed: number; pending: number; filtered: number }> {
  const counts = await db.get<{ received: number; filtered: number | null; last: number | null }>(
    `SELECT COUNT(*) AS received, SUM(CASE WHEN n = 0 THEN 1 ELSE 0 END) AS filtered, MAX(id) AS last
     FROM (SELECT e.id, ${N_CHANGES} AS n FROM events e WHERE e.id > $1) AS recorded`,
    [afterEventId]
  )
  const received = Number(counts?.received ?? 0)
  const filtered = Number(counts?.filtered ?? 0)
  if (received === 0) return { received, delivered: 0, failed: 0, pending: 0, filtered }
  const failed = new Set<number>()
  for (const r of await db.all<{ e: number }>(`SELECT DISTINCT event_id AS e FROM changes WHERE event_id > $1 AND status = 'failed'`, [afterEventId]))
    failed.add(Number(r.e))
  const pending = new Set<number>()
  for (const c of await openChangesOfEvents(db, afterEventId + 1, Number(counts?.last ?? afterEventId)))
    if (c.eventId !== null && !failed.has(c.eventId)) pending.add(c.eventId)
  return { received, delivered: received - filtered - failed.size - pending.size, failed: failed.size, pending: pending.size, filtered }
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
export async function outcomesByMessageId(db: Db, sourceId: number, messageIds: string[]): Promise<Map<string, EventOutcome>> {
  const out = new Map<string, EventOutcome>()
  for (const part of chunks(messageIds, 500)) {
    const rows = await db.all<{ id: number; message_id: string; n: number }>(
      `SELECT e.id, e.message_id, ${N_CHANGES} AS n FROM events e WHERE e.source_id = $1 AND e.message_id IN (${placeholders(part.length, 2)})`,
      [sourceId, ...part]
    )
    const outcomes = await outcomesOf(db, rows)
    for (const r of rows) out.set(r.message_id, must(outcomes.get(Number(r.id)), `the outcome of event ${r.id}`))
  }
  return out
}
