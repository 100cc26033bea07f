/**
 * 7. Scale-out: 1, 2 and 3 `serve` processes on one PostgreSQL database delivering to one shared
 * standalone emulator (this process). N events (default 100,000; BENCH_SCALEOUT_EVENTS) over 6
 * audiences are posted round-robin to the processes, after a warm-up of 60,000 (BENCH_SCALEOUT_WARMUP)
 * that the figures leave out; events/s = N / time until the emulator holds every one; rounds of
 * every process count, medians (measureScaleOut). Posting and the emulator share this process,
 * which is part of the (2-core) machine.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { at } from '../src/util/array.js'
import { startServe, type ServeProcess } from '../test/helpers/serve.js'
import { basicAuth, batchBody, createAudience, emailMembers, nativeConfigYaml, startBenchEmulator } from './lib/scenario.js'
import { builtCli, fmtInt, isMain, margin, median, size, waitFor, withPgDatabase, withTempDir, type Measurement } from './lib/util.js'
import { countFile, countingEnv, databaseOf, profileWindow, type WindowProfile } from './lib/pg-profile.js'

const AUDIENCES = 6
const EVENTS_PER_POST = 500

interface ScaleOutResult {
  processes: number
  eventsPerSecond: number
  profile: WindowProfile
  events: number
}

/** Posts `events` events, 6 posts at a time, round-robin over the processes; each post is one audience's events, so all 6 partitions fill evenly. */
function poster(serves: ServeProcess[], writeKey: string, audienceKeys: string[]) {
  return async (events: number, run: string): Promise<void> => {
    let next = 0
    let post = 0
    const one = async () => {
      for (;;) {
        const from = next
        if (from >= events) return
        next += EVENTS_PER_POST
        const serve = at(serves, post++ % serves.length)
        const res = await fetch(`${serve.url}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
          body: batchBody(from, Math.min(EVENTS_PER_POST, events - from), { run, audienceKey: at(audienceKeys, (from / EVENTS_PER_POST) % AUDIENCES) })
        })
        if (!res.ok) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`)
      }
    }
    await Promise.all(Array.from({ length: 6 }, one))
  }
}

async function measureProcesses(processes: number, dir: string): Promise<ScaleOutResult> {
  const events = size('BENCH_SCALEOUT_EVENTS', 100_000)
  const emu = await startBenchEmulator()
  try {
    const audiences: { key: string; externalAudienceId: string }[] = []
    for (let a = 0; a < AUDIENCES; a++) audiences.push({ key: `bench_aud_${a}`, externalAudienceId: await createAudience(emu.apiUrl, `bench scale-out ${a}`) })
    const writeKey = `wk_bench_${randomBytes(4).toString('hex')}`
    const config = join(dir, `config-${processes}.yaml`)
    writeFileSync(config, nativeConfigYaml({ writeKey, audiences, delivery: { windowMs: 200 } }))
    return await withPgDatabase(async (databaseUrl) => {
      const serves: ServeProcess[] = []
      try {
        const env = { DATABASE_URL: databaseUrl, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: 'bench', LOG_LEVEL: 'warn' }
        const counts = Array.from({ length: processes }, (_, p) => countFile(dir, `${processes}-${p}`))
        serves.push(await startServe(['--config', config], { ...env, ...countingEnv(at(counts, 0)) }, 60_000, builtCli())) // the first applies the config and migrations alone
        for (let p = 1; p < processes; p++) serves.push(await startServe([], { ...env, ...countingEnv(at(counts, p)) }, 60_000, builtCli()))
        const post = poster(
          serves,
          writeKey,
          audiences.map((a) => a.key)
        )
        const delivered = () => audiences.reduce((n, a) => n + emailMembers(emu, a.externalAudienceId), 0)
        // A warm-up first, so that the window measures steady state: every process's pool
        // connected (a backend each, its caches filled) and each connection past PostgreSQL's
        // first 5 runs of each prepared statement, which it plans afresh (12,000 events left the
        // window inside them: database CPU per event 4-12 % higher, and more so with 2 processes).
        const warm = size('BENCH_SCALEOUT_WARMUP', 60_000)
        await post(warm, `so${processes}w`)
        await waitFor(`${warm} warm-up events delivered`, async () => delivered() >= warm, 5 * 60_000, 100)
        const profiling = await profileWindow({ servePids: serves.map((s) => s.pid), database: databaseOf(databaseUrl), countFiles: counts })
        const started = performance.now()
        await post(events, `so${processes}`)
        await waitFor(`${events} events delivered by ${processes} processes`, async () => delivered() >= warm + events, 15 * 60_000, 100)
        const eventsPerSecond = events / ((performance.now() - started) / 1000)
        return { processes, eventsPerSecond, profile: await profiling.stop(), events }
      } finally {
        await Promise.all(serves.map((s) => s.stop()))
      }
    })
  } finally {
    await emu.close()
  }
}

