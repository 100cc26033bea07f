/**
 * 2. Reference: the same N events through Segment's published destination executed in-process by
 * Segment's runtime (bench/reference-runner.ts in a child). The pinned reference
 * (shared/bench-reference) is installed once into os.tmpdir()/tta-bench-reference-<hash of its
 * package.json> and reused by later runs.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { first } from '../src/util/array.js'
import { writeEventsNdjson } from './lib/scenario.js'
import {
  fmtInt,
  fmtMb,
  isMain,
  lastJsonLine,
  ROOT,
  runNode,
  runsInARow,
  size,
  throughputMeasurements,
  withTempDir,
  type Measurement,
  type ThroughputResult,
  type TimedRun
} from './lib/util.js'

// The pins of shared/bench-reference, copied into the repository so a clean clone (CI) has them;
// BENCH_REFERENCE_SOURCE points at another folder holding such a package.json.
const REFERENCE_SOURCE = process.env.BENCH_REFERENCE_SOURCE || join(ROOT, 'bench/reference-pins')

/** The reference installed in a cached temp folder (npm install once per package.json version). */
export async function referenceInstall(): Promise<string> {
  const pkg = readFileSync(join(REFERENCE_SOURCE, 'package.json'))
  const dir = join(os.tmpdir(), `tta-bench-reference-${createHash('sha256').update(pkg).digest('hex').slice(0, 12)}`)
  const marker = join(dir, '.installed-ok')
  if (existsSync(marker)) return dir
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  copyFileSync(join(REFERENCE_SOURCE, 'package.json'), join(dir, 'package.json'))
  console.error(`installing the reference into ${dir} (once; a few minutes)…`)
  try {
    await promisify(execFile)('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir, timeout: 15 * 60_000, maxBuffer: 64 * 2 ** 20 })
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  writeFileSync(marker, new Date().toISOString() + '\n')
  return dir
}

/** Runs `fn` with `run()`, which makes one timed run of the reference over the same N events. */
export async function withReferenceRuns<T>(fn: (run: () => Promise<TimedRun>) => Promise<T>): Promise<T> {
  const events = size('BENCH_EVENTS', 100_000)
  const refDir = await referenceInstall()
  return withTempDir('tta-bench-reference-', async (dir) => {
    const eventsFile = join(dir, 'events.ndjson')
    // Engage stamps external_audience_id and audience_settings on the events of a connected audience.
    await writeEventsNdjson(eventsFile, events, { externalAudienceId: '7123456789012345678' })
    const runner = fileURLToPath(new URL('./reference-runner.ts', import.meta.url))
    // tsx resolved from the product; the runner requires everything else from the reference install.
    const tsx = import.meta.resolve('tsx')
    return fn(async () => {
      const run = await runNode(['--import', tsx, runner, refDir, eventsFile, '1000'], { cwd: refDir, timeoutMs: 20 * 60_000 })
      if (run.code !== 0) throw new Error(`reference runner exited ${run.code}:\n${run.stderr.slice(-3000)}`)
      const out = lastJsonLine<{ events: number; ms: number; requests: number; maxRss: number }>(run.stdout)
      return { seconds: out.ms / 1000, peakRss: Math.max(out.maxRss, run.peakRss), requests: out.requests }
    })
  })
}

/** The reference's rows from its runs: the median run's events/s, the largest peak RSS. */
export function referenceMeasurements(runs: TimedRun[]): { result: ThroughputResult; measurements: Measurement[] } {
  return throughputMeasurements(runs, {
    key: 'reference',
    label: (events) => `Reference: Segment's destination, ${events} events`,
    how: (median) => `Segment actions-core testBatchAction, batches of 1,000, nock; ${median}; ${first(runs).requests} requests`,
    rssLabel: 'Reference: peak RSS',
    rssHow: 'maxRSS of the runner child (holds all parsed events)'
  })
}

export async function measureReference(): Promise<{ result: ThroughputResult; measurements: Measurement[] }> {
  return withReferenceRuns(async (run) => referenceMeasurements(await runsInARow(() => run())))
}

if (isMain(import.meta.url)) {
  const { result } = await measureReference()
  console.log(
    `reference: ${fmtInt(result.events)} events in ${result.seconds.toFixed(2)} s = ${fmtInt(result.eventsPerSecond)} events/s, peak RSS ${fmtMb(result.peakRss)}`
  )
}
