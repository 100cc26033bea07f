/**
 * 4. Ingestion: `/v1/batch` with 100-event batches from autocannon in its own process against `serve`
 * (child process, a native destination whose audience is connected), for SQLite and for
 * PostgreSQL. TikTok is the standalone emulator in this process, as in the pipeline benchmark: the
 * serve process does only its own work (its built-in emulator would run TikTok's side of every
 * delivery on serve's event loop). Events/s counts acknowledged (2xx) events; latency is
 * autocannon's, per request.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { first } from '../src/util/array.js'
import { startServe, type ServeProcess } from '../test/helpers/serve.js'
import { AUDIENCE_KEY, createAudience, nativeConfigYaml, startBenchEmulator } from './lib/scenario.js'
import {
  builtCli,
  fmtInt,
  fmtMb,
  isMain,
  lastJsonLine,
  margin,
  median,
  procMemory,
  runNode,
  size,
  withPgDatabase,
  withTempDir,
  type Measurement
} from './lib/util.js'
import { countFile, countingEnv, databaseOf, describeProfile, profileWindow, type WindowProfile } from './lib/pg-profile.js'

export interface IngestionResult {
  database: 'sqlite' | 'postgres'
  eventsPerSecond: number
  p50: number
  p99: number
  errors: number
  peakRss: number
  /** Where the time went while the load ran (a run's), and the events and requests acknowledged meanwhile. */
  profile?: WindowProfile
  events?: number
  requests?: number
  /** Per event (µs of CPU, bytes of WAL) and per request (round trips): the median of the runs. */
  cost?: Cost
  /** Each run's events/s and P99, when the result is the median of several. */
  runs?: { eventsPerSecond: number; p99: number }[]
}

/**
 * Runs per database (BENCH_INGEST_RUNS, default 3; --quick: 1), each against a fresh `serve`,
 * database and emulator; the result is the median of each figure. Single 20-second runs ranged
 * 40–63k events/s within an hour on a shared 2-core machine.
 */
const ingestRuns = () => Math.round(size('BENCH_INGEST_RUNS', 3, 3))

interface Cost {
  serveUs: number
  dbUs: number
  walBytes: number
  roundTrips: number
}

function costOf(r: IngestionResult): Cost | undefined {
  if (!r.profile || !r.events || !r.requests) return undefined
  const p = r.profile
  return {
    serveUs: (first(p.serveCpuMs) * 1000) / r.events,
    dbUs: (p.dbCpuMs * 1000) / r.events,
    walBytes: p.walBytes / r.events,
    roundTrips: p.roundTrips / r.requests
  }
}

function medianOf(database: IngestionResult['database'], runs: IngestionResult[]): IngestionResult {
  const costs = runs.map(costOf).filter((c): c is Cost => c !== undefined)
  const mid = (f: (c: Cost) => number) => median(costs.map(f))
  return {
    ...(costs.length > 0
      ? { cost: { serveUs: mid((c) => c.serveUs), dbUs: mid((c) => c.dbUs), walBytes: mid((c) => c.walBytes), roundTrips: mid((c) => c.roundTrips) } }
      : {}),
    database,
    eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    peakRss: Math.max(...runs.map((r) => r.peakRss)),
    runs: runs.map((r) => ({ eventsPerSecond: r.eventsPerSecond, p99: r.p99 }))
  }
}

const TARGET_EPS = 50_000
const TARGET_P99_MS = 50

