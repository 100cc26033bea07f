/**
 * 1. Pipeline: `tiktok-audiences send` of N Engage events (default 100,000; BENCH_EVENTS) through the
 * durable queue to a local emulator (this process, no rate limit). `send` runs as a child process so
 * its peak RSS (VmHWM) is its own. Time = the `durationMs` send reports (config, ingest, route,
 * deliver; excludes node/tsx start-up, as the reference's excludes loading its modules).
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AUDIENCE_KEY, createAudience, deleteAudience, emailMembers, nativeConfigYaml, startBenchEmulator, writeEventsNdjson } from './lib/scenario.js'
import { NODE_FLAGS } from '../test/helpers/cli.js'
import {
  builtCli,
  fmtInt,
  fmtMb,
  isMain,
  lastJsonLine,
  runNode,
  runsInARow,
  size,
  throughputMeasurements,
  withTempDir,
  type Measurement,
  type ThroughputResult,
  type TimedRun
} from './lib/util.js'

/**
 * Runs `fn` with `run(r)`, which makes one timed send of N events into an empty audience of its own;
 * the emulator is up meanwhile. (bench/run.ts alternates these runs with the reference's.)
 */
export async function withPipelineRuns<T>(fn: (run: (r: number) => Promise<TimedRun>) => Promise<T>): Promise<T> {
  const events = size('BENCH_EVENTS', 100_000)
  const emu = await startBenchEmulator()
  try {
    return await withTempDir('tta-bench-pipeline-', (dir) =>
      fn(async (r) => {
        const audienceId = await createAudience(emu.apiUrl, `bench pipeline ${r + 1}`)
        const eventsFile = join(dir, `events-${r}.ndjson`)
        await writeEventsNdjson(eventsFile, events, { externalAudienceId: audienceId })
        const config = join(dir, `config-${r}.yaml`)
        writeFileSync(
          config,
          nativeConfigYaml({ writeKey: 'wk_bench', audiences: [{ key: AUDIENCE_KEY, externalAudienceId: audienceId }], delivery: { windowMs: 1000 } })
        )
        // The heap settings the tiktok-audiences command runs with (bin/tiktok-audiences.js).
        const run = await runNode([...NODE_FLAGS, builtCli(), 'send', '--config', config, '--events', eventsFile], {
          env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', LOG_LEVEL: 'warn' },
          timeoutMs: 20 * 60_000
        })
        if (run.code !== 0) throw new Error(`send exited ${run.code}:\n${run.stderr.slice(-3000)}`)
        const summary = lastJsonLine<{ delivered: number; failed: number; requests: number; durationMs: number }>(run.stdout)
        const members = emailMembers(emu, audienceId)
        if (summary.delivered !== events || members !== events) {
          throw new Error(`send delivered ${summary.delivered} of ${events} events; the emulator holds ${members} emails`)
        }
        await deleteAudience(emu.apiUrl, audienceId)
        rmSync(eventsFile)
        return { seconds: summary.durationMs / 1000, peakRss: run.peakRss, requests: summary.requests }
      })
    )
  } finally {
    await emu.close()
  }
}

/** The pipeline's rows from its runs: the median run's events/s, the largest peak RSS. */
export function pipelineMeasurements(runs: TimedRun[]): { result: ThroughputResult; measurements: Measurement[] } {
  return throughputMeasurements(runs, {
    key: 'pipeline',
    label: (events) => `Pipeline: send ${events} events`,
    how: (median) => `send child, SQLite temp file, ${median}, ${runs.map((r) => r.requests).join('/')} TikTok requests`,
    rssLabel: 'Pipeline: peak RSS of send',
    rssHow: 'VmHWM of the send child, the largest of the runs'
  })
}

export async function measurePipeline(): Promise<{ result: ThroughputResult; measurements: Measurement[] }> {
  return withPipelineRuns(async (run) => pipelineMeasurements(await runsInARow(run)))
}

if (isMain(import.meta.url)) {
  const { result } = await measurePipeline()
  console.log(
    `pipeline: ${fmtInt(result.events)} events in ${result.seconds.toFixed(2)} s = ${fmtInt(result.eventsPerSecond)} events/s, peak RSS ${fmtMb(result.peakRss)}`
  )
}
