/**
 * A connection's further advertisers (SPEC §5.7 fan-out, migration 16), each with its own TikTok
 * audience. The first advertiser stays on the `connections` row (config.ts).
 */
import type { Db } from '../db.js'
import type { ConnectionTarget } from '../model.js'

interface TargetRow {
  connection_id: number
  advertiser_id: string
  external_audience_id: string | null
  error: string | null
}

/** The further targets of every connection (or of those of one destination), by connection id, in order. */
export async function loadExtraTargets(db: Db, destinationId?: number): Promise<Map<number, ConnectionTarget[]>> {
  const rows =
    destinationId === undefined
      ? await db.all<TargetRow>('SELECT connection_id, advertiser_id, external_audience_id, error FROM connection_targets ORDER BY connection_id, position')
      : await db.all<TargetRow>(
          `SELECT t.connection_id, t.advertiser_id, t.external_audience_id, t.error FROM connection_targets t
         JOIN connections c ON c.id = t.connection_id WHERE c.destination_id = $1 ORDER BY t.connection_id, t.position`,
          [destinationId]
        )
  const out = new Map<number, ConnectionTarget[]>()
  for (const r of rows) {
    let list = out.get(Number(r.connection_id))
    if (!list) out.set(Number(r.connection_id), (list = []))
    list.push({ advertiserId: r.advertiser_id, externalAudienceId: r.external_audience_id, error: r.error })
  }
  return out
}

/** Replaces a connection's further targets with `targets` (in that order); the caller bumps the config version. */
export async function replaceExtraTargets(db: Db, connectionId: number, targets: ConnectionTarget[]): Promise<void> {
  const now = Date.now()
  await db.tx(async (t) => {
    await t.run('DELETE FROM connection_targets WHERE connection_id = $1', [connectionId])
    for (const [i, x] of targets.entries()) {
      await t.run(
        'INSERT INTO connection_targets (connection_id, advertiser_id, position, external_audience_id, error, updated_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [connectionId, x.advertiserId, i + 1, x.externalAudienceId, x.error, now]
      )
    }
  })
}

/** Records one further target's TikTok audience (or why it could not be had); the caller bumps the config version. */
export async function setTargetResult(
  db: Db,
  connectionId: number,
  advertiserId: string,
  result: { externalAudienceId: string | null; error: string | null }
): Promise<void> {
  await db.run('UPDATE connection_targets SET external_audience_id = $3, error = $4, updated_at = $5 WHERE connection_id = $1 AND advertiser_id = $2', [
    connectionId,
    advertiserId,
    result.externalAudienceId,
    result.error,
    Date.now()
  ])
}
