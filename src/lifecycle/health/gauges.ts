/** The /metrics view of the latest reads: matched users and the warnings that hold, per audience and advertiser (fan-out). */
import type { Store } from '../../store/index.js'
import { latestHealthReads } from './reads.js'
import { WARNING_REASONS, warningsOf } from './warnings.js'

export interface HealthGauges {
  matched: { labels: { destination: string; audience: string; advertiser_id: string }; value: number }[]
  /** Every reason of every audience read: 1 while it holds, 0 otherwise (so alerts see it clear). */
  warnings: { labels: { destination: string; audience: string; advertiser_id: string; reason: string }; value: number }[]
}

export async function healthGauges(store: Store, now = Date.now()): Promise<HealthGauges> {
  const names = new Map((await store.db.all<{ id: number; name: string }>('SELECT id, name FROM destinations')).map((d) => [Number(d.id), d.name]))
  const out: HealthGauges = { matched: [], warnings: [] }
  for (const r of await latestHealthReads(store.db)) {
    if (r.error !== null || r.coverNum === null) continue
    const destination = names.get(r.destinationId) ?? String(r.destinationId)
    out.matched.push({ labels: { destination, audience: r.audienceKey, advertiser_id: r.advertiserId }, value: r.coverNum })
    const holding = new Set(warningsOf(r, now).map((w) => w.reason))
    for (const reason of WARNING_REASONS)
      out.warnings.push({ labels: { destination, audience: r.audienceKey, advertiser_id: r.advertiserId, reason }, value: holding.has(reason) ? 1 : 0 })
  }
  return out
}
