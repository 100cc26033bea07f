/**
 * What the warehouse sync keeps in the service's database: each sync's definition (from the config,
 * upserted by name), its next scheduled slot, the lease of the run in progress, and a record per run.
 */
import type { Db } from '../store/db.js'
import type { SecretBox } from '../util/secrets.js'
import { must } from '../util/must.js'

export interface WarehouseSync {
  id: number
  name: string
  kind: 'postgres'
  /** Decrypted. */
  url: string
  query: string
  destinationId: number
  audienceKey: string
  everyMs: number
  nextRunAt: number
  /** Set while a run holds the lease (until `leaseUntil`, refreshed as it runs). */
  leaseOwner: string | null
  leaseUntil: number | null
}

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'skipped'
export type StartedBy = 'schedule' | 'console' | 'cli'

export interface SyncRun {
  id: number
  syncId: number
  startedBy: StartedBy
  status: RunStatus
  rowsRead: number
  invalid: number
  added: number
  removed: number
  failed: number
  durationMs: number | null
  error: string | null
  startedAt: number
  finishedAt: number | null
}

interface SyncRow {
  id: number
  name: string
  kind: string
  url: string
  query: string
  destination_id: number
  audience_key: string
  every_ms: number
  next_run_at: number
  lease_owner: string | null
  lease_until: number | null
}

const SYNC_COLS = 'id, name, kind, url, query, destination_id, audience_key, every_ms, next_run_at, lease_owner, lease_until'

function toSync(r: SyncRow, secrets: SecretBox): WarehouseSync {
  return {
    id: Number(r.id),
    name: r.name,
    kind: 'postgres',
    url: secrets.decrypt(r.url),
    query: r.query,
    destinationId: Number(r.destination_id),
    audienceKey: r.audience_key,
    everyMs: Number(r.every_ms),
    nextRunAt: Number(r.next_run_at),
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until === null ? null : Number(r.lease_until)
  }
}

export interface SyncDefinition {
  name: string
  url: string
  query: string
  destinationId: number
  audienceKey: string
  everyMs: number
}

/**
 * Upserts by name. A new sync is due at once (its first run shows the list is right); a changed
 * schedule starts counting from now; otherwise the slot is kept, so re-applying the config at every
 * start does not shift the schedule.
 */
export async function upsertWarehouseSync(db: Db, secrets: SecretBox, d: SyncDefinition, now = Date.now()): Promise<void> {
  await db.run(
    `INSERT INTO warehouse_syncs (name, kind, url, query, destination_id, audience_key, every_ms, next_run_at, created_at, updated_at)
     VALUES ($1, 'postgres', $2, $3, $4, $5, $6, $7, $7, $7)
     ON CONFLICT (name) DO UPDATE SET
       url = excluded.url, query = excluded.query, destination_id = excluded.destination_id, audience_key = excluded.audience_key,
       next_run_at = CASE WHEN warehouse_syncs.every_ms = excluded.every_ms THEN warehouse_syncs.next_run_at ELSE excluded.next_run_at + excluded.every_ms END,
       every_ms = excluded.every_ms, updated_at = excluded.updated_at`,
    [d.name, secrets.encrypt(d.url), d.query, d.destinationId, d.audienceKey, d.everyMs, now]
  )
}

export async function listWarehouseSyncs(db: Db, secrets: SecretBox): Promise<WarehouseSync[]> {
  return (await db.all<SyncRow>(`SELECT ${SYNC_COLS} FROM warehouse_syncs ORDER BY name`)).map((r) => toSync(r, secrets))
}

export async function getWarehouseSync(db: Db, secrets: SecretBox, name: string): Promise<WarehouseSync | undefined> {
  const r = await db.get<SyncRow>(`SELECT ${SYNC_COLS} FROM warehouse_syncs WHERE name = $1`, [name])
  return r && toSync(r, secrets)
}

/** Syncs whose slot has come: `[id, slot]`. */
export async function dueSyncs(db: Db, now: number): Promise<{ id: number; name: string; nextRunAt: number; everyMs: number }[]> {
  const rows = await db.all<{ id: number; name: string; next_run_at: number; every_ms: number }>(
    `SELECT id, name, next_run_at, every_ms FROM warehouse_syncs WHERE next_run_at <= $1 ORDER BY id`,
    [now]
  )
  return rows.map((r) => ({ id: Number(r.id), name: r.name, nextRunAt: Number(r.next_run_at), everyMs: Number(r.every_ms) }))
}

