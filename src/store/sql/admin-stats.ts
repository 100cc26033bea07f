/** Totals for `GET /api/stats`: events accepted, and changes by outcome — without scanning the queue. */
import type { Db } from '../db.js'
import { sumFiltered, sumTotals } from './outcome-totals.js'
import { countPending, countRetrying } from './partitions.js'

export interface Stats {
  received: number
  delivered: number
  failed: number
  pending: number
  retrying: number
  superseded: number
  /** Events routing skipped as not for a destination, one per (event, destination). */
  filtered: number
}

export async function serviceStats(db: Db): Promise<Stats> {
  const [sources, destinations] = await Promise.all([sumTotals(db, 'source'), sumTotals(db, 'destination')])
  // Failed = the dead letters there are now (a replayed one is no longer failed): a count over the
  // small index of failed changes.
  const failed = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM changes WHERE status = 'failed'`)
  return {
    received: sources.received,
    delivered: destinations.delivered,
    failed: Number(failed?.n ?? 0),
    pending: await countPending(db),
    retrying: await countRetrying(db),
    superseded: destinations.superseded,
    filtered: await sumFiltered(db)
  }
}
