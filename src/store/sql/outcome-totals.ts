/**
 * Outcome totals: counts of received, delivered, superseded, failed and retried per source or
 * destination and 10-second slot (and of events filtered, per destination and reason) — one upsert per transaction, not a row per event — so that
 * /api/stats and Event Delivery never scan the queue. Historical: a replayed dead letter counts as
 * failed when it failed and as delivered when it is delivered.
 */
import { randomUUID } from 'node:crypto'
import { valuesList, type Db } from '../db.js'

export const SLOT_MS = 10_000
export type TotalsScope = 'source' | 'destination'

export interface TotalsDelta {
  scope: TotalsScope
  scopeId: number
  received?: number
  delivered?: number
  superseded?: number
  failed?: number
  retried?: number
}

export interface Totals {
  received: number
  delivered: number
  superseded: number
  failed: number
  retried: number
}

// Concurrent transactions of one process spread over a few shards; other processes have their own.
const processShard = randomUUID().slice(0, 8)
let nextShard = 0
/** The shard a write of this process goes to (identifier-drops.ts shares it). */
export const shard = () => `${processShard}:${nextShard++ % 4}`

export async function addTotals(db: Db, deltas: TotalsDelta[], at: number): Promise<void> {
  const rows = deltas.filter((d) => (d.received ?? 0) + (d.delivered ?? 0) + (d.superseded ?? 0) + (d.failed ?? 0) + (d.retried ?? 0) > 0)
  if (rows.length === 0) return
  const slot = Math.floor(at / SLOT_MS) * SLOT_MS
  const s = shard()
  const params: (string | number)[] = []
  // Sorted: concurrent writers lock rows in one order.
  rows.sort((a, b) => (a.scope === b.scope ? a.scopeId - b.scopeId : a.scope < b.scope ? -1 : 1))
  for (const d of rows) params.push(d.scope, d.scopeId, slot, s, d.received ?? 0, d.delivered ?? 0, d.superseded ?? 0, d.failed ?? 0, d.retried ?? 0)
  await db.run(
    `INSERT INTO outcome_totals (scope, scope_id, slot, shard, received, delivered, superseded, failed, retried)
     VALUES ${valuesList(rows.length, 9)}
     ON CONFLICT (scope, scope_id, slot, shard) DO UPDATE SET
       received = outcome_totals.received + excluded.received,
       delivered = outcome_totals.delivered + excluded.delivered,
       superseded = outcome_totals.superseded + excluded.superseded,
       failed = outcome_totals.failed + excluded.failed,
       retried = outcome_totals.retried + excluded.retried`,
    params
  )
}

const SUMS = 'SUM(received) AS received, SUM(delivered) AS delivered, SUM(superseded) AS superseded, SUM(failed) AS failed, SUM(retried) AS retried'
type SumRow = { received: number | null; delivered: number | null; superseded: number | null; failed: number | null; retried: number | null }
const toTotals = (r: SumRow | undefined): Totals => ({
  received: Number(r?.received ?? 0),
  delivered: Number(r?.delivered ?? 0),
  superseded: Number(r?.superseded ?? 0),
  failed: Number(r?.failed ?? 0),
  retried: Number(r?.retried ?? 0)
})

/** Totals of one scope (all of its ids), ever. */
export async function sumTotals(db: Db, scope: TotalsScope): Promise<Totals> {
  return toTotals(await db.get<SumRow>(`SELECT ${SUMS} FROM outcome_totals WHERE scope = $1`, [scope]))
}

/** Totals of one destination or source per bucket of `bucketMs` in [from, to). */
export async function bucketTotals(
  db: Db,
  scope: TotalsScope,
  scopeId: number,
  from: number,
  to: number,
  bucketMs: number
): Promise<(Totals & { bucket: number })[]> {
  const rows = await db.all<SumRow & { b: number }>(
    `SELECT CAST((slot - $3) / $5 AS BIGINT) AS b, ${SUMS} FROM outcome_totals
     WHERE scope = $1 AND scope_id = $2 AND slot >= $3 AND slot < $4 GROUP BY 1`,
    [scope, scopeId, Math.floor(from / SLOT_MS) * SLOT_MS, to, bucketMs]
  )
  return rows.map((r) => ({ bucket: Number(r.b), ...toTotals(r) }))
}

export async function deleteTotals(db: Db, scope: TotalsScope, scopeId: number): Promise<void> {
  await db.run('DELETE FROM outcome_totals WHERE scope = $1 AND scope_id = $2', [scope, scopeId])
  if (scope === 'destination') await db.run('DELETE FROM filtered_totals WHERE destination_id = $1', [scopeId])
}

/** Events routing skipped as not for a destination, by reason (route-event.ts FILTER_REASONS). */
export interface FilteredDelta {
  destinationId: number
  reason: string
  n: number
}

export async function addFilteredTotals(db: Db, deltas: FilteredDelta[], at: number): Promise<void> {
  const rows = deltas.filter((d) => d.n > 0)
  if (rows.length === 0) return
  const slot = Math.floor(at / SLOT_MS) * SLOT_MS
  const s = shard()
  // Sorted: concurrent writers lock rows in one order.
  rows.sort((a, b) => a.destinationId - b.destinationId || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
  const params: (string | number)[] = []
  for (const d of rows) params.push(d.destinationId, d.reason, slot, s, d.n)
  await db.run(
    `INSERT INTO filtered_totals (destination_id, reason, slot, shard, n) VALUES ${valuesList(rows.length, 5)}
     ON CONFLICT (destination_id, reason, slot, shard) DO UPDATE SET n = filtered_totals.n + excluded.n`,
    params
  )
}

/** Filtered events of every destination, ever (all reasons). */
export async function sumFiltered(db: Db): Promise<number> {
  const r = await db.get<{ n: number | null }>('SELECT SUM(n) AS n FROM filtered_totals')
  return Number(r?.n ?? 0)
}

/** Filtered events of one destination per bucket of `bucketMs` in [from, to), and per reason. */
export async function bucketFiltered(
  db: Db,
  destinationId: number,
  from: number,
  to: number,
  bucketMs: number
): Promise<{ bucket: number; reason: string; n: number }[]> {
  const rows = await db.all<{ b: number; reason: string; n: number }>(
    `SELECT CAST((slot - $2) / $4 AS BIGINT) AS b, reason, SUM(n) AS n FROM filtered_totals
     WHERE destination_id = $1 AND slot >= $2 AND slot < $3 GROUP BY 1, 2`,
    [destinationId, Math.floor(from / SLOT_MS) * SLOT_MS, to, bucketMs]
  )
  return rows.map((r) => ({ bucket: Number(r.b), reason: r.reason, n: Number(r.n) }))
}
