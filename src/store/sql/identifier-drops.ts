/**
 * Identifiers dropped by a mapping — a value was there but nothing was sent for it (rejected, or
 * whitespace only) — counted per destination, identifier, reason and 10-second slot, like the
 * outcome totals: one upsert per transaction that dropped something, nothing otherwise. Counted also
 * when the event was delivered with its other identifiers, so Event Delivery can say so.
 */
import { valuesList, type Db } from '../db.js'
import { shard, SLOT_MS } from './outcome-totals.js'

export interface DropDelta {
  destinationId: number
  identifier: string
  reason: string
  count: number
}

export interface DropTotal {
  identifier: string
  reason: string
  count: number
}

export async function addDrops(db: Db, deltas: DropDelta[], at: number): Promise<void> {
  const rows = deltas.filter((d) => d.count > 0)
  if (rows.length === 0) return
  const slot = Math.floor(at / SLOT_MS) * SLOT_MS
  const s = shard()
  // Sorted: concurrent writers lock rows in one order.
  rows.sort((a, b) => a.destinationId - b.destinationId || a.identifier.localeCompare(b.identifier) || a.reason.localeCompare(b.reason))
  const params: (string | number)[] = []
  for (const d of rows) params.push(d.destinationId, slot, d.identifier, d.reason, s, d.count)
  await db.run(
    `INSERT INTO identifier_drops (destination_id, slot, identifier, reason, shard, n) VALUES ${valuesList(rows.length, 6)}
     ON CONFLICT (destination_id, slot, identifier, reason, shard) DO UPDATE SET n = identifier_drops.n + excluded.n`,
    params
  )
}

/** A destination's dropped identifiers in [from, to), by identifier and reason, most first. */
export async function dropTotals(db: Db, destinationId: number, from: number, to: number): Promise<DropTotal[]> {
  const rows = await db.all<{ identifier: string; reason: string; n: number }>(
    `SELECT identifier, reason, SUM(n) AS n FROM identifier_drops
     WHERE destination_id = $1 AND slot >= $2 AND slot < $3 GROUP BY identifier, reason`,
    [destinationId, Math.floor(from / SLOT_MS) * SLOT_MS, to]
  )
  return rows
    .map((r) => ({ identifier: r.identifier, reason: r.reason, count: Number(r.n) }))
    .sort((a, b) => b.count - a.count || a.identifier.localeCompare(b.identifier) || a.reason.localeCompare(b.reason))
}

export async function deleteDrops(db: Db, destinationId: number): Promise<void> {
  await db.run('DELETE FROM identifier_drops WHERE destination_id = $1', [destinationId])
}
