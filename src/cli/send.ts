/**
 * `tiktok-audiences send`: one-shot delivery of an NDJSON file through the same ingestion (events
 * recorded and routed in one transaction), queue, batching, delivery and retry path as the server. Prints a JSON summary as the last line
 * of stdout; exits 1 when anything failed.
 */
import { listSources } from '../store/sql/config.js'
import { eventOutcomes, failureReasons } from '../store/sql/changes.js'
import { maxEventId } from '../store/sql/events.js'
import type { SegmentEvent } from '../pipeline/event.js'
import { readEvents } from './ndjson.js'
import { printError, runOneShot } from './one-shot.js'

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
  return runOneShot({ config: opts.config, db: opts.db, database: 'temporary' }, async ({ store, config, applied, pipeline, requests }) => {
    const sources = await listSources(store.db)
    const sourceName = opts.source ?? config.sources?.[0]?.name ?? sources[0]?.name
    const source = sources.find((s) => s.name === sourceName)
    if (!source) {
      printError(`--source: no source named "${opts.source}" (known: ${sources.map((s) => s.name).join(', ')})`)
      return 2
    }
    const firstEventId = await maxEventId(store.db)

    let lines = 0
    let invalid = 0
    let accepted = 0
    let chunk: SegmentEvent[] = []
    const flush = async () => {
      if (chunk.length === 0) return
      accepted += await pipeline.ingest(source.id, chunk)
      chunk = []
    }
    try {
      for await (const item of readEvents(opts.events)) {
        lines++
        if (item.problem !== undefined) {
          invalid++
          printError(item.problem)
          continue
        }
        chunk.push(item.event)
        if (chunk.length >= INGEST_CHUNK) await flush()
      }
      await flush()
    } catch (e) {
      printError(`cannot read events from ${opts.events}: ${(e as Error).message}`)
      invalid++
    }

    pipeline.flushAll()
    await pipeline.whenIdle()

    const outcome = await eventOutcomes(store.db, firstEventId)
    for (const r of await failureReasons(store.db, firstEventId)) printError(`failed (${r.n}): ${r.error}`)
    const summary: SendSummary = {
      received: lines,
      delivered: outcome.delivered,
      failed: outcome.failed + invalid,
      requests: requests(),
      durationMs: Date.now() - started,
      invalid,
      filtered: outcome.filtered,
      duplicates: lines - invalid - accepted,
      configProblems: applied.problems.length
    }
    process.stdout.write(JSON.stringify(summary) + '\n')
    return summary.failed > 0 || applied.problems.length > 0 ? 1 : 0
  })
}
