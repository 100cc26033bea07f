/**
 * `tiktok-audiences send`: one-shot delivery of an NDJSON file through the same inbox, router,
 * queue, batching, delivery and retry path as the server. Prints a JSON summary as the last line
 * of stdout; exits 1 when anything failed.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyConfig } from '../config/apply.js'
import { pipelineOptions, tiktokApiUrl } from '../config/delivery.js'
import { ConfigFileError, loadConfigFile } from '../config/load.js'
import { checkEvent } from '../pipeline/event.js'
import { Pipeline } from '../pipeline/index.js'
import { openStore } from '../store/index.js'
import { listSources } from '../store/sql/config.js'
import { eventOutcomes, failureReasons } from '../store/sql/changes.js'
import { maxEventId, type InboxEvent } from '../store/sql/events.js'
import { dropAllLeases } from '../store/sql/partitions.js'
import { TikTokClient } from '../tiktok/client.js'
import { createLogger } from '../util/log.js'
import { readNdjson } from './ndjson.js'

export interface SendOptions {
  config: string
  events: string
  db?: string
  source?: string
}

export interface SendSummary {
  received: number
  delivered: number
  failed: number
  requests: number
  durationMs: number
  invalid: number
  filtered: number
  duplicates: number
  configProblems: number
}

const INGEST_CHUNK = 1000

export async function runSend(opts: SendOptions): Promise<number> {
  const started = Date.now()
  const err = (m: string) => process.stderr.write(m + '\n')
  const log = createLogger('warn')

  let loaded
  try {
    loaded = loadConfigFile(opts.config)
  } catch (e) {
    if (e instanceof ConfigFileError) {
      err(e.message)
      return 2
    }
    throw e
  }
  for (const w of loaded.warnings) err(`config: ${w}`)

  const dbUrl = opts.db || process.env.DATABASE_URL || ''
  let tempDir: string | undefined
  let url = dbUrl
  if (!url) {
    tempDir = mkdtempSync(join(tmpdir(), 'tiktok-audiences-send-'))
    url = `sqlite:${join(tempDir, 'send.db')}`
  }
  // A throw-away database needs neither power-loss durability nor a kept secret key.
  const store = await openStore(url, tempDir ? { sqliteSynchronous: 'NORMAL', secretKey: randomBytes(32).toString('base64') } : {})
  try {
    if (store.db.dialect === 'sqlite') await dropAllLeases(store.db)
    const tiktok = new TikTokClient({ baseUrl: tiktokApiUrl() })
    let requests = 0
    tiktok.onExchange = () => void requests++
    const applied = await applyConfig(store, loaded.config, tiktok)
    for (const p of applied.problems) err(`config: ${p}`)

    const sources = await listSources(store.db)
    const sourceName = opts.source ?? loaded.config.sources?.[0]?.name ?? sources[0]?.name
    const source = sources.find((s) => s.name === sourceName)
    if (!source) {
      err(`--source: no source named "${opts.source}" (known: ${sources.map((s) => s.name).join(', ')})`)
      return 2
    }

    const firstEventId = await maxEventId(store.db)
    const pipeline = new Pipeline(store, tiktok, pipelineOptions(loaded.config.delivery, { failOnAuth: true }), log)
    pipeline.start()

    let lines = 0
    let invalid = 0
    let accepted = 0
    let chunk: InboxEvent[] = []
    const flush = async () => {
      if (chunk.length === 0) return
      accepted += await pipeline.ingest(chunk)
      chunk = []
    }
    try {
      for await (const item of readNdjson(opts.events)) {
        lines++
        const check = item.error ? { ok: false as const, error: item.error } : checkEvent(item.value)
        if (!check.ok) {
          invalid++
          err(`${opts.events === '-' ? 'stdin' : opts.events}:${item.line}: ${check.error}`)
          continue
        }
        const e = check.event
        chunk.push({
          sourceId: source.id,
          messageId: e.messageId,
          receivedAt: Date.now(),
          type: e.type,
          name: typeof e.event === 'string' ? e.event : null,
          body: JSON.stringify(e)
        })
        if (chunk.length >= INGEST_CHUNK) await flush()
      }
      await flush()
    } catch (e) {
      err(`cannot read events from ${opts.events}: ${(e as Error).message}`)
      invalid++
    }

    pipeline.flushAll()
    await pipeline.whenIdle()
    await pipeline.stop()

    const outcome = await eventOutcomes(store.db, firstEventId)
    for (const r of await failureReasons(store.db, firstEventId)) err(`failed (${r.n}): ${r.error}`)
    const duplicates = lines - invalid - accepted
    const summary: SendSummary = {
      received: lines,
      delivered: outcome.delivered,
      failed: outcome.failed + invalid,
      requests,
      durationMs: Date.now() - started,
      invalid,
      filtered: outcome.filtered,
      duplicates,
      configProblems: applied.problems.length
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
    return summary.failed > 0 || applied.problems.length > 0 ? 1 : 0
  } finally {
    await store.close()
    if (tempDir) rmSync(tempDir, { recursive: true, force: true })
  }
}
