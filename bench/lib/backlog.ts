/**
 * The backlog scenario behind measurements 5 (request efficiency) and 6 (memory): `serve` (child,
 * SQLite; TikTok is the standalone emulator in this process, so serve's memory is its own) ingests
 * N events while TikTok answers every mapping request with a
 * transient error (HTTP 503, retried with backoff of at most 1 s), so nothing is delivered and the
 * queue fills; RSS is read once everything is routed and queued. Then the fault is lifted and the
 * backlog drains; the service's `requests` table tells how many mapping requests delivered during
 * the drain carried the full 10,000 rows. (A latency fault instead let requests complete during a
 * slow ingest — TikTok's client gives up after 30 s — and a partial first batch then left a partial
 * remainder at the end of the drain.)
 */
import Database from 'better-sqlite3'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServe, type ServeProcess } from '../../test/helpers/serve.js'
import { AUDIENCE_KEY, basicAuth, batchBody, createAudience, nativeConfigYaml, startBenchEmulator } from './scenario.js'
import { builtCli, procMemory, size, waitFor, withTempDir } from './util.js'

export interface BacklogResult {
  events: number
  /** Events still queued (not yet delivered) when RSS was read. */
  queued: number
  rssQueued: number
  peakRss: number
  ingestSeconds: number
  drainSeconds: number
  mappingRequests: number
  fullRequests: number
  /** Requests whose rows were < 10,000: the partition's last, partial batch is expected among them. */
  partialRowCounts: number[]
}

const EVENTS_PER_POST = 500 // ~300 KB, under Segment's 500 KB batch limit
const POSTERS = 6

let cached: Promise<BacklogResult> | undefined
/** Runs once per process even when both memory and efficiency are asked for. */
export function runBacklog(): Promise<BacklogResult> {
  cached ??= backlog()
  return cached
}

async function backlog(): Promise<BacklogResult> {
  const events = size('BENCH_BACKLOG_EVENTS', 1_000_000, 50)
  return withTempDir('tta-bench-backlog-', async (dir) => {
    const writeKey = `wk_bench_${randomBytes(4).toString('hex')}`
    const config = join(dir, 'config.yaml')
    const dbFile = join(dir, 'bench.db')
    const emu = await startBenchEmulator()
    let serve: ServeProcess | undefined
    let db: Database.Database | undefined
    try {
      const audienceId = await createAudience(emu.apiUrl, 'bench backlog')
      writeFileSync(
        config,
        nativeConfigYaml({ writeKey, audiences: [{ key: AUDIENCE_KEY, externalAudienceId: audienceId }], delivery: { retryBaseMs: 200, retryMaxMs: 1000 } })
      )
      serve = await startServe(
        ['--config', config],
        { DATABASE_URL: `sqlite:${dbFile}`, TIKTOK_API_URL: emu.apiUrl, TIKTOK_APP_ID: '', ADMIN_PASSWORD: 'bench', LOG_LEVEL: 'warn' },
        60_000,
        builtCli()
      )
      const { url, pid } = serve
      const faults = `${emu.url}/_emulator/faults`
      const hold = await fetch(faults, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ rules: [{ path: '/segment/mapping/', httpStatus: 503 }] })
      })
      if (!hold.ok) throw new Error(`emulator fault refused: ${hold.status} ${await hold.text()}`)

      let peakRss = 0
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, procMemory(pid)?.hwm ?? 0)), 250)
      try {
        const started = performance.now()
        let next = 0
        const poster = async () => {
          for (;;) {
            const from = next
            if (from >= events) return
            next += EVENTS_PER_POST
            const res = await fetch(`${url}/v1/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
              body: batchBody(from, Math.min(EVENTS_PER_POST, events - from), { run: 'bl' })
            })
            if (!res.ok) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`)
          }
        }
        await Promise.all(Array.from({ length: POSTERS }, poster))
        const ingestSeconds = (performance.now() - started) / 1000

        db = new Database(dbFile, { readonly: true, fileMustExist: true })
        // An acknowledged event is recorded and routed (one transaction): every post was answered.
        const recorded = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n
        if (recorded !== events) throw new Error(`${recorded} of ${events} acknowledged events are recorded`)
        const pending = db.prepare('SELECT COALESCE(SUM(pending), 0) AS n FROM partitions')
        await new Promise((r) => setTimeout(r, 2000)) // let the heap settle after routing
        const queued = (pending.get() as { n: number }).n
        const rssQueued = procMemory(pid)?.rss ?? 0

        const drainFrom = Date.now()
        await fetch(faults, { method: 'DELETE' })
        await waitFor('the backlog drained', async () => (pending.get() as { n: number }).n === 0, 15 * 60_000, 250)
        const drainSeconds = (Date.now() - drainFrom) / 1000
        const rows = db
          .prepare(`SELECT row_count AS n FROM requests WHERE kind = 'mapping' AND outcome = 'delivered' AND sent_at >= ? ORDER BY id`)
          .all(drainFrom) as { n: number }[]
        return {
          events,
          queued,
          rssQueued,
          peakRss,
          ingestSeconds,
          drainSeconds,
          mappingRequests: rows.length,
          fullRequests: rows.filter((r) => r.n === 10_000).length,
          partialRowCounts: rows.filter((r) => r.n !== 10_000).map((r) => r.n)
        }
      } finally {
        clearInterval(sampler)
      }
    } finally {
      db?.close()
      await serve?.stop()
      await emu.close()
    }
  })
}
