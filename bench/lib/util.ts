/**
 * Shared plumbing of the benchmarks: sizes, machine facts, child processes that are always killed,
 * memory of a process from /proc, temporary folders and PostgreSQL databases that are always removed.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'
import { at } from '../../src/util/array.js'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** The compiled CLI, as `bin/tiktok-audiences.js` runs it (see builtCli). */
const CLI_DIST = join(ROOT, 'dist/cli/main.js')

let built: string | undefined
/**
 * The CLI as users run it — compiled, not through tsx (whose transpiling of every module, in the
 * route worker too, would count in a timed run) — compiled first from the current sources.
 */
export function builtCli(): string {
  if (built) return built
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' })
  // The migrations' SQL too (npm run build:migrations): a new migration must be in the timed build.
  cpSync(join(ROOT, 'src/store/migrations'), join(ROOT, 'dist/store/migrations'), { recursive: true, filter: (f) => !f.endsWith('.ts') })
  return (built = CLI_DIST)
}
export const EMULATOR_TOKEN = 'emulator-access-token'
export const ADVERTISER_ID = '7000000000000000001'

/** One measured number, with its SPEC §6 target when it has one. */
export interface Measurement {
  /** Stable key, used to merge partial runs. */
  key: string
  label: string
  value: number
  unit: string
  /** e.g. "≥ 50,000 events/s"; absent when the number has no target of its own. */
  target?: string
  /** true met, false missed, undefined no target. */
  met?: boolean
  /** How far from the target, e.g. "+12%" or "−40%". */
  margin?: string
  /** How it was measured (one line). */
  how: string
}

/** A size from the environment (BENCH_*), or the default; `BENCH_QUICK=1` divides defaults by `quickDivisor`. */
export function size(name: string, fallback: number, quickDivisor = 20): number {
  const v = process.env[name]
  if (v !== undefined && v !== '') {
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${v})`)
    return n
  }
  return isQuick() ? Math.max(1, Math.round(fallback / quickDivisor)) : fallback
}

/**
 * How many times the pipeline and the reference run (BENCH_RUNS, default 5; --quick: 2): each reports
 * its median. Five, not three: on a shared 2-core machine single pairs ranged 1.75–2.45× within an
 * hour, and the median of three moved with them.
 */
export const benchRuns = (): number => size('BENCH_RUNS', 5, 3)

/** The median of `values` (the lower middle one for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return at(sorted, Math.floor((sorted.length - 1) / 2))
}

/** One timed run of the pipeline or the reference. */
export interface TimedRun {
  seconds: number
  peakRss: number
  requests: number
}

export interface ThroughputResult {
  events: number
  seconds: number
  eventsPerSecond: number
  peakRss: number
}

/** What `runs` over `events` events amount to: the median run's time, the largest peak RSS. */
export function throughputOf(events: number, runs: TimedRun[]): ThroughputResult {
  const seconds = median(runs.map((r) => r.seconds))
  return { events, seconds, eventsPerSecond: events / seconds, peakRss: Math.max(...runs.map((r) => r.peakRss)) }
}

/** How a side's two rows (`<key>.eps`, `<key>.rss`) are labelled and explained. */
export interface ThroughputRows {
  key: string
  /** Given the number of events, formatted. */
  label: (events: string) => string
  /** Given `median of N runs (… events/s)`. */
  how: (runs: string) => string
  rssLabel: string
  rssHow: string
}

/** A side's rows from its runs over BENCH_EVENTS events: the median run's events/s, the largest peak RSS. */
export function throughputMeasurements(runs: TimedRun[], rows: ThroughputRows): { result: ThroughputResult; measurements: Measurement[] } {
  const events = size('BENCH_EVENTS', 100_000)
  const result = throughputOf(events, runs)
  const runsText = `median of ${runs.length} runs (${runs.map((r) => fmtInt(events / r.seconds)).join(', ')} events/s)`
  return {
    result,
    measurements: [
      { key: `${rows.key}.eps`, label: rows.label(fmtInt(events)), value: result.eventsPerSecond, unit: 'events/s', how: rows.how(runsText) },
      { key: `${rows.key}.rss`, label: rows.rssLabel, value: result.peakRss / 2 ** 20, unit: 'MB', how: rows.rssHow }
    ]
  }
}

/** BENCH_RUNS runs of one side, one after the other (run alone, not beside the other side). */
export async function runsInARow(run: (r: number) => Promise<TimedRun>): Promise<TimedRun[]> {
  const runs: TimedRun[] = []
  for (let r = 0; r < benchRuns(); r++) runs.push(await run(r))
  return runs
}

export const isQuick = (): boolean => process.env.BENCH_QUICK === '1' || process.argv.includes('--quick')

/** True when this module is the script node was started with (`node --import tsx bench/x.ts`). */
export const isMain = (metaUrl: string): boolean => process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === metaUrl

export function machine(): { cpu: string; cores: number; memory: string; node: string; os: string } {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${os.type()} ${os.release()}`
  }
}