/** Moves a sync's slot on from `slot` to `next`: true for the one process (of many) whose compare-and-set won it. */
export async function takeSlot(db: Db, id: number, slot: number, next: number): Promise<boolean> {
  return (await db.run('UPDATE warehouse_syncs SET next_run_at = $3 WHERE id = $1 AND next_run_at = $2', [id, slot, next])).changes === 1
}

/** The run lease: taken when free or expired (its holder stopped), refreshed by its holder, given back at the end. */
export async function takeLease(db: Db, id: number, owner: string, now: number, leaseMs: number): Promise<boolean> {
  const r = await db.run('UPDATE warehouse_syncs SET lease_owner = $2, lease_until = $3 WHERE id = $1 AND (lease_owner IS NULL OR lease_until < $4)', [
    id,
    owner,
    now + leaseMs,
    now
  ])
  return r.changes === 1
}

export async function renewLease(db: Db, id: number, owner: string, until: number): Promise<boolean> {
  return (await db.run('UPDATE warehouse_syncs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2', [id, owner, until])).changes === 1
}

export async function releaseLease(db: Db, id: number, owner: string): Promise<void> {
  await db.run('UPDATE warehouse_syncs SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2', [id, owner])
}

interface RunRow {
  id: number
  sync_id: number
  started_by: StartedBy
  status: RunStatus
  rows_read: number
  invalid: number
  added: number
  removed: number
  failed: number
  duration_ms: number | null
  error: string | null
  started_at: number
  finished_at: number | null
}

const RUN_COLS = 'id, sync_id, started_by, status, rows_read, invalid, added, removed, failed, duration_ms, error, started_at, finished_at'
const num = (v: number | null) => (v === null ? null : Number(v))

function toRun(r: RunRow): SyncRun {
  return {
    id: Number(r.id),
    syncId: Number(r.sync_id),
    startedBy: r.started_by,
    status: r.status,
    rowsRead: Number(r.rows_read),
    invalid: Number(r.invalid),
    added: Number(r.added),
    removed: Number(r.removed),
    failed: Number(r.failed),
    durationMs: num(r.duration_ms),
    error: r.error,
    startedAt: Number(r.started_at),
    finishedAt: num(r.finished_at)
  }
}

/** A new run record; a skipped one is finished as it is written. */
export async function insertRun(
  db: Db,
  syncId: number,
  startedBy: StartedBy,
  status: 'running' | 'skipped',
  now: number,
  error: string | null = null
): Promise<SyncRun> {
  const finishedAt = status === 'skipped' ? now : null
  const row = await db.get<RunRow>(
    `INSERT INTO sync_runs (sync_id, started_by, status, error, started_at, finished_at, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${RUN_COLS}`,
    [syncId, startedBy, status, error, now, finishedAt, status === 'skipped' ? 0 : null]
  )
  return toRun(must(row, 'the new sync run'))
}

export interface RunOutcome {
  status: 'succeeded' | 'failed'
  rowsRead: number
  invalid: number
  added: number
  removed: number
  failed: number
  error: string | null
}

export async function finishRun(db: Db, run: SyncRun, o: RunOutcome, now: number): Promise<SyncRun> {
  await db.run(
    `UPDATE sync_runs SET status = $2, rows_read = $3, invalid = $4, added = $5, removed = $6, failed = $7, error = $8, finished_at = $9, duration_ms = $10 WHERE id = $1`,
    [run.id, o.status, o.rowsRead, o.invalid, o.added, o.removed, o.failed, o.error, now, now - run.startedAt]
  )
  return { ...run, ...o, finishedAt: now, durationMs: now - run.startedAt }
}

/** Runs left `running` by a process that stopped (its lease expired and was taken over). */
export async function failAbandonedRuns(db: Db, syncId: number, now: number): Promise<void> {
  await db.run(`UPDATE sync_runs SET status = 'failed', error = $2, finished_at = $3 WHERE sync_id = $1 AND status = 'running'`, [
    syncId,
    'the process running it stopped before it finished (its lease expired); the synced state holds only what TikTok had confirmed',
    now
  ])
}

/** The last `limit` runs of each sync, newest first. */
export async function recentRuns(db: Db, syncId: number, limit: number): Promise<SyncRun[]> {
  return (await db.all<RunRow>(`SELECT ${RUN_COLS} FROM sync_runs WHERE sync_id = $1 ORDER BY id DESC LIMIT ${Math.max(1, Math.floor(limit))}`, [syncId])).map(
    toRun
  )
}
