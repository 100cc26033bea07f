/**
 * 7. Scale-out: 1, 2 and 3 `serve` processes on one PostgreSQL database delivering to one shared
 * standalone emulator (this process). N events (default 100,000; BENCH_SCALEOUT_EVENTS) over 6
 * audiences are posted round-robin to the processes; events/s = N / time until the emulator holds
 * every one. Posting and the emulator share this process, which is part of the (2-core) machine.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startServe, type ServeProcess } from '../test/helpers/serve.js'
import { basicAuth, batchBody, createAudience, emailMembers, nativeConfigYaml, startBenchEmulator } from './lib/scenario.js'
import { builtCli, fmtInt, isMain, size, waitFor, withPgDatabase, withTempDir, type Measurement } from './lib/util.js'

const AUDIENCES = 6
const EVENTS_PER_POST = 500

async function measureProcesses(processes: number, dir: string): Promise<number> {
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
        serves.push(await startServe(['--config', config], env, 60_000, builtCli())) // the first applies the config and migrations alone
        for (let p = 1; p < processes; p++) serves.push(await startServe([], env, 60_000, builtCli()))
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
              body: batchBody(from, Math.min(EVENTS_PER_POST, events - from), { run: `so${processes}`, audienceKey: audiences[(from / EVENTS_PER_POST) % AUDIENCES]!.key })
            })
            if (!res.ok) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`)
          }
        }
        await Promise.all(Array.from({ length: 6 }, poster))
        const delivered = () => audiences.reduce((n, a) => n + emailMembers(emu, a.externalAudienceId), 0)
        await waitFor(`${events} events delivered by ${processes} processes`, async () => delivered() >= events, 15 * 60_000, 100)
        return events / ((performance.now() - started) / 1000)
      } finally {
        await Promise.all(serves.map((s) => s.stop()))
      }
    })
  } finally {
    await emu.close()
  }
}

export async function measureScaleOut(): Promise<{ results: { processes: number; eventsPerSecond: number }[]; measurements: Measurement[] }> {
  const results: { processes: number; eventsPerSecond: number }[] = []
  await withTempDir('tta-bench-scaleout-', async (dir) => {
    for (const processes of [1, 2, 3]) results.push({ processes, eventsPerSecond: await measureProcesses(processes, dir) })
  })
  const base = results[0]!.eventsPerSecond
  return {
    results,
    measurements: results.map((r) => ({
      key: `scaleout.${r.processes}`,
      label: `Scale-out: ${r.processes} serve process${r.processes > 1 ? 'es' : ''}, PostgreSQL`,
      value: r.eventsPerSecond,
      unit: 'events/s',
      how: `${fmtInt(size('BENCH_SCALEOUT_EVENTS', 100_000))} events, 6 audiences, ingest→delivered end to end; ×${(r.eventsPerSecond / base).toFixed(2)} of one process`
    }))
  }
}

if (isMain(import.meta.url)) {
  const { results } = await measureScaleOut()
  for (const r of results) console.log(`scale-out ${r.processes}: ${fmtInt(r.eventsPerSecond)} events/s`)
}
