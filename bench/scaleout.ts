/**
 * 7. Scale-out: 1, 2 and 3 `serve` processes on one PostgreSQL database delivering to one shared
 * standalone emulator (this process). N events (default 100,000; BENCH_SCALEOUT_EVENTS) over 6
 * audiences are posted round-robin to the processes, after a warm-up of 60,000 (BENCH_SCALEOUT_WARMUP)
 * that the figures leave out; events/s = N / time until the emulator holds every one. Posting and
 * the emulator share this process, which is part of the (2-core) machine.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { at } from '../src/util/array.js'
import { startServe, type ServeProcess } from '../test/helpers/serve.js'
import { basicAuth, batchBody, createAudience, emailMembers, nativeConfigYaml, startBenchEmulator } from './lib/scenario.js'
import { builtCli, fmtInt, isMain, margin, size, waitFor, withPgDatabase, withTempDir, type Measurement } from './lib/util.js'
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

export async function measureScaleOut(): Promise<{ results: ScaleOutResult[]; measurements: Measurement[] }> {
  const results: ScaleOutResult[] = []
  await withTempDir('tta-bench-scaleout-', async (dir) => {
    for (const processes of scaleOutProcesses()) results.push(await measureProcesses(processes, dir))
  })
  const base = results[0]!
  const us = (ms: number, events: number) => (ms * 1000) / events
  const dbUs = (r: ScaleOutResult) => us(r.profile.dbCpuMs, r.events)
  return {
    results,
    measurements: results.flatMap((r): Measurement[] => {
      const serveUs = r.profile.serveCpuMs.map((ms) => us(ms, r.events))
      const total = serveUs.reduce((a, b) => a + b, 0)
      const trips = r.profile.roundTrips / (r.events / EVENTS_PER_POST)
      const noMore = r.processes === 2 ? { target: '≤ 1 process', met: dbUs(r) <= dbUs(base), margin: margin(dbUs(r), dbUs(base), false) } : {}
      return [
        {
          key: `scaleout.${r.processes}`,
          label: `Scale-out: ${r.processes} serve process${r.processes > 1 ? 'es' : ''}, PostgreSQL`,
          value: r.eventsPerSecond,
          unit: 'events/s',
          how: `${fmtInt(r.events)} events, 6 audiences, ingest→delivered end to end; ×${(r.eventsPerSecond / base.eventsPerSecond).toFixed(2)} of one process`
        },
        {
          key: `scaleout.${r.processes}.cpu`,
          label: `Scale-out: ${r.processes} process${r.processes > 1 ? 'es' : ''}, database CPU per event`,
          value: dbUs(r),
          unit: 'µs/event',
          ...noMore,
          how: `PostgreSQL backends of the bench database; serve ${serveUs.map((x) => x.toFixed(1)).join(' + ')} = ${total.toFixed(1)} µs/event; ${trips.toFixed(1)} round trips per ${EVENTS_PER_POST}-event post (ingestion and delivery); WAL ${(r.profile.walBytes / r.events).toFixed(0)} B/event`
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
