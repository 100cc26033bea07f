#!/usr/bin/env node
/** The `tiktok-audiences` command line (INTERFACE.md "CLI"). */
import { Command, InvalidArgumentError } from 'commander'
import { startRouteWorker } from './route-worker-start.js'
import { describeFatal } from '../util/user-error.js'

const program = new Command()
program.name('tiktok-audiences').description('Segment Engage audiences into TikTok Custom (Partner) Audiences — self-hosted.').showHelpAfterError()

const port = (v: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)')
  return n
}

program
  .command('send')
  .description(
    'One-shot: apply the config, ingest every event of an NDJSON file through the same queue, batching, delivery and retry path as the server, wait until each is delivered or failed, print a JSON summary as the last stdout line. Exit 0 when nothing failed, 1 otherwise, 2 on unusable arguments.'
  )
  .requiredOption('--config <file>', 'config file (YAML or JSON)')
  .option('--events <file>', 'NDJSON file of Segment events, one per line; - for stdin', '-')
  .option('--db <url>', 'database: sqlite:PATH or postgres://… (default: DATABASE_URL, else a fresh temporary SQLite file)')
  .option('--source <name>', 'the source the events come from (default: the first source of the config)')
  .action(async (o: { config: string; events: string; db?: string; source?: string }) => {
    // The route worker starts up while this thread loads the pipeline (route-worker-start.ts).
    const routeWorker = startRouteWorker(o.events)
    const { runSend } = await import('./send.js')
    process.exitCode = await runSend(o, routeWorker)
  })