async function measureOne(database: 'sqlite' | 'postgres', dir: string, databaseUrl: string): Promise<IngestionResult> {
  const seconds = size('BENCH_INGEST_SECONDS', 20, 4)
  const connections = size('BENCH_INGEST_CONNECTIONS', 10, 1)
  const writeKey = `wk_bench_${randomBytes(4).toString('hex')}`
  const config = join(dir, `config-${database}.yaml`)
  const emu = await startBenchEmulator()
  let serve: ServeProcess | undefined
  try {
    const audienceId = await createAudience(emu.apiUrl, `bench ingestion ${database}`)
    writeFileSync(config, nativeConfigYaml({ writeKey, audiences: [{ key: AUDIENCE_KEY, externalAudienceId: audienceId }] }))
    const counts = countFile(dir, `${database}-${writeKey}`)
    const env = {
      DATABASE_URL: databaseUrl,
      TIKTOK_API_URL: emu.apiUrl,
      TIKTOK_APP_ID: '',
      ADMIN_PASSWORD: 'bench',
      LOG_LEVEL: 'warn',
      ...(database === 'postgres' ? countingEnv(counts) : {})
    }
    serve = await startServe(['--config', config], env, 60_000, builtCli())
    const pid = serve.pid
    const profiling = await profileWindow({ servePids: [pid], ...(database === 'postgres' ? { database: databaseOf(databaseUrl), countFiles: [counts] } : {}) })
    let peakRss = 0
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, procMemory(pid)?.rss ?? 0)), 200)
    const runner = fileURLToPath(new URL('./load-runner.ts', import.meta.url))
    const load = await runNode(['--import', 'tsx', runner, serve.url, writeKey, String(seconds), String(connections), '100', randomBytes(3).toString('hex')], {
      timeoutMs: (seconds + 60) * 1000
    })
    clearInterval(sampler)
    const profile = await profiling.stop()
    if (load.code !== 0) throw new Error(`load runner exited ${load.code}:\n${load.stderr.slice(-3000)}`)
    const out = lastJsonLine<{ ok: number; non2xx: number; errors: number; timeouts: number; durationS: number; p50: number; p99: number }>(load.stdout)
    const result = {
      database,
      eventsPerSecond: (out.ok * 100) / out.durationS,
      p50: out.p50,
      p99: out.p99,
      errors: out.non2xx + out.errors + out.timeouts,
      peakRss,
      profile,
      events: out.ok * 100,
      requests: out.ok
    }
    if (process.env.BENCH_VERBOSE)
      console.error(`  ${database}: ${fmtInt(result.eventsPerSecond)} events/s, P99 ${out.p99} ms; ${describeProfile(profile, out.ok * 100, out.ok)}`)
    if (process.env.BENCH_VERBOSE === '2') console.error(profile.statements.map(([k, n]) => `    ${(n / out.ok).toFixed(3)}  ${k}`).join('\n'))
    return result
  } finally {
    await serve?.stop()
    await emu.close()
  }
}

