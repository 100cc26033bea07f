/**
 * Carries out a migration plan in one transaction: the connections, the native mappings in place
 * of the legacy ones, the destination's mode. The queue is not touched: changes the legacy mappings
 * queued wait in partitions keyed by destination, advertiser and TikTok audience id — the same
 * partitions the native connections queue into — and are delivered as they were.
 */
import type { Db } from '../../store/db.js'
import { bumpConfigVersion, upsertConnection, upsertMapping } from '../../store/sql/config.js'
import type { MigrationPlan } from './plan.js'

export async function applyMigration(db: Db, plan: MigrationPlan): Promise<void> {
  await db.tx(async (t) => {
    const d = await t.get<{ mode: string }>('SELECT mode FROM destinations WHERE id = $1', [plan.destination.id])
    if (d?.mode !== 'legacy') throw new Error(`destination ${plan.destination.name} changed while it was being migrated (now ${d?.mode ?? 'deleted'})`)
    for (const c of plan.connections) {
      await upsertConnection(t, {
        destinationId: plan.destination.id,
        audienceKey: c.key,
        audienceName: c.name,
        advertiserId: c.advertiserId,
        externalAudienceId: c.externalAudienceId,
        sendTrack: true,
        sendIdentify: false,
        enterEvent: c.enterEvent,
        exitEvent: c.exitEvent
      })
    }
    for (const m of plan.mappings.remove) await t.run('DELETE FROM mappings WHERE id = $1', [m.id])
    for (const m of plan.mappings.add) {
      await upsertMapping(t, {
        destinationId: plan.destination.id,
        name: m.name,
        action: m.action,
        trigger: m.trigger,
        mapping: m.mapping,
        enabled: m.enabled,
        position: m.position
      })
    }
    await t.run(`UPDATE destinations SET mode = 'native', updated_at = $2 WHERE id = $1`, [plan.destination.id, Date.now()])
    await bumpConfigVersion(t)
  })
}
