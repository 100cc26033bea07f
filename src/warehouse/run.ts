/**
 * One run of a warehouse sync: take the sync's lease (held: the run is skipped and recorded so),
 * stream the query's rows into the mirror sync (src/mirror/mirror-sync.ts: only the difference to
 * the last run is sent; the synced state advances only for what TikTok confirmed), record the run.
 * A query that fails, or returns no identifier column, fails while the rows are read — before
 * anything is queued — so the audience is untouched.
 */
import { randomBytes } from 'node:crypto'
import { mirrorSync, type MirrorProgress, type MirrorSummary } from '../mirror/mirror-sync.js'
import type { Pipeline } from '../pipeline/index.js'
import type { Store } from '../store/index.js'
import { getDestination } from '../store/sql/config.js'
import { postgresMemberSource } from './postgres-source.js'
import {
  failAbandonedRuns,
  finishRun,
  insertRun,
  releaseLease,
  renewLease,
  takeLease,
  type RunOutcome,
  type StartedBy,
  type SyncRun,
  type WarehouseSync
} from './records.js'

export const SKIPPED_MESSAGE = 'skipped: the previous run is still going'

/** A run's lease lasts this long unless refreshed: a process that dies holding it blocks the sync no longer than that. */
export const LEASE_MS = Number(process.env.TTA_SYNC_LEASE_MS) > 0 ? Number(process.env.TTA_SYNC_LEASE_MS) : 60_000

export interface RunOptions {
  store: Store
  /** A started pipeline of the store. */
  pipeline: Pipeline
  startedBy: StartedBy
  onRowProblem?: (line: number, message: string) => void
  onProgress?: (p: MirrorProgress) => void
  warn?: (message: string) => void
}

export interface RunResult {
  run: SyncRun
  /** The mirror sync's figures, when it got as far as comparing. */
  summary?: MirrorSummary
}

export interface StartedRun {
  /** The record as it was written: `running`, or `skipped` (then `done` is already settled). */
  run: SyncRun
  /** Settles (never rejects) with the finished record. */
  done: Promise<RunResult>
}

/** Runs of this process per pipeline: the pipeline sends partial batches at once only while one is going. */
const active = new WeakMap<Pipeline, number>()

export async function startRun(sync: WarehouseSync, opts: RunOptions): Promise<StartedRun> {
  const { db } = opts.store
  const owner = `${process.pid}:${randomBytes(6).toString('hex')}`
  const now = Date.now()
  if (!(await takeLease(db, sync.id, owner, now, LEASE_MS))) {
    const run = await insertRun(db, sync.id, opts.startedBy, 'skipped', now, SKIPPED_MESSAGE)
    return { run, done: Promise.resolve({ run }) }
  }
  let run: SyncRun
  try {
    // Holding the lease, any run still marked running is one whose process stopped.
    await failAbandonedRuns(db, sync.id, now)
    run = await insertRun(db, sync.id, opts.startedBy, 'running', now)
  } catch (err) {
    await releaseLease(db, sync.id, owner).catch(() => undefined)
    throw err
  }
  active.set(opts.pipeline, (active.get(opts.pipeline) ?? 0) + 1)
  const done = execute(sync, run, owner, opts).finally(() => {
    const left = (active.get(opts.pipeline) ?? 1) - 1
    active.set(opts.pipeline, left)
    if (left === 0) opts.pipeline.flushAll(false)
  })
  return { run, done }
}

async function execute(sync: WarehouseSync, run: SyncRun, owner: string, opts: RunOptions): Promise<RunResult> {
  const { store } = opts
  const warn = opts.warn ?? (() => undefined)
  const heartbeat = setInterval(
    () => {
      void renewLease(store.db, sync.id, owner, Date.now() + LEASE_MS).then(
        (held) => held || warn(`warehouse sync "${sync.name}": its lease was taken over (this process missed its renewals); another run may overlap this one`),
        (err: unknown) => warn(`warehouse sync "${sync.name}": cannot renew its lease: ${(err as Error).message}`)
      )
    },
    Math.max(1000, Math.floor(LEASE_MS / 3))
  )
  heartbeat.unref()
  let rowsRead = 0
  let outcome: RunOutcome
  let summary: MirrorSummary | undefined
  try {
    const dest = await getDestination(store.db, store.secrets, sync.destinationId)
    if (!dest) throw new Error(`its destination (id ${sync.destinationId}) no longer exists`)
    if (dest.sourceId === null) throw new Error(`destination "${dest.name}" has no source to queue the changes under`)
    summary = await mirrorSync({
      store,
      pipeline: opts.pipeline,
      destination: { ...dest, sourceId: dest.sourceId },
      audience: sync.audienceKey,
      source: postgresMemberSource({ url: sync.url, query: sync.query }),
      onRowProblem: opts.onRowProblem ?? (() => undefined),
      onProgress: (p) => {
        rowsRead = p.rows
        opts.onProgress?.(p)
      }
    })
    const notDelivered =
      summary.failed > 0 ? `${summary.failed} change(s) were not delivered (${summary.failureReasons.join(', ')}); they are sent again by the next run` : null
    outcome = {
      status: notDelivered ? 'failed' : 'succeeded',
      rowsRead: summary.rows,
      invalid: summary.invalid,
      added: summary.added,
      removed: summary.removed,
      failed: summary.failed,
      error: notDelivered
    }
  } catch (err) {
    outcome = { status: 'failed', rowsRead, invalid: 0, added: 0, removed: 0, failed: 0, error: (err as Error).message || String(err) }
  } finally {
    clearInterval(heartbeat)
  }
  try {
    const finished = await finishRun(store.db, run, outcome, Date.now())
    await releaseLease(store.db, sync.id, owner)
    return { run: finished, summary }
  } catch (err) {
    // The database went away (serve stopping, an outage): the lease expires and the next run marks this one.
    warn(`warehouse sync "${sync.name}": cannot record run ${run.id}: ${(err as Error).message}`)
    return { run: { ...run, ...outcome }, summary }
  }
}