program
  .command('serve')
  .description(
    'The service: Segment-compatible ingestion, admin API, OAuth, console and delivery. Without TIKTOK_APP_ID and TIKTOK_API_URL it serves the built-in TikTok emulator at /emulator and points at it. A PostgreSQL database (DATABASE_URL) not reachable at start is retried for TTA_DB_START_WAIT_MS (default 30000 ms) with one line on stderr saying why, then serve exits 1; an unusable SQLite path exits 1 at once. Should PostgreSQL go away while serving, serve stays up: ingestion, the admin API and /healthz answer 503 with Retry-After, delivery waits, and all resumes when it is back (connect and statement timeouts: TTA_PG_CONNECT_TIMEOUT_MS 5000, TTA_PG_QUERY_TIMEOUT_MS 10000).'
  )
  .option('--config <file>', 'config file to apply at start (YAML or JSON)')
  .option('--port <n>', 'port to listen on (default: PORT or 3000)', port)
  .option('--host <host>', 'address to listen on (default: HOST or 127.0.0.1)')
  .option('--emulator', 'use the built-in TikTok emulator even when TikTok settings are present')
  .action(async (o: { config?: string; port?: number; host?: string; emulator?: boolean }) => {
    const { startService } = await import('../server/serve.js')
    const { DatabaseStartError } = await import('../store/startup.js')
    const service = await startService(o).catch((err: unknown) => {
      // The database cannot be used (PostgreSQL down past TTA_DB_START_WAIT_MS, no such database, an unwritable SQLite path): the line says why.
      if (!(err instanceof DatabaseStartError)) throw err
      process.stderr.write(`error: ${err.message}\n`)
      process.exit(1)
    })
    const stop = () => {
      void service.close().then(() => process.exit(0))
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })

program
  .command('sync')
  .description(
    "Mirror sync: given the full current member list of an audience (CSV with a header of email, phone, advertising_id columns, or NDJSON), send only the changes since the last sync: removals first, then additions. The list streams (sorted on disk in the temp folder, compared with the synced list page by page), so any size fits in flat memory. Keeps the synced state (hashes only) in the database (DATABASE_URL or --db; default ./data); it advances only for what TikTok confirmed. Shows progress on a terminal; prints a JSON summary. Exit 0 when every row was usable and every change delivered, 1 otherwise. With --source NAME instead of --destination/--audience/--members: one run of that warehouse source of the config (kind: postgres): its query is read through a cursor and mirrored into its audience, recorded like a scheduled run; a failing query, or one returning none of the email/phone/advertising_id columns, fails the run with the reason and changes nothing; a run of that source still going elsewhere (serve's schedule) makes this one skipped."
  )
  .requiredOption('--config <file>', 'config file (YAML or JSON)')
  .option('--source <name>', 'a warehouse source of the config (kind: postgres): run its query once')
  .option('--destination <name>', 'destination name from the config')
  .option('--audience <key>', 'audience key (connected to the destination, or mapped by its mappings)')
  .option('--members <file>', 'the full member list: .csv, or .ndjson/.jsonl')
  .option('--db <url>', 'database: sqlite:PATH or postgres://… (default: DATABASE_URL, else sqlite:./data/tiktok-audiences.db)')
  .action(async (o: { config: string; source?: string; destination?: string; audience?: string; members?: string; db?: string }, cmd: Command) => {
    const fileOptions = (['destination', 'audience', 'members'] as const).filter((k) => o[k] !== undefined)
    if (o.source !== undefined) {
      if (fileOptions.length > 0) cmd.error(`error: --source runs a warehouse source; it takes no ${fileOptions.map((k) => `--${k}`).join(', ')}`)
      const { runSourceSync } = await import('./sync.js')
      process.exitCode = await runSourceSync({ config: o.config, source: o.source, db: o.db })
      return
    }
    const { destination, audience, members } = o
    if (destination === undefined || audience === undefined || members === undefined) {
      const missing = (['destination', 'audience', 'members'] as const).filter((k) => o[k] === undefined)
      return cmd.error(`error: required option(s) ${missing.map((k) => `--${k}`).join(', ')} not specified (or --source NAME for a warehouse source)`)
    }
    const { runSync } = await import('./sync.js')
    process.exitCode = await runSync({ config: o.config, destination, audience, members, db: o.db })
  })

program
  .command('forget')
  .description(
    'Removes a person from every TikTok audience the service ever added them to, in every destination (it keeps which hashed identifiers went to which audience; never the identifiers themselves). The identifiers are normalised and hashed as each destination does; --user-id finds every identifier sent for that Segment userId. The removals are queued behind anything already queued for those audiences and delivered with the usual retries; the command waits for TikTok\'s answers and writes an audit record (GET /api/forget/audits). Prints {"audiences":N,"removed":N,"failed":N,"audit":ID}. Exit 0 when TikTok confirmed every removal, 1 otherwise, 2 when no identifier is usable.'
  )
  .option('--email <email>', 'email address (or its sha256)')
  .option('--phone <phone>', 'phone number (or its sha256)')
  .option('--advertising-id <id>', 'mobile advertising id: IDFA, GAID or AAID (or its sha256)')
  .option('--user-id <id>', 'Segment userId the identifiers were sent with')
  .option('--db <url>', 'database: sqlite:PATH or postgres://… (default: DATABASE_URL, else sqlite:./data/tiktok-audiences.db)')
  .action(async (o: { email?: string; phone?: string; advertisingId?: string; userId?: string; db?: string }) => {
    const { runForget } = await import('./forget.js')
    process.exitCode = await runForget(o)
  })

program
  .command('report')
  .description(
    'Identifier-quality dry run: runs the events through each destination of the config as delivery would, and reports usable, pre-hashed, repaired and rejected identifiers, the matching choices (aaid: Android advertising ids sent as AAID_SHA256; multiple: several emails or phones per person; recommended policy only), failures and the exact requests that would be sent. Sends nothing.'
  )
  .requiredOption('--config <file>', 'config file (YAML or JSON)')
  .requiredOption('--events <file>', 'NDJSON file of Segment events; - for stdin')
  .option('--json', 'print the report as JSON')
  .action(async (o: { config: string; events: string; json?: boolean }) => {
    const { runReport } = await import('./report.js')
    process.exitCode = await runReport(o)
  })

program
  .command('migrate')
  .description(
    'Legacy → native: turns a legacy destination\'s Add Users / Remove Users mappings into native audience connections that keep the same TikTok audience ids (one per audience id and advertiser; the key from the mapping\'s trigger, else from the TikTok audience\'s name, whose ownership is checked with TikTok), and native Add to Audience / Remove from Audience mappings in their place (same triggers and identifier fields). Changes already queued are delivered as they were. Prints {"dryRun","connections":[{"key","name","advertiserId","externalAudienceId"}],"mappings",…} as one JSON line. TikTok is TIKTOK_API_URL, else the built-in emulator of a serve running on the same database. Exit 0 when done (or planned), 2 when the destination cannot be migrated (the reason on stderr), 1 when TikTok could not answer.'
  )
  .requiredOption('--destination <name>', 'the legacy destination')
  .option('--dry-run', 'print exactly what would change, and change nothing')
  .option('--db <url>', 'database: sqlite:PATH or postgres://… (default: DATABASE_URL, else sqlite:./data/tiktok-audiences.db)')
  .action(async (o: { destination: string; dryRun?: boolean; db?: string }) => {
    const { runMigrate } = await import('./migrate.js')
    process.exitCode = await runMigrate(o)
  })

program
  .command('connections')
  .description(
    'The audience connections stored, each with every advertiser it goes to and that advertiser\'s TikTok audience (multi-advertiser fan-out): prints {"connections":[{"destination","key","name","advertiserIds","targets":[{"advertiserId","externalAudienceId","state","error"}]}]} as one JSON line; state is connected, pending or failed (error says why). Connections are made by the config file (audiences[].advertiserIds), the admin API or the console. Exit 0, 1 when some advertiser\'s audience failed, 2 for an unknown --destination.'
  )
  .option('--destination <name>', "only this destination's connections")
  .option('--db <url>', 'database: sqlite:PATH or postgres://… (default: DATABASE_URL, else sqlite:./data/tiktok-audiences.db)')
  .action(async (o: { destination?: string; db?: string }) => {
    const { runConnections } = await import('./connections.js')
    process.exitCode = await runConnections(o)
  })

program
  .command('emulator')
  .description('The TikTok Business API emulator alone (app emulator-app / emulator-secret, token emulator-access-token).')
  .option('--port <n>', 'port to listen on', port, 3100)
  .option('--host <host>', 'address to listen on', process.env.HOST || '127.0.0.1')
  .option(
    '--data <dir>',
    'keep its state (tokens, advertisers, audiences, members) in DIR/tiktok-emulator.jsonl across restarts; POST /_emulator/reset forgets (default: in memory)'
  )
  .action(async (o: { port: number; host: string; data?: string }) => {
    const { runEmulator } = await import('./emulator.js')
    await runEmulator(o)
  })

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(describeFatal(err) + '\n')
  process.exitCode = 1
})
