/**
 * `tiktok-audiences serve`: opens the database, applies an optional config file, starts the HTTP
 * service and the pipeline. Without TikTok app credentials and without TIKTOK_API_URL it serves
 * the built-in TikTok emulator at /emulator and points at it.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { applyConfig } from '../config/apply.js'
import { pipelineOptions, tiktokApiUrl, tiktokClientOptions } from '../config/delivery.js'
import { loadConfigFile } from '../config/load.js'
import type { ConfigFile } from '../config/schema.js'
import { EMULATOR_CREDENTIALS, EMULATOR_STATE_FILE, emulatorStateNote } from '../emulator/index.js'
import { Pipeline } from '../pipeline/index.js'
import { DEFAULT_DATABASE_URL, describeDatabaseUrl } from '../store/index.js'
import { openStoreAtStart } from '../store/startup.js'
import { ensureSource, listDestinations, listSources } from '../store/sql/config.js'
import { dropAllLeases } from '../store/sql/partitions.js'
import { TikTokClient } from '../tiktok/client.js'
import { createLogger } from '../util/log.js'
import { listenError } from '../util/user-error.js'
import { buildApp } from './app.js'
import type { ServerContext } from './context.js'
import { Metrics } from './metrics.js'
import { PasswordThrottle } from './password-throttle.js'
import { httpLimits } from './http-limits.js'
import { seedEmulatorDemo } from './demo.js'
import { claimBuiltInEmulator, type EmulatorClaim } from './emulator-claim.js'
import { retentionDays, startRetention } from '../pipeline/retention.js'
import { countPending } from '../store/sql/partitions.js'
import { BackPressure, backPressureBounds } from './backpressure.js'
import { parseHealthInterval, startAudienceHealth } from '../lifecycle/health/index.js'
import { WarehouseSyncs } from '../warehouse/index.js'

export interface ServeOptions {
  config?: string
  port?: number
  host?: string
  /** Force the built-in emulator even when TikTok settings are present. */
  emulator?: boolean
  /** Where the generated admin password and the built-in emulator's state live (default: DATA_DIR, else beside the SQLite file, or ./data). */
  dataDir?: string
  /** Print the start banner (default true). */
  banner?: boolean
  /** Back-pressure bounds (default TTA_MAX_QUEUED, TTA_MIN_FREE_DISK_MB); 0 turns one off. */
  maxQueued?: number
  minFreeDiskMb?: number
}

export interface RunningService {
  url: string
  app: FastifyInstance
  ctx: ServerContext
  close(): Promise<void>
}

const TIKTOK_CONSENT_URL = 'https://business-api.tiktok.com/portal/auth'

/** ADMIN_PASSWORD, or one generated once into the data folder (so it stays the same across restarts). */
function adminPassword(dataDir: string): { password: string; generated: boolean } {
  if (process.env.ADMIN_PASSWORD) return { password: process.env.ADMIN_PASSWORD, generated: false }
  const file = join(dataDir, 'admin-password')
  if (existsSync(file)) return { password: readFileSync(file, 'utf8').trim(), generated: true }
  mkdirSync(dataDir, { recursive: true })
  const password = randomBytes(12).toString('base64url')
  writeFileSync(file, password + '\n', { mode: 0o600 })
  return { password, generated: true }
}

