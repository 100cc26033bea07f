/**
 * Warehouse sync (issue 15.4): config sources of `kind: postgres` whose query is mirrored into an
 * audience on a schedule. This is the folder's entry: `serve` holds one WarehouseSyncs (schedule,
 * Run now, the list the console shows); `sync --source` starts one run (run.ts) by hand.
 *
 *   postgres-source.ts  the query through a server-side cursor, as a MemberSource
 *   run.ts              one run: lease, mirror sync, run record
 *   records.ts          definitions, slots, leases and runs in the service's database
 *   duration.ts         `every: 15m`
 */
import type { Logger } from 'pino'
import type { Pipeline } from '../pipeline/index.js'
import type { Store } from '../store/index.js'
import { listDestinations } from '../store/sql/config.js'
import { formatDuration } from './duration.js'
import { dueSyncs, getWarehouseSync, listWarehouseSyncs, recentRuns, takeSlot, type StartedBy, type SyncRun } from './records.js'
import { startRun, type StartedRun } from './run.js'

export { SKIPPED_MESSAGE, startRun } from './run.js'
export { getWarehouseSync, listWarehouseSyncs, upsertWarehouseSync, type SyncRun } from './records.js'
export { parseDuration, DURATION_PATTERN } from './duration.js'

export interface SyncView {
  name: string
  kind: 'postgres'
  destination: string | null
  audience: string
  every: string
  query: string
  nextRunAt: number
  /** A run holds the lease (in this process or another). */
  running: boolean
  lastRun: SyncRun | null
  /** The last few runs, newest first. */
  runs: SyncRun[]
}

/** How often `serve` looks for syncs whose slot has come (TTA_SYNC_TICK_MS). */
const TICK_MS = Number(process.env.TTA_SYNC_TICK_MS) > 0 ? Number(process.env.TTA_SYNC_TICK_MS) : 1000

export class WarehouseSyncs {
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private tickFailing = false

  constructor(
    private readonly store: Store,
    private readonly pipeline: Pipeline,
    private readonly log: Pick<Logger, 'info' | 'warn'>
  ) {}

  /**
   * Runs every sync when its slot comes. Each slot is taken by compare-and-set, so of several
   * processes on one database exactly one fires it; a run still going when the next slot comes
   * holds the lease, and that next run is recorded as skipped.
   */
  startSchedule(tickMs = TICK_MS): void {
    const loop = async () => {
      await this.tick().catch((err: unknown) => {
        if (!this.tickFailing) this.log.warn({ err: (err as Error).message }, 'warehouse sync schedule: cannot read the syncs (retrying)')
        this.tickFailing = true
      })
      if (!this.stopped) this.timer = setTimeout(() => void loop(), tickMs)
    }
    this.timer = setTimeout(() => void loop(), 0)
  }

  private async tick(): Promise<void> {
    const { db, secrets } = this.store
    const now = Date.now()
    for (const due of await dueSyncs(db, now)) {
      if (this.stopped) return
      // The cadence stays on its slots; slots missed while nothing ran are not caught up.
      let next = due.nextRunAt + due.everyMs
      if (next <= now) next = now + due.everyMs
      if (!(await takeSlot(db, due.id, due.nextRunAt, next))) continue
      const sync = await getWarehouseSync(db, secrets, due.name)
      if (sync) await this.launch(sync, 'schedule')
    }
    this.tickFailing = false
  }

  /** Starts a run of the named sync now; undefined when there is no such sync. */
  async runNow(name: string, startedBy: StartedBy = 'console'): Promise<StartedRun | undefined> {
    const sync = await getWarehouseSync(this.store.db, this.store.secrets, name)
    return sync && this.launch(sync, startedBy)
  }

  private async launch(sync: NonNullable<Awaited<ReturnType<typeof getWarehouseSync>>>, startedBy: StartedBy): Promise<StartedRun> {
    const started = await startRun(sync, { store: this.store, pipeline: this.pipeline, startedBy, warn: (m) => this.log.warn(m) })
    if (started.run.status === 'skipped') this.log.warn({ sync: sync.name, startedBy }, `warehouse sync "${sync.name}" ${started.run.error}`)
    void started.done.then(({ run }) => {
      if (run.status === 'skipped') return
      const figures = {
        sync: sync.name,
        run: run.id,
        rowsRead: run.rowsRead,
        added: run.added,
        removed: run.removed,
        failed: run.failed,
        durationMs: run.durationMs
      }
      if (run.status === 'failed') this.log.warn({ ...figures, error: run.error }, `warehouse sync "${sync.name}" failed: ${run.error}`)
      else this.log.info(figures, `warehouse sync "${sync.name}" done`)
    })
    return started
  }

  async list(now = Date.now()): Promise<SyncView[]> {
    const { db, secrets } = this.store
    const destinations = new Map((await listDestinations(db, secrets)).map((d) => [d.id, d.name]))
    const views: SyncView[] = []
    for (const s of await listWarehouseSyncs(db, secrets)) {
      const runs = await recentRuns(db, s.id, 5)
      views.push({
        name: s.name,
        kind: s.kind,
        destination: destinations.get(s.destinationId) ?? null,
        audience: s.audienceKey,
        every: formatDuration(s.everyMs),
        query: s.query,
        nextRunAt: s.nextRunAt,
        running: s.leaseOwner !== null && (s.leaseUntil ?? 0) > now,
        lastRun: runs[0] ?? null,
        runs
      })
    }
    return views
  }

  /** Stops the schedule. A run in progress is not waited for: its lease expires, the next run records it as stopped. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }
}
