/**
 * The recorded health reads (table `audience_health`) and the claim that lets one process per
 * interval poll TikTok: `meta.audience_health_due` holds when the next round is due, and the
 * process whose compare-and-set moves it forward is the one that polls.
 */
import type { Db } from '../../store/db.js'

const DUE_KEY = 'audience_health_due'

/** One read of one connected audience: TikTok's answer, or why there was none. */
export interface HealthRead {
  destinationId: number
  audienceKey: string
  advertiserId: string
  externalAudienceId: string
  checkedAt: number
  coverNum: number | null
  isValid: boolean | null
  isExpiring: boolean | null
  expiresAt: number | null
  error: string | null
}

interface ReadRow {
  destination_id: number
  audience_key: string
  advertiser_id: string
  external_audience_id: string
  checked_at: number
  cover_num: number | null
  is_valid: number | null
  is_expiring: number | null
  expires_at: number | null
  error: string | null
}
const COLS = 'destination_id, audience_key, advertiser_id, external_audience_id, checked_at, cover_num, is_valid, is_expiring, expires_at, error'
const flag = (v: number | null): boolean | null => (v === null ? null : Number(v) === 1)
const num = (v: number | string | null): number | null => (v === null ? null : Number(v))
const toRead = (r: ReadRow): HealthRead => ({
  destinationId: Number(r.destination_id),
  audienceKey: r.audience_key,
  advertiserId: r.advertiser_id,
  externalAudienceId: r.external_audience_id,
  checkedAt: Number(r.checked_at),
  coverNum: num(r.cover_num),
  isValid: flag(r.is_valid),
  isExpiring: flag(r.is_expiring),
  expiresAt: num(r.expires_at),
  error: r.error
})

/**
 * Claims the round due at `now`: true for exactly one of the processes asking (the next round is
 * then due `intervalMs` later), false while the current one is not due yet or another took it.
 */
export async function claimHealthRound(db: Db, now: number, intervalMs: number): Promise<boolean> {
  const r = await db.run(`UPDATE meta SET value = $2 WHERE key = $1 AND CAST(value AS BIGINT) <= $3`, [DUE_KEY, String(now + intervalMs), now])
  return r.changes === 1
}

export async function recordHealthReads(db: Db, reads: HealthRead[]): Promise<void> {
  const b = (v: boolean | null) => (v === null ? null : v ? 1 : 0)
  await db.tx(async (t) => {
    for (const r of reads) {
      await t.run(`INSERT INTO audience_health (${COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        r.destinationId,
        r.audienceKey,
        r.advertiserId,
        r.externalAudienceId,
        r.checkedAt,
        r.coverNum,
        b(r.isValid),
        b(r.isExpiring),
        r.expiresAt,
        r.error
      ])
    }
  })
}

/**
 * The latest read of every audience still connected, per advertiser (fan-out: the connection's
 * first advertiser, then its connection_targets in order), with the TikTok audience id it is
 * connected to now.
 */
export async function latestHealthReads(db: Db): Promise<HealthRead[]> {
  const rows = await db.all<ReadRow>(
    `SELECT ${COLS.split(', ')
      .map((c) => `h.${c}`)
      .join(', ')} FROM audience_health h
     JOIN connections c ON c.destination_id = h.destination_id AND c.audience_key = h.audience_key
     LEFT JOIN connection_targets t ON t.connection_id = c.id AND t.advertiser_id = h.advertiser_id
     WHERE h.id = (SELECT MAX(id) FROM audience_health x WHERE x.destination_id = h.destination_id AND x.audience_key = h.audience_key AND x.advertiser_id = h.advertiser_id)
       AND ((c.advertiser_id = h.advertiser_id AND c.external_audience_id = h.external_audience_id) OR t.external_audience_id = h.external_audience_id)
     ORDER BY h.destination_id, h.audience_key, COALESCE(t.position, 0)`
  )
  return rows.map(toRead)
}

/** One audience's reads (of one advertiser when given), oldest first, at most `limit` of the newest. */
export async function healthHistory(db: Db, destinationId: number, audienceKey: string, limit = 100, advertiserId?: string): Promise<HealthRead[]> {
  const params: (string | number)[] = [destinationId, audienceKey, limit]
  const ofAdvertiser = advertiserId === undefined ? '' : ` AND advertiser_id = $${params.push(advertiserId)}`
  const rows = await db.all<ReadRow>(
    `SELECT ${COLS} FROM audience_health WHERE destination_id = $1 AND audience_key = $2${ofAdvertiser} ORDER BY id DESC LIMIT $3`,
    params
  )
  return rows.map(toRead).reverse()
}

/** How many rounds were polled (reads grouped by time): the test of "once per interval". */
export async function countHealthRounds(db: Db): Promise<number> {
  const r = await db.get<{ n: number }>('SELECT COUNT(DISTINCT checked_at) AS n FROM audience_health')
  return Number(r?.n ?? 0)
}
