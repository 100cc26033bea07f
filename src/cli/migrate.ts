/**
 * `tiktok-audiences migrate --destination NAME [--dry-run]`: the CLI's door to src/lifecycle/migrate.
 * Works on the database (DATABASE_URL or --db); TikTok is TIKTOK_API_URL, else the built-in emulator
 * of a `serve` running on the same database, else TikTok's API. Prints the result as one JSON line.
 */
import { tiktokApiUrl } from '../config/delivery.js'
import { migrateDestination, MigrationRefused } from '../lifecycle/migrate/index.js'
import { builtInEmulatorUrl } from '../server/emulator-claim.js'
import { DEFAULT_DATABASE_URL, openStore } from '../store/index.js'
import { listDestinations } from '../store/sql/config.js'
import { TikTokClient } from '../tiktok/client.js'
import { printError } from './one-shot.js'

export async function runMigrate(opts: { destination: string; dryRun?: boolean; db?: string }): Promise<number> {
  const store = await openStore(opts.db || process.env.DATABASE_URL || DEFAULT_DATABASE_URL)
  try {
    const d = (await listDestinations(store.db, store.secrets)).find((x) => x.name === opts.destination)
    if (!d) {
      printError(`--destination: no destination named "${opts.destination}" in this database`)
      return 2
    }
    const emulator = process.env.TIKTOK_API_URL ? undefined : await builtInEmulatorUrl(store.db)
    const tiktok = new TikTokClient({ baseUrl: emulator ? `${emulator}/open_api` : tiktokApiUrl() })
    try {
      const result = await migrateDestination(store, tiktok, d, { dryRun: opts.dryRun === true })
      for (const n of result.notes) printError(`note: ${n}`)
      process.stdout.write(JSON.stringify(result) + '\n')
      return 0
    } catch (err) {
      if (!(err instanceof MigrationRefused)) throw err
      printError(`migrate: ${err.message}`)
      return err.status >= 500 ? 1 : 2
    }
  } finally {
    await store.close()
  }
}