/** The process counts to run (BENCH_SCALEOUT_PROCESSES, e.g. `1,2`; default 1, 2 and 3); the first is the base of the ratios. */
function scaleOutProcesses(): number[] {
  const list = (process.env.BENCH_SCALEOUT_PROCESSES ?? '1,2,3').split(',').map(Number)
  if (list.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`BENCH_SCALEOUT_PROCESSES: '${process.env.BENCH_SCALEOUT_PROCESSES}' is not a list of process counts like 1,2,3`)
  return list
}

/**
 * Rounds of every process count (BENCH_SCALEOUT_RUNS, default 3; --quick: 1), in turn: 1, 2, 3,
 * 1, 2, 3, … so that the counts of a round meet the machine at the same speed. Each figure is the
 * median over the rounds; the 2-process verdict is the median of the rounds' ratios to 1 process.
 */
const scaleOutRuns = () => Math.round(size('BENCH_SCALEOUT_RUNS', 3, 3))

export async function measureScaleOut(): Promise<{ results: ScaleOutResult[]; measurements: Measurement[] }> {
  const counts = scaleOutProcesses()
  const rounds: ScaleOutResult[][] = []
  await withTempDir('tta-bench-scaleout-', async (dir) => {
    for (let r = 0; r < scaleOutRuns(); r++) {
      const round: ScaleOutResult[] = []
      for (const processes of counts) round.push(await measureProcesses(processes, dir))
      rounds.push(round)
    }
  })
  const us = (ms: number, events: number) => (ms * 1000) / events
  const dbUs = (r: ScaleOutResult) => us(r.profile.dbCpuMs, r.events)
  const runsOf = (i: number) => rounds.map((round) => at(round, i))
  /** The run with the median database CPU per event: its other figures are shown with it. */
  const medianRun = (i: number) =>
    at(
      [...runsOf(i)].sort((a, b) => dbUs(a) - dbUs(b)),
      Math.floor((rounds.length - 1) / 2)
    )
  const baseEventsPerSecond = median(runsOf(0).map((r) => r.eventsPerSecond))
  return {
    results: rounds.flat(),
    measurements: counts.flatMap((processes, i): Measurement[] => {
      const runs = runsOf(i)
      const r = medianRun(i)
      const eventsPerSecond = median(runs.map((x) => x.eventsPerSecond))
      const serveUs = r.profile.serveCpuMs.map((ms) => us(ms, r.events))
      const total = serveUs.reduce((a, b) => a + b, 0)
      const trips = r.profile.roundTrips / (r.events / EVENTS_PER_POST)
      const ratio = median(rounds.map((round) => dbUs(at(round, i)) / dbUs(at(round, 0))))
      // The target compares 2 processes with 1, when 1 is the base.
      const vsOne = processes === 2 && counts[0] === 1
      const noMore = vsOne ? { target: '≤ 1 process', met: ratio <= 1, margin: margin(ratio, 1, false) } : {}
      const each = (f: (x: ScaleOutResult) => string) => (runs.length > 1 ? `; median of ${runs.length} rounds (${runs.map(f).join(', ')})` : '')
      return [
        {
          key: `scaleout.${processes}`,
          label: `Scale-out: ${processes} serve process${processes > 1 ? 'es' : ''}, PostgreSQL`,
          value: eventsPerSecond,
          unit: 'events/s',
          how: `${fmtInt(r.events)} events, 6 audiences, ingest→delivered end to end; ×${(eventsPerSecond / baseEventsPerSecond).toFixed(2)} of ${counts[0]} process${counts[0] === 1 ? '' : 'es'}${each((x) => fmtInt(x.eventsPerSecond))}`
        },
        {
          key: `scaleout.${processes}.cpu`,
          label: `Scale-out: ${processes} process${processes > 1 ? 'es' : ''}, database CPU per event`,
          value: dbUs(r),
          unit: 'µs/event',
          ...noMore,
          how: `PostgreSQL backends of the bench database${each((x) => dbUs(x).toFixed(1))}${vsOne ? `; ÷ 1 process, median of the rounds: ${ratio.toFixed(2)}` : ''}; the median run's serve ${serveUs.map((x) => x.toFixed(1)).join(' + ')} = ${total.toFixed(1)} µs/event, ${trips.toFixed(1)} round trips per ${EVENTS_PER_POST}-event post (ingestion and delivery), WAL ${(r.profile.walBytes / r.events).toFixed(0)} B/event`
        }
      ]
    })
  }
}

if (isMain(import.meta.url)) {
  const { results } = await measureScaleOut()
  for (const r of results)
    console.log(
      `scale-out ${r.processes}: ${fmtInt(r.eventsPerSecond)} events/s, serve CPU ${r.profile.serveCpuMs.map((ms) => ((ms * 1000) / r.events).toFixed(1)).join(' + ')} µs/event, database ${((r.profile.dbCpuMs * 1000) / r.events).toFixed(1)} µs/event`
    )
}
