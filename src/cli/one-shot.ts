/**
 * What `send` and `sync` share: load and apply the config, open the database, run the pipeline
 * (auth failures fail changes instead of pausing: nobody is there to re-authorise), stop it and
 * close everything afterwards.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyConfig, type ApplyResult } from '../config/apply.js'
import { pipelineOptions, tiktokApiUrl, tiktokClientOptions } from '../config/delivery.js'
import { ConfigFileError, loadConfigFile } from '../config/load.js'
import type { ConfigFile } from '../config/schema.js'
import { Pipeline } from '../pipeline/index.js'
import { DEFAULT_DATABASE_URL, openStore, type Store } from '../store/index.js'
import { dropAllLeases } from '../store/sql/partitions.js'
import { TikTokClient } from '../tiktok/client.js'
import { createLogger } from '../util/log.js'

export interface OneShot {
  store: Store
  config: ConfigFile
  applied: ApplyResult
  pipeline: Pipeline
  /** TikTok requests made so far (config apply included). */
  requests(): number
}

export const printError = (m: string) => void process.stderr.write(m + '\n')

/** The config file with its warnings printed, or undefined (its problem printed) when it is unusable. */
export function loadConfigForCli(file: string): ConfigFile | undefined {
  try {
    const loaded = loadConfigFile(file)
    for (const w of loaded.warnings) printError(`config: ${w}`)
    return loaded.config
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw e
    printError(e.message)
    return undefined
  }
}

/** Runs `body` with a started pipeline; returns its exit code, or 2 for an unusable config. */
export async function runOneShot(
  opts: { config: string; db?: string; database: 'temporary' | 'default' },
  body: (run: OneShot) => Promise<number>
): Promise<number> {
  const config = loadConfigForCli(opts.config)
  if (!config) return 2

  let url = opts.db || process.env.DATABASE_URL || ''
  let tempDir: string | undefined
  if (!url && opts.database === 'temporary') {
    tempDir = mkdtempSync(join(tmpdir(), 'tiktok-audiences-'))
    url = `sqlite:${join(tempDir, 'run.db')}`
  }
  // A throw-away database needs neither syncing (not even at checkpoints) nor a kept secret key.
  const store = await openStore(url || DEFAULT_DATABASE_URL, tempDir ? { sqliteSynchronous: 'OFF', secretKey: randomBytes(32).toString('base64') } : {})
  let pipeline: Pipeline | undefined
  try {
    if (store.db.dialect === 'sqlite') await dropAllLeases(store.db)
    const tiktok = new TikTokClient({ baseUrl: tiktokApiUrl(), ...tiktokClientOptions(config.delivery) })
    let requests = 0
    tiktok.onExchange = () => void requests++
    const applied = await applyConfig(store, config, tiktok)
    for (const p of applied.problems) printError(`config: ${p}`)
    pipeline = new Pipeline(store, tiktok, pipelineOptions(config.delivery, { failOnAuth: true }), createLogger('warn'))
    pipeline.start()
    return await body({ store, config, applied, pipeline, requests: () => requests })
  } finally {
    await pipeline?.stop()
    await store.close()
    if (tempDir) rmSync(tempDir, { recursive: true, force: true })
  }
}
