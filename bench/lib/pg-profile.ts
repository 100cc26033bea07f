/**
 * Where the time of a benchmark window goes: CPU of each `serve` process and of the PostgreSQL
 * backends serving the bench's database (from /proc), WAL written (pg_current_wal_lsn, server-wide:
 * other databases' writes meanwhile count too) and round trips per statement (bench/lib/pg-count.mjs,
 * preloaded into serve). Read per event and per request, so that runs on a loaded machine compare.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { at, first } from '../../src/util/array.js'
import { PG_ADMIN_URL } from './util.js'

const TICK_MS = 10 // CLK_TCK is 100 on Linux
const COUNTER = fileURLToPath(new URL('./pg-count.mjs', import.meta.url))

/** CPU (user + system) of a process so far, ms, all its threads; undefined once it is gone. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS // utime, stime (fields 14, 15)
  } catch {
    return undefined
  }
}

/** The environment that makes a serve child count its PostgreSQL round trips into `file`. */
export function countingEnv(file: string): Record<string, string> {
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${COUNTER}`.trim(), TTA_PG_COUNT_FILE: file }
}

interface Counts {
  total: number
  counts: Record<string, number>
}
function readCounts(file: string): Counts {
  try {
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Counts) : { total: 0, counts: {} }
  } catch {
    return { total: 0, counts: {} } // caught mid-write: the next read has it
  }
}

export interface WindowProfile {
  seconds: number
  /** CPU ms of each serve process in the window. */
  serveCpuMs: number[]
  /** CPU ms of the PostgreSQL backends of the database (0 for SQLite). */
  dbCpuMs: number
  walBytes: number
  commits: number
  roundTrips: number
  /** Round trips by statement (kind and table), largest first. */
  statements: [string, number][]
}

/** Samples the backends of `database` every 200 ms (a backend's CPU is lost with it otherwise). */
export async function profileWindow(opts: { servePids: number[]; database?: string; countFiles?: string[] }): Promise<{ stop(): Promise<WindowProfile> }> {
  const started = performance.now()
  const serveStart = opts.servePids.map((p) => processCpuMs(p) ?? 0)
  const countStart = (opts.countFiles ?? []).map(readCounts)
  let admin: pg.Client | undefined
  const backendStart = new Map<number, number>()
  const backendLast = new Map<number, number>()
  let lsnStart = '0/0'
  let xactStart = 0
  const sampleBackends = async (into: Map<number, number>) => {
    const rows = (await admin!.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [opts.database])).rows
    for (const { pid } of rows) {
      const ms = processCpuMs(pid)
      if (ms !== undefined) into.set(pid, ms)
    }
  }
  if (opts.database) {
    admin = new pg.Client({ connectionString: PG_ADMIN_URL })
    await admin.connect()
    await sampleBackends(backendStart)
    for (const [pid, ms] of backendStart) backendLast.set(pid, ms)
    const r = await admin.query<{ lsn: string; xact: string }>(
      'SELECT pg_current_wal_lsn()::text AS lsn, (SELECT xact_commit FROM pg_stat_database WHERE datname = $1)::text AS xact',
      [opts.database]
    )
    const start = first(r.rows)
    lsnStart = start.lsn
    xactStart = Number(start.xact)
  }
  let sampling: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    if (admin) sampling = sampling.then(() => sampleBackends(backendLast)).catch(() => undefined)
  }, 200)
  return {
    async stop(): Promise<WindowProfile> {
      clearInterval(timer)
      await sampling
      const serveCpuMs = opts.servePids.map((p, i) => (processCpuMs(p) ?? at(serveStart, i)) - at(serveStart, i))
      let dbCpuMs = 0
      let walBytes = 0
      let commits = 0
      if (admin) {
        await sampleBackends(backendLast)
        for (const [pid, ms] of backendLast) dbCpuMs += ms - (backendStart.get(pid) ?? 0)
        const r = await admin.query<{ wal: string; xact: string }>(
          'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS wal, (SELECT xact_commit FROM pg_stat_database WHERE datname = $2)::text AS xact',
          [lsnStart, opts.database]
        )
        const end = first(r.rows)
        walBytes = Number(end.wal)
        commits = Number(end.xact) - xactStart
        await admin.end().catch(() => undefined)
      }
      const byStatement = new Map<string, number>()
      let roundTrips = 0
      ;(opts.countFiles ?? []).forEach((file, i) => {
        const end = readCounts(file)
        const start = at(countStart, i)
        roundTrips += end.total - start.total
        for (const [k, n] of Object.entries(end.counts)) byStatement.set(k, (byStatement.get(k) ?? 0) + n - (start.counts[k] ?? 0))
      })
      const statements = [...byStatement].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
      return { seconds: (performance.now() - started) / 1000, serveCpuMs, dbCpuMs, walBytes, commits, roundTrips, statements }
    }
  }
}

/** A database's name from its postgres:// URL. */
export const databaseOf = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1))

/** A count file per serve process in `dir`. */
export const countFile = (dir: string, name: string): string => join(dir, `pg-count-${name}.json`)

/** One line: CPU per event of serve and the database, WAL per event, round trips per request. */
export function describeProfile(p: WindowProfile, events: number, requests: number): string {
  const us = (ms: number) => `${((ms * 1000) / events).toFixed(1)} µs`
  const serve = p.serveCpuMs.map(us).join(' + ')
  const top = p.statements
    .slice(0, 6)
    .map(([k, n]) => `${k} ${(n / requests).toFixed(2)}`)
    .join('; ')
  return (
    `serve CPU ${serve}/event, database backends ${us(p.dbCpuMs)}/event, WAL ${(p.walBytes / events).toFixed(0)} B/event, ` +
    `${(p.roundTrips / requests).toFixed(2)} round trips and ${(p.commits / requests).toFixed(2)} commits per request (${top})`
  )
}
