/**
 * 7. Scale-out: 1, 2 and 3 `serve` processes on one PostgreSQL database delivering to one shared
 * standalone emulator (this process). N events (default 100,000; BENCH_SCALEOUT_EVENTS) over 6
 * audiences are posted round-robin to the processes; events/s = N / time until the emulator holds
 * every one. Posting and the emulator share this process, which is part of the (2-core) machine.
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
        const profiling = await profileWindow({ servePids: serves.map((s) => s.pid), database: databaseOf(databaseUrl), countFiles: counts })
        const started = performance.now()
        let next = 0
        let post = 0
        const poster = async () => {
          for (;;) {
            const from = next
            if (from >= events) return
            next += EVENTS_PER_POST
            const serve = serves[post++ % serves.length]!
            // Each post is one audience's events, so all 6 partitions fill evenly.
            const res = await fetch(`${serve.url}/v1/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: basicAuth(writeKey) },
              body: batchBody(from, Math.min(EVENTS_PER_POST, events - from), {
                run: `so${processes}`,
                audienceKey: audiences[(from / EVENTS_PER_POST) % AUDIENCES]!.key
              })
            })
            if (!res.ok) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`)
          }
        }
        await Promise.all(Array.from({ length: 6 }, poster))
        const delivered = () => audiences.reduce((n, a) => n + emailMembers(emu, a.externalAudienceId), 0)
        await waitFor(`${events} events delivered by ${processes} processes`, async () => delivered() >= events, 15 * 60_000, 100)
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

export async function measureScaleOut(): Promise<{ results: ScaleOutResult[]; measurements: Measurement[] }> {
  const results: ScaleOutResult[] = []
  await withTempDir('tta-bench-scaleout-', async (dir) => {
    for (const processes of [1, 2, 3]) results.push(await measureProcesses(processes, dir))
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
