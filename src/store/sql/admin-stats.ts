/** Totals for `GET /api/stats`: events accepted, and changes by outcome. */
import type { Db } from '../db.js'
import { countRetrying } from './partitions.js'

export interface Stats {
  received: number
  delivered: number
  failed: number
  pending: number
  retrying: number
  superseded: number
}

export async function serviceStats(db: Db): Promise<Stats> {
  const events = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events')
  const rows = await db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM changes GROUP BY status')
  const by = new Map(rows.map((r) => [r.status, Number(r.n)]))
  return {
    received: Number(events?.n ?? 0),
    delivered: by.get('delivered') ?? 0,
    failed: by.get('failed') ?? 0,
    pending: by.get('pending') ?? 0,
    retrying: await countRetrying(db),
    superseded: by.get('superseded') ?? 0
  }
}
