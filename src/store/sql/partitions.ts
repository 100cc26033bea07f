/**
 * Partitions: one destination × advertiser set × audience. Order lives here: one worker holds a
 * partition's lease at a time, a retry holds back the whole partition (head of line).
 */
import { placeholders, type Db } from '../db.js'

export interface PartitionLease {
  id: number
  key: string
  destination_id: number
  attempts: number
  first_failure_at: number | null
}

/** Creates the partitions that do not exist yet; returns key → id for all of them. */
export async function ensurePartitions(db: Db, parts: { key: string; destinationId: number }[]): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (parts.length === 0) return out
  // In key order, so that routers inserting overlapping sets wait for each other instead of deadlocking.
  for (const p of [...parts].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    await db.run('INSERT INTO partitions (key, destination_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [p.key, p.destinationId])
  }
  const rows = await db.all<{ id: number; key: string }>(
    `SELECT id, key FROM partitions WHERE key IN (${placeholders(parts.length)})`,
    parts.map((p) => p.key)
  )
  for (const r of rows) out.set(r.key, r.id)
  return out
}

/**
 * Counts newly queued changes. A partition becomes ready to flush after `windowMs` from its first
 * pending change, or at once when it holds a full batch. Returns when it becomes ready if this
 * made it so (its window began, or its batch filled), for the delivery loops to wake then;
 * undefined when it was ready or waiting already (loops were woken for that before).
 */
export async function addPending(db: Db, partitionId: number, count: number, batchSize: number, now: number, windowMs: number): Promise<number | undefined> {
  const r = await db.get<{ ready_at: number; pending: number }>(
    `UPDATE partitions SET
       ready_at = CASE WHEN pending + $2 >= $3 THEN $4 WHEN pending = 0 THEN $5 ELSE ready_at END,
       pending = pending + $2
     WHERE id = $1 RETURNING ready_at, pending`,
    [partitionId, count, batchSize, now, now + windowMs]
  )
  if (r === undefined) return undefined
  const before = Number(r.pending) - count
  return before === 0 || (before < batchSize && Number(r.pending) >= batchSize) ? Number(r.ready_at) : undefined
}

/** Takes the lease of the partition that has waited longest among those ready, or none. */
export async function claimPartition(db: Db, owner: string, now: number, leaseMs: number, flushAll: boolean): Promise<PartitionLease | undefined> {
  const lock = db.dialect === 'postgres' ? 'FOR UPDATE OF p SKIP LOCKED' : ''
  const readyTest = flushAll ? '' : 'AND p.ready_at <= $3'
  return db.get<PartitionLease>(
    `UPDATE partitions SET lease_owner = $1, lease_until = $2
     WHERE id = (
       SELECT p.id FROM partitions p JOIN destinations d ON d.id = p.destination_id
       WHERE p.pending > 0 ${readyTest} AND p.retry_at <= $3 AND p.lease_until <= $3
         AND d.status = 'active' AND d.enabled = 1
       ORDER BY p.ready_at, p.id LIMIT 1 ${lock})
     RETURNING id, key, destination_id, attempts, first_failure_at`,
    [owner, now + leaseMs, now]
  )
}

/**
 * After a successful request: takes the `settled` changes off the pending count, clears the retry
 * state and extends the lease, in one statement while the lease is still held; the rest of the
 * backlog is ready at once. False when the lease was lost (it expired and another worker claimed the
 * partition): only the pending count changes then, and the caller must stop draining, or two
 * workers would send one partition's changes.
 */
export async function releaseAfterSuccess(db: Db, id: number, owner: string, now: number, keepLeaseUntil: number, settled: number): Promise<boolean> {
  const r = await db.run(
    `UPDATE partitions SET attempts = 0, first_failure_at = NULL, last_error = NULL, last_error_code = NULL, retry_at = 0, ready_at = $3, lease_until = $4,
       pending = pending - $5
     WHERE id = $1 AND lease_owner = $2`,
    [id, owner, now, keepLeaseUntil, settled]
  )
  if (r.changes > 0) return true
  if (settled > 0) await db.run('UPDATE partitions SET pending = pending - $2 WHERE id = $1', [id, settled])
  return false
}

/** A retryable failure: the partition waits until `retryAt`, holding back its later changes. */
export async function deferPartition(
  db: Db,
  id: number,
  owner: string,
  retryAt: number,
  attempts: number,
  firstFailureAt: number,
  error: string,
  errorCode: string
): Promise<void> {
  await db.run(
    `UPDATE partitions SET retry_at = $3, attempts = $4, first_failure_at = $5, last_error = $6, last_error_code = $7, lease_until = 0, lease_owner = NULL
     WHERE id = $1 AND lease_owner = $2`,
    [id, owner, retryAt, attempts, firstFailureAt, error, errorCode]
  )
}

export async function releasePartition(db: Db, id: number, owner: string): Promise<void> {
  await db.run('UPDATE partitions SET lease_until = 0, lease_owner = NULL WHERE id = $1 AND lease_owner = $2', [id, owner])
}

/** Changes held back by a retrying partition (for stats): partitions with attempts > 0. */
export async function countRetrying(db: Db): Promise<number> {
  const r = await db.get<{ n: number | null }>('SELECT SUM(pending) AS n FROM partitions WHERE attempts > 0')
  return Number(r?.n ?? 0)
}

/** The earliest time a partition may become claimable (for the worker's sleep). */
export async function nextWakeAt(db: Db): Promise<number | undefined> {
  const greatest = db.dialect === 'postgres' ? 'GREATEST' : 'MAX'
  const r = await db.get<{ t: number | null }>(`SELECT MIN(${greatest}(ready_at, retry_at, lease_until)) AS t FROM partitions WHERE pending > 0`)
  return r?.t == null ? undefined : Number(r.t)
}

/** Changes waiting for delivery to destinations that can deliver (not paused, enabled). */
export async function countDeliverablePending(db: Db): Promise<number> {
  const r = await db.get<{ n: number | null }>(
    `SELECT SUM(p.pending) AS n FROM partitions p JOIN destinations d ON d.id = p.destination_id
     WHERE d.status = 'active' AND d.enabled = 1`
  )
  return Number(r?.n ?? 0)
}

/** SQLite has one process: leases left by a killed run can be dropped at start instead of waiting them out. */
export async function dropAllLeases(db: Db): Promise<void> {
  await db.run('UPDATE partitions SET lease_until = 0, lease_owner = NULL WHERE lease_until > 0')
}

/** Changes waiting for delivery, all destinations (the queue-depth gauge). */
export async function countPending(db: Db): Promise<number> {
  const r = await db.get<{ n: number | null }>('SELECT SUM(pending) AS n FROM partitions')
  return Number(r?.n ?? 0)
}
