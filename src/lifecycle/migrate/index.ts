/**
 * Legacy → native migration (SPEC §5.9, issue 16.4), the one entry of the feature: a legacy
 * instance's Add Users / Remove Users mappings become native audience connections that keep the
 * same TikTok audience ids. The CLI (`migrate`), the admin API and the console all call this.
 */
import type { Store } from '../../store/index.js'
import type { Destination } from '../../store/model.js'
import type { TikTokClient } from '../../tiktok/client.js'
import { applyMigration } from './apply.js'
import { planMigration, type MigrationPlan } from './plan.js'

export { MigrationRefused, type MigrationPlan, type PlannedConnection, type PlannedMapping } from './plan.js'

/** What `migrate` prints and the API answers: the plan, and whether it was only a dry run. */
export type MigrationResult = { dryRun: boolean } & Omit<MigrationPlan, 'mappings'> & {
    mappings: { remove: { name: string; action: string }[]; add: { name: string; action: string; trigger: string; replaces: string }[] }
  }

export async function migrateDestination(store: Store, tiktok: TikTokClient, d: Destination, opts: { dryRun: boolean }): Promise<MigrationResult> {
  const plan = await planMigration(store, tiktok, d)
  if (!opts.dryRun) await applyMigration(store.db, plan)
  return {
    dryRun: opts.dryRun,
    destination: plan.destination,
    mode: plan.mode,
    connections: plan.connections,
    mappings: {
      remove: plan.mappings.remove.map(({ name, action }) => ({ name, action })),
      add: plan.mappings.add.map(({ name, action, trigger, replaces }) => ({ name, action, trigger, replaces }))
    },
    notes: plan.notes
  }
}
