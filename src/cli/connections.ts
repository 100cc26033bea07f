/**
 * `tiktok-audiences connections [--destination NAME] [--db URL]`: the audience connections stored,
 * each with every advertiser it goes to and that advertiser's TikTok audience (fan-out, SPEC §5.7),
 * as one JSON line. Reads only.
 */
import { DEFAULT_DATABASE_URL, openStore } from '../store/index.js'
import { targetState } from '../store/model.js'
import { listConnections, listDestinations } from '../store/sql/config.js'
import { printError } from './one-shot.js'

export async function runConnections(opts: { destination?: string; db?: string }): Promise<number> {
  const store = await openStore(opts.db || process.env.DATABASE_URL || DEFAULT_DATABASE_URL)
  try {
    const destinations = (await listDestinations(store.db, store.secrets)).filter((d) => opts.destination === undefined || d.name === opts.destination)
    if (opts.destination !== undefined && destinations.length === 0) {
      printError(`--destination: no destination named "${opts.destination}" in this database`)
      return 2
    }
    const names = new Map(destinations.map((d) => [d.id, d.name]))
    const connections = (await listConnections(store.db))
      .filter((c) => names.has(c.destinationId))
      .map((c) => ({
        destination: names.get(c.destinationId),
        key: c.audienceKey,
        name: c.audienceName,
        advertiserIds: c.targets.map((t) => t.advertiserId),
        targets: c.targets.map((t) => ({ advertiserId: t.advertiserId, externalAudienceId: t.externalAudienceId, state: targetState(t), error: t.error }))
      }))
    process.stdout.write(JSON.stringify({ connections }) + '\n')
    // A target whose audience could not be had is worth a non-zero exit for scripts.
    return connections.some((c) => c.targets.some((t) => t.state === 'failed')) ? 1 : 0
  } finally {
    await store.close()
  }
}