export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT }).toString().trim() !== ''
    return dirty ? `${sha} (+ uncommitted changes in src/)` : sha
  } catch {
    return 'unknown'
  }
}

// ---- child processes: every one is SIGKILLed when the bench process ends, however it ends ----
const children = new Set<ChildProcess>()
const killAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll()
    process.exit(130)
  })
}

export function track(child: ChildProcess): ChildProcess {
  children.add(child)
  child.once('close', () => children.delete(child))
  return child
}

export interface ChildResult {
  code: number | null
  stdout: string
  stderr: string
  /** Peak resident set (VmHWM) seen in /proc while it ran, bytes. */
  peakRss: number
}

/** Runs `node …args` to the end with a timeout, sampling its peak RSS from /proc. */
export function runNode(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs: number }): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] }))
    let stdout = ''
    let stderr = ''
    let peakRss = 0
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-20_000)))
    const sampler = setInterval(() => {
      const m = procMemory(child.pid!)
      if (m) peakRss = Math.max(peakRss, m.hwm)
    }, 50)
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')} timed out after ${opts.timeoutMs} ms\n${stderr}`))
    }, opts.timeoutMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearInterval(sampler)
      clearTimeout(timer)
      resolve({ code, stdout, stderr, peakRss })
    })
  })
}

/** VmRSS and VmHWM (peak) of a process in bytes, or undefined once it is gone. */
export function procMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
  } catch {
    return undefined
  }
}

/** The last line of stdout as JSON. */
export function lastJsonLine<T>(stdout: string): T {
  const line = stdout.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as T
}

// ---- temporary folders and databases, removed whatever happens ----
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(os.tmpdir(), prefix))
  try {
    return await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export const PG_ADMIN_URL = process.env.BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/postgres'

async function pgAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** A fresh `tta_bench_<random>` database for `fn`, dropped afterwards (the caller stops its users first). */
export async function withPgDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `tta_bench_${randomBytes(6).toString('hex')}`
  await pgAdmin(`CREATE DATABASE ${name}`)
  const u = new URL(PG_ADMIN_URL)
  u.pathname = `/${name}`
  try {
    return await fn(u.toString())
  } finally {
    await pgAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e: Error) => console.error(`could not drop ${name}: ${e.message}`))
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

// ---- formatting ----
export const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US')
export const fmtMb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`
/** "+12%" when `value` beats `limit` by 12% (direction-aware). */
/** How far a value is from its target, in plain words: "40% below", "39% over", "2% under the limit". */
export function margin(value: number, limit: number, higherIsBetter: boolean): string {
  const pct = Math.abs((value / limit - 1) * 100).toFixed(0)
  if (higherIsBetter) return value >= limit ? `${pct}% above` : `${pct}% below`
  return value <= limit ? `${pct}% under the limit` : `${pct}% over`
}