export async function measureIngestion(): Promise<{ results: IngestionResult[]; measurements: Measurement[] }> {
  const results: IngestionResult[] = []
  let pairRatios: number[] = []
  await withTempDir('tta-bench-ingest-', async (dir) => {
    const sqlite: IngestionResult[] = []
    const postgres: IngestionResult[] = []
    for (let r = 0; r < ingestRuns(); r++) {
      // BENCH_INGEST_ONLY=postgres (or sqlite): one side only, while working on it.
      if (process.env.BENCH_INGEST_ONLY !== 'postgres') sqlite.push(await measureOne('sqlite', dir, `sqlite:${join(dir, `bench-${r}.db`)}`))
      if (process.env.BENCH_INGEST_ONLY !== 'sqlite') postgres.push(await withPgDatabase((url) => measureOne('postgres', dir, url)))
    }
    if (sqlite.length > 0) results.push(medianOf('sqlite', sqlite))
    if (postgres.length > 0) results.push(medianOf('postgres', postgres))
    // Run r of each database one after the other: the pair met the machine at about the same speed.
    pairRatios = postgres.map((p, i) => (sqlite[i] ? p.eventsPerSecond / sqlite[i].eventsPerSecond : NaN)).filter((x) => !Number.isNaN(x))
  })
  const measurements: Measurement[] = []
  for (const r of results) {
    const name = r.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'
    const runs = r.runs && r.runs.length > 1 ? r.runs : undefined
    const how = `${runs ? `median of ${runs.length} runs (${runs.map((x) => fmtInt(x.eventsPerSecond)).join(', ')} events/s), each ` : ''}autocannon child, emulator in the bench process, ${size('BENCH_INGEST_CONNECTIONS', 10, 1)} connections, ${size('BENCH_INGEST_SECONDS', 20, 4)} s; ${r.errors} errors; serve peak RSS ${fmtMb(r.peakRss)}`
    const p50How = runs ? "per request of 100 events; median of the runs' P50" : 'per request of 100 events'
    const p99How = runs ? `per request of 100 events; median of the runs' P99 (${runs.map((x) => `${x.p99} ms`).join(', ')})` : 'per request of 100 events'
    const targeted = r.database === 'sqlite'
    measurements.push(
      {
        key: `ingestion.${r.database}.eps`,
        label: `Ingestion /v1/batch ×100, ${name}`,
        value: r.eventsPerSecond,
        unit: 'events/s',
        how,
        ...(targeted ? { target: '≥ 50,000 events/s', met: r.eventsPerSecond >= TARGET_EPS, margin: margin(r.eventsPerSecond, TARGET_EPS, true) } : {})
      },
      { key: `ingestion.${r.database}.p50`, label: `Ingestion ack latency P50, ${name}`, value: r.p50, unit: 'ms', how: p50How },
      // Both databases: an acknowledgement waits for a commit either way.
      {
        key: `ingestion.${r.database}.p99`,
        label: `Ingestion ack latency P99, ${name}`,
        value: r.p99,
        unit: 'ms',
        how: p99How,
        target: '< 50 ms',
        met: r.p99 < TARGET_P99_MS,
        margin: margin(r.p99, TARGET_P99_MS, false)
      }
    )
    const c = r.cost
    if (!c) continue
    const per = runs ? `median of the ${runs.length} runs; ` : ''
    if (r.database === 'sqlite') {
      measurements.push({
        key: 'ingestion.sqlite.cpu',
        label: 'Ingestion CPU per event, SQLite: serve (database in it)',
        value: c.serveUs,
        unit: 'µs/event',
        how: `${per}user + system CPU of serve (all threads) from /proc while the load ran, ÷ events acknowledged; delivery included`
      })
      continue
    }
    measurements.push(
      {
        key: 'ingestion.postgres.cpu.serve',
        label: 'Ingestion CPU per event, PostgreSQL: serve',
        value: c.serveUs,
        unit: 'µs/event',
        how: `${per}as for SQLite`
      },
      {
        key: 'ingestion.postgres.cpu.db',
        label: 'Ingestion CPU per event, PostgreSQL: database backends',
        value: c.dbUs,
        unit: 'µs/event',
        how: `${per}CPU of the PostgreSQL backends connected to the bench database (pg_stat_activity, /proc, sampled every 200 ms) ÷ events acknowledged`
      },
      {
        key: 'ingestion.postgres.wal',
        label: 'Ingestion WAL per event, PostgreSQL',
        value: c.walBytes,
        unit: 'B/event',
        how: `${per}pg_current_wal_lsn() difference over the load ÷ events (server-wide: includes other databases' writes meanwhile)`
      },
      {
        key: 'ingestion.postgres.trips',
        label: 'Ingestion round trips to PostgreSQL per request',
        value: c.roundTrips,
        unit: 'round trips/request',
        how: `${per}queries serve sent (node-postgres, counted by bench/lib/pg-count.mjs preloaded into serve: ingestion and delivery) ÷ requests of 100 events`
      }
    )
  }
  if (pairRatios.length > 0) {
    const ratio = median(pairRatios)
    measurements.push({
      key: 'ingestion.postgres.ratio',
      label: 'Ingestion PostgreSQL ÷ SQLite',
      value: 100 * ratio,
      unit: '%',
      target: '≥ 70%',
      met: ratio >= 0.7,
      margin: margin(ratio, 0.7, true),
      how: `median of ${pairRatios.length} pairs (${pairRatios.map((x) => `${(100 * x).toFixed(0)}%`).join(', ')}), each a SQLite run and a PostgreSQL run one after the other; events/s`
    })
  }
  return { results, measurements }
}

if (isMain(import.meta.url)) {
  const { results } = await measureIngestion()
  for (const r of results)
    console.log(
      `ingestion ${r.database}: ${fmtInt(r.eventsPerSecond)} events/s, P50 ${r.p50} ms, P99 ${r.p99} ms, errors ${r.errors}, serve peak RSS ${fmtMb(r.peakRss)}`
    )
}