export async function startService(opts: ServeOptions = {}): Promise<RunningService> {
  const log = createLogger('info')
  const dbUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL
  const target = describeDatabaseUrl(dbUrl)
  const dataDir = opts.dataDir ?? (process.env.DATA_DIR || (target.kind === 'sqlite' && target.path !== ':memory:' ? dirname(target.path) : 'data'))
  const useEmulator = opts.emulator ?? (!process.env.TIKTOK_APP_ID && !process.env.TIKTOK_API_URL)
  const bounds = backPressureBounds()

  let config: ConfigFile | undefined
  if (opts.config) {
    const loaded = loadConfigFile(opts.config)
    for (const w of loaded.warnings) log.warn({ config: opts.config }, w)
    config = loaded.config
  }

  // Settings from the environment first: a bad value stops the start before anything is opened.
  const passwordThrottle = new PasswordThrottle()
  const limits = httpLimits()
  const healthIntervalMs = parseHealthInterval(process.env.AUDIENCE_HEALTH_INTERVAL)
  // PostgreSQL not reachable yet: one line on stderr, waited for up to TTA_DB_START_WAIT_MS.
  const store = await openStoreAtStart(dbUrl, { warn: (m) => log.warn(m), report: (line) => process.stderr.write(`${line}\n`) })
  if (store.db.dialect === 'sqlite') await dropAllLeases(store.db)
  const admin = adminPassword(dataDir)
  const port = opts.port ?? Number(process.env.PORT ?? 3000)
  const host = opts.host ?? process.env.HOST ?? '127.0.0.1'
  // The built-in emulator keeps its tokens and audiences beside the database that refers to them
  // (in memory only with an in-memory database); one process per database runs it.
  const emulatorStateFile = useEmulator && !(target.kind === 'sqlite' && target.path === ':memory:') ? join(dataDir, EMULATOR_STATE_FILE) : undefined
  let claim: EmulatorClaim | undefined
  try {
    if (useEmulator) claim = await claimBuiltInEmulator(store.db, `http://${host}:${port}/emulator`, (m) => log.warn(m))
  } catch (err) {
    await store.close()
    throw err
  }

  const ctx = {
    ready: false,
    store,
    log,
    metrics: new Metrics(store),
    adminPassword: admin.password,
    passwordThrottle,
    emulator: useEmulator
  } as ServerContext
  // E.g. the emulator's state file is in use, or the port is taken: close what is open so the process can exit with the error.
  const closeOnError = async (err: unknown, app?: FastifyInstance): Promise<never> => {
    await app?.close().catch(() => undefined)
    await claim?.release()
    await store.close()
    throw listenError(err, port, host)
  }
  const app = await buildApp(ctx, { emulator: useEmulator, emulatorStateFile, limits }).catch((err: unknown) => closeOnError(err))
  await app.listen({ port, host }).catch((err: unknown) => closeOnError(err, app))
  const bound = (app.server.address() as AddressInfo).port
  const localHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  const url = `http://${localHost}:${bound}`
  claim?.setUrl(`${url}/emulator`)
  const publicUrl = (process.env.PUBLIC_URL || url).replace(/\/+$/, '')

  ctx.publicUrl = publicUrl
  ctx.oauth = useEmulator
    ? {
        appId: EMULATOR_CREDENTIALS.appId,
        secret: EMULATOR_CREDENTIALS.secret,
        authUrl: `${url}/emulator/portal/auth`,
        redirectUri: `${publicUrl}/oauth/tiktok/callback`
      }
    : {
        appId: process.env.TIKTOK_APP_ID ?? '',
        secret: process.env.TIKTOK_APP_SECRET ?? '',
        authUrl: process.env.TIKTOK_AUTH_URL || TIKTOK_CONSENT_URL,
        redirectUri: `${publicUrl}/oauth/tiktok/callback`
      }
  ctx.tiktok = new TikTokClient({ baseUrl: useEmulator ? `${url}/emulator/open_api` : tiktokApiUrl(), ...tiktokClientOptions(config?.delivery) })
  ctx.pipeline = new Pipeline(store, ctx.tiktok, pipelineOptions(config?.delivery), log, { onRequest: (r) => ctx.metrics.observeRequest(r) })
  ctx.metrics.qualitySource = () => ctx.pipeline.quality.snapshot()
  ctx.metrics.dropSource = () => ctx.pipeline.quality.drops()
  ctx.metrics.filteredSource = () => ctx.pipeline.filtered.snapshot()

  if (config) {
    const applied = await applyConfig(store, config, ctx.tiktok)
    for (const p of applied.problems) log.warn({ config: opts.config }, p)
  }
  if ((await listSources(store.db)).length === 0) {
    // Several processes may start at once on one database: the first one's key stays.
    await ensureSource(store.db, { name: 'default', writeKey: `wk_${randomBytes(12).toString('hex')}` })
  }
  if (useEmulator && (await listDestinations(store.db, store.secrets)).length === 0) await seedEmulatorDemo(store, ctx.tiktok)

  // The disk the database grows on (SQLite's folder), else the data folder's.
  const diskPath = target.kind === 'sqlite' && target.path !== ':memory:' ? dirname(target.path) : dataDir
  ctx.backPressure = new BackPressure(
    { maxQueued: opts.maxQueued ?? bounds.maxQueued, minFreeDiskMb: opts.minFreeDiskMb ?? bounds.minFreeDiskMb },
    () => countPending(store.db),
    diskPath,
    log
  )
  await ctx.backPressure.start()

  ctx.pipeline.start()
  ctx.warehouse = new WarehouseSyncs(store, ctx.pipeline, log)
  ctx.warehouse.startSchedule()
  const stopRetention = startRetention(store, retentionDays(), log)
  const health = startAudienceHealth({ store, tiktok: ctx.tiktok, log, intervalMs: healthIntervalMs })
  ctx.ready = true

  if (opts.banner !== false) {
    const source = (await listSources(store.db)).find((s) => s.writeKey)
    const lines = [
      `tiktok-audiences is running: console ${publicUrl}/`,
      `  database:  ${target.kind === 'sqlite' ? `SQLite ${target.path}` : 'PostgreSQL'}`,
      `  TikTok:    ${useEmulator ? `built-in EMULATOR at ${url}/emulator (not real TikTok)` : ctx.tiktok.baseUrl}`,
      ...(useEmulator ? [`  TikTok emulator state: ${emulatorStateNote(emulatorStateFile)}`] : []),
      `  admin:     user "admin", password ${process.env.ADMIN_PASSWORD ? '(ADMIN_PASSWORD)' : `"${admin.password}" (generated, kept in ${join(dataDir, 'admin-password')})`}`
    ]
    if (source?.writeKey) {
      const event = JSON.stringify({
        type: 'track',
        event: 'Audience Entered',
        userId: 'user-1',
        properties: { audience_key: 'first_time_shopper', first_time_shopper: true },
        context: {
          traits: { email: 'jane.doe@example.com' },
          personas: { computation_class: 'audience', computation_key: 'first_time_shopper', computation_id: 'aud_1', namespace: 'spa_1' }
        }
      })
      lines.push(`  try it:    curl -u '${source.writeKey}:' -H 'content-type: application/json' ${url}/v1/track -d '${event}'`)
    }
    process.stdout.write(lines.join('\n') + '\n')
  }

  return {
    url,
    app,
    ctx,
    async close() {
      ctx.warehouse?.stop()
      stopRetention()
      ctx.backPressure?.stop()
      await health.stop()
      await app.close()
      await ctx.pipeline.stop()
      await claim?.release()
      await store.close()
    }
  }
}
