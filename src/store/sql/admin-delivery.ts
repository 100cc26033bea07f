/** Event Delivery for one destination: outcomes over time, TikTok latency, errors by reason with samples, dead letters and replay. */
import { chunks, placeholders, type Db } from '../db.js'
import { bucketFiltered, bucketTotals } from './outcome-totals.js'
import { insertPacks, openChangesOfPartition } from './queue-packs.js'
import { CREATE_KEY, identityOf, isMembershipKey, keysOfSameSchema, PackBody, serializeIds, storedBatchKey } from '../queue-format.js'
import { packChangeOfRow } from './changes.js'
import { at, last } from '../../util/array.js'

export interface BucketCounts {
  start: number
  delivered: number
  failed: number
  pending: number
  /** Changes sent again after a retryable failure in this bucket (one per attempt). */
  retried: number
  /** Events routing skipped as not for this destination (README "Which destinations an event reaches"). */
  filtered: number
}

/**
 * Outcomes per time bucket, from the outcome totals (10-second slots): delivered (superseded
 * included: their last state was delivered), failed and retried as they happened; pending is what
 * waits now, shown in the last bucket.
 */
export async function deliveryBuckets(
  db: Db,
  destinationId: number,
  from: number,
  to: number,
  bucketMs: number
): Promise<{ buckets: BucketCounts[]; filteredByReason: Record<string, number> }> {
  const [rows, filteredRows] = await Promise.all([
    bucketTotals(db, 'destination', destinationId, from, to, bucketMs),
    bucketFiltered(db, destinationId, from, to, bucketMs)
  ])
  const count = Math.max(1, Math.ceil((to - from) / bucketMs))
  const buckets: BucketCounts[] = Array.from({ length: count }, (_, i) => ({
    start: from + i * bucketMs,
    delivered: 0,
    failed: 0,
    pending: 0,
    retried: 0,
    filtered: 0
  }))
  const bucketAt = (bucket: number) => at(buckets, Math.min(count - 1, Math.max(0, bucket)))
  for (const r of rows) {
    const b = bucketAt(r.bucket)
    b.delivered += r.delivered + r.superseded
    b.failed += r.failed
    b.retried += r.retried
  }
  const filteredByReason: Record<string, number> = {}
  for (const r of filteredRows) {
    bucketAt(r.bucket).filtered += r.n
    filteredByReason[r.reason] = (filteredByReason[r.reason] ?? 0) + r.n
  }
  const waiting = await db.get<{ n: number | null }>('SELECT SUM(pending) AS n FROM partitions WHERE destination_id = $1', [destinationId])
  last(buckets).pending = Number(waiting?.n ?? 0)
  return { buckets, filteredByReason }
}

/** Changes waiting now behind a retry (their partition's last request failed with a retryable error). */
export async function retryingNow(db: Db, destinationId: number): Promise<number> {
  const r = await db.get<{ n: number | null }>('SELECT SUM(pending) AS n FROM partitions WHERE destination_id = $1 AND attempts > 0', [destinationId])
  return Number(r?.n ?? 0)
}

export interface RetriedReason {
  errorCode: string | null
  reason: string | null
  /** Requests that failed with this reason and were retried. */
  retries: number
  /** Changes those requests carried (a change retried three times counts three times). */
  changes: number
  lastAt: number
  /** What came of the partitions retried for this reason, by their last request since: how many of each. */
  then: { delivered: number; failed: number; paused: number; retrying: number }
}

/**
 * Why changes were retried in the range, by TikTok's code and message, and what came of it — e.g.
 * 40100 throttled ×3, then delivered. From the request log (kept RETENTION_DAYS).
 */
export async function retriedReasons(db: Db, destinationId: number, from: number, to: number, limit = 20): Promise<RetriedReason[]> {
  const rows = await db.all<{
    code: number | null
    http_status: number | null
    message: string | null
    p: number | null
    n: number
    rows: number | null
    last_id: number
    last_at: number
  }>(
    `SELECT code, http_status, message, partition_id AS p, COUNT(*) AS n, SUM(row_count) AS rows, MAX(id) AS last_id, MAX(sent_at) AS last_at
     FROM requests WHERE destination_id = $1 AND outcome = 'retry' AND sent_at >= $2 AND sent_at < $3
     GROUP BY code, http_status, message, partition_id`,
    [destinationId, from, to]
  )
  if (rows.length === 0) return []
  const partitions = [
    ...new Set(
      rows
        .map((r) => r.p)
        .filter((p): p is number => p !== null)
        .map(Number)
    )
  ]
  const lastOutcome = new Map<number, { id: number; outcome: string }>()
  for (const part of chunks(partitions, 500)) {
    const last = await db.all<{ p: number; id: number; outcome: string }>(
      `SELECT partition_id AS p, id, outcome FROM requests WHERE id IN (
         SELECT MAX(id) FROM requests WHERE destination_id = $1 AND sent_at >= $2 AND partition_id IN (${placeholders(part.length, 3)}) GROUP BY partition_id)`,
      [destinationId, from, ...part]
    )
    for (const l of last) lastOutcome.set(Number(l.p), { id: Number(l.id), outcome: l.outcome })
  }
  const byReason = new Map<string, RetriedReason>()
  for (const r of rows) {
    const errorCode = r.code !== null ? String(r.code) : r.http_status !== null ? `HTTP ${r.http_status}` : null
    const key = `${errorCode}|${r.message}`
    const g = byReason.get(key) ?? {
      errorCode,
      reason: r.message,
      retries: 0,
      changes: 0,
      lastAt: 0,
      then: { delivered: 0, failed: 0, paused: 0, retrying: 0 }
    }
    g.retries += Number(r.n)
    g.changes += Number(r.rows ?? 0)
    g.lastAt = Math.max(g.lastAt, Number(r.last_at))
    const last = r.p === null ? undefined : lastOutcome.get(Number(r.p))
    const outcome = !last || last.outcome === 'retry' ? 'retrying' : last.outcome
    if (outcome === 'delivered' || outcome === 'failed' || outcome === 'paused' || outcome === 'retrying') g.then[outcome]++
    byReason.set(key, g)
  }
  return [...byReason.values()].sort((a, b) => b.retries - a.retries).slice(0, limit)
}

/** P95 of TikTok request durations in the range (ms), null without requests. */
export async function p95LatencyMs(db: Db, destinationId: number, from: number, to: number): Promise<{ p95: number | null; requests: number }> {
  const where = 'destination_id = $1 AND sent_at >= $2 AND sent_at < $3 AND duration_ms IS NOT NULL'
  const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM requests WHERE ${where}`, [destinationId, from, to])
  const n = Number(c?.n ?? 0)
  if (n === 0) return { p95: null, requests: 0 }
  const at = Math.min(n - 1, Math.ceil(0.95 * n) - 1)
  const r = await db.get<{ d: number }>(`SELECT duration_ms AS d FROM requests WHERE ${where} ORDER BY duration_ms LIMIT 1 OFFSET $4`, [
    destinationId,
    from,
    to,
    at
  ])
  return { p95: r ? Number(r.d) : null, requests: n }
}

export interface ErrorGroup {
  status: 'failed' | 'pending'
  errorCode: string | null
  error: string | null
  count: number
  lastAt: number
  /** A failed change of the group (its event and request), or for a retrying group the last request that failed. */
  sampleChangeId: number | null
  sampleRequestId: number | null
}

/**
 * Failed (and still-retrying) changes grouped by reason, most frequent first. Failed changes come
 * from their own small index; retrying ones are the pending changes of the partitions whose last
 * request failed with a retryable error (the partition keeps the reason).
 */
export async function errorGroups(db: Db, destinationId: number, from: number, to: number, limit = 50): Promise<ErrorGroup[]> {
  const failed = await db.all<{ error_code: string | null; error: string | null; n: number; last_at: number; sample: number }>(
    `SELECT error_code, error, COUNT(*) AS n, MAX(COALESCE(done_at, created_at)) AS last_at, MAX(id) AS sample
     FROM changes
     WHERE destination_id = $1 AND status = 'failed' AND COALESCE(done_at, created_at) >= $2 AND COALESCE(done_at, created_at) < $3
     GROUP BY error_code, error
     ORDER BY COUNT(*) DESC LIMIT $4`,
    [destinationId, from, to, limit]
  )
  const retrying = await db.all<{ id: number; error_code: string | null; error: string | null; n: number; since: number | null }>(
    `SELECT id, last_error_code AS error_code, last_error AS error, pending AS n, first_failure_at AS since
     FROM partitions WHERE destination_id = $1 AND attempts > 0 AND pending > 0`,
    [destinationId]
  )
  // Their last failed requests: one range of the request log (since the oldest failure began, less
  // the longest a request can take — it is sent before its failure is recorded), not a scan per partition.
  const lastRetry = new Map<number, { id: number; at: number }>()
  if (retrying.length > 0) {
    const since = Math.min(...retrying.map((r) => Number(r.since ?? 0))) - 5 * 60_000
    const rows = await db.all<{ p: number; id: number; at: number }>(
      `SELECT partition_id AS p, MAX(id) AS id, MAX(sent_at) AS at FROM requests
       WHERE destination_id = $1 AND sent_at >= $2 AND outcome = 'retry' GROUP BY partition_id`,
      [destinationId, since]
    )
    for (const r of rows) lastRetry.set(Number(r.p), { id: Number(r.id), at: Number(r.at) })
  }
  const groups: ErrorGroup[] = failed.map((r) => ({
    status: 'failed',
    errorCode: r.error_code,
    error: r.error,
    count: Number(r.n),
    lastAt: Number(r.last_at),
    sampleChangeId: Number(r.sample),
    sampleRequestId: null
  }))
  const byReason = new Map<string, ErrorGroup>()
  for (const r of retrying) {
    const k = `${r.error_code}|${r.error}`
    const g = byReason.get(k)
    const last = lastRetry.get(Number(r.id))
    const lastAt = last?.at ?? 0
    const sample = last?.id ?? null
    if (!g) {
      const group: ErrorGroup = {
        status: 'pending',
        errorCode: r.error_code,
        error: r.error,
        count: Number(r.n),
        lastAt,
        sampleChangeId: null,
        sampleRequestId: sample
      }
      byReason.set(k, group)
      groups.push(group)
    } else {
      g.count += Number(r.n)
      if (lastAt > g.lastAt) {
        g.lastAt = lastAt
        g.sampleRequestId = sample ?? g.sampleRequestId
      }
    }
  }
  return groups.sort((a, b) => b.count - a.count).slice(0, limit)
}

export interface ChangeSample {
  event: string | null
  request: string | null
  response: string | null
  httpStatus: number | null
  code: number | null
}

/** What Event Delivery shows for one request (a retrying group's sample): the request and the response. */
export async function requestSample(db: Db, requestId: number): Promise<ChangeSample | undefined> {
  return db.get<ChangeSample>(
    `SELECT NULL AS event, r.request_sample AS request, r.response AS response, r.http_status AS "httpStatus", r.code AS code FROM requests r WHERE r.id = $1`,
    [requestId]
  )
}

/** What Event Delivery shows for one change: the event as received (kept for failed events), the request and the response. */
export async function changeSample(db: Db, changeId: number): Promise<ChangeSample | undefined> {
  return db.get<ChangeSample>(
    `SELECT e.body AS event, r.request_sample AS request, r.response AS response, r.http_status AS "httpStatus", r.code AS code
     FROM changes c LEFT JOIN events e ON e.id = c.event_id LEFT JOIN requests r ON r.id = c.request_ref
     WHERE c.id = $1`,
    [changeId]
  )
}

export interface DeadLetter {
  id: number
  eventId: number | null
  mappingId: number | null
  action: string
  error: string | null
  errorCode: string | null
  attempts: number
  createdAt: number
  doneAt: number | null
  /** Queued before it failed (hashed ids/payload and a partition are kept) and not resolved since: can go back to the queue. */
  replayable: boolean
  /** Why replaying it would be wrong: a later change of the same identifiers was delivered. */
  resolvedBy: string | null
}

interface DeadLetterRow {
  id: number
  event_id: number | null
  mapping_id: number | null
  action: string
  error: string | null
  error_code: string | null
  attempts: number
  created_at: number
  done_at: number | null
  partition_id: number | null
  ids: string | null
  payload: string | null
  batch_key: string | null
  resolved_by: string | null
}
const DL_COLS = 'id, event_id, mapping_id, action, error, error_code, attempts, created_at, done_at, partition_id, ids, payload, batch_key, resolved_by'
const isReplayable = (r: DeadLetterRow): boolean => r.partition_id !== null && (r.ids !== null || r.payload !== null)
const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({
  id: Number(r.id),
  eventId: r.event_id === null ? null : Number(r.event_id),
  mappingId: r.mapping_id === null ? null : Number(r.mapping_id),
  action: r.action,
  error: r.error,
  errorCode: r.error_code,
  attempts: Number(r.attempts),
  createdAt: Number(r.created_at),
  doneAt: r.done_at === null ? null : Number(r.done_at),
  replayable: isReplayable(r) && !r.resolved_by,
  resolvedBy: r.resolved_by
})

/** Failed changes, newest first; `beforeId` pages. */
export async function listDeadLetters(db: Db, destinationId: number, limit: number, beforeId?: number): Promise<{ items: DeadLetter[]; total: number }> {
  const rows = await db.all<DeadLetterRow>(
    `SELECT ${DL_COLS} FROM changes WHERE destination_id = $1 AND status = 'failed' AND id < $2 ORDER BY id DESC LIMIT $3`,
    [destinationId, beforeId ?? Number.MAX_SAFE_INTEGER, limit]
  )
  const t = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM changes WHERE destination_id = $1 AND status = 'failed'`, [destinationId])
  return { items: rows.map(toDeadLetter), total: Number(t?.n ?? 0) }
}

export type ReplayOutcome = { id: number; replayed: true } | { id: number; replayed: false; reason: string }

/**
 * A reason not to replay `r`: a later change of exactly the same identifiers (same id_schema and
 * hashes) that did not fail — delivered since (the dead letter was marked resolved then), still
 * queued, or (rows of versions before packs) delivered. Replaying the old one would undo it (an old
 * failed "add" re-adding someone who has exited since).
 */
async function laterChangeOfSamePerson(db: Db, r: DeadLetterRow, open: (partitionId: number) => Promise<Set<string>>): Promise<string | undefined> {
  if (r.resolved_by) return r.resolved_by
  if (!r.ids || !r.batch_key || !isMembershipKey(r.batch_key)) return undefined
  const key = storedBatchKey(r.batch_key)
  if ((await open(Number(r.partition_id))).has(identityOf(key, serializeIds(JSON.parse(r.ids) as (string | null)[]))))
    return 'a later change of the same identifiers is queued'
  const sameSchema = keysOfSameSchema(key)
  const old = await db.get<{ id: number; action: string; status: string }>(
    `SELECT id, action, status FROM changes
     WHERE partition_id = $1 AND id > $2 AND ids = $3 AND batch_key IN ($4, $5) AND status <> 'failed'
     ORDER BY id DESC LIMIT 1`,
    [r.partition_id, r.id, r.ids, sameSchema.add, sameSchema.delete]
  )
  return old ? `a later change of the same identifiers (#${old.id}, ${old.action}, ${old.status}) already carries their last state` : undefined
}

/**
 * Puts failed changes back at the end of their partition's queue (a new pack, in their original
 * order) and counts them pending there, in one transaction; the dead-letter rows are removed. Without
 * `ids`: every replayable failed change of the destination.
 */
export async function replayDeadLetters(db: Db, destinationId: number, ids: number[] | undefined, now: number): Promise<ReplayOutcome[]> {
  return db.tx(async (t) => {
    let rows: DeadLetterRow[] = []
    if (ids === undefined) {
      rows = await t.all<DeadLetterRow>(`SELECT ${DL_COLS} FROM changes WHERE destination_id = $1 AND status = 'failed' ORDER BY id`, [destinationId])
    } else {
      for (const part of chunks(ids, 500)) {
        rows.push(
          ...(await t.all<DeadLetterRow>(
            `SELECT ${DL_COLS} FROM changes WHERE destination_id = $1 AND status = 'failed' AND id IN (${placeholders(part.length, 2)})`,
            [destinationId, ...part]
          ))
        )
      }
    }
    const openIdentities = new Map<number, Set<string>>()
    const open = async (partitionId: number): Promise<Set<string>> => {
      let set = openIdentities.get(partitionId)
      if (!set) {
        set = new Set()
        for (const c of await openChangesOfPartition(t, partitionId)) if (c.batchKey !== CREATE_KEY) set.add(identityOf(c.batchKey, c.serializedIds))
        openIdentities.set(partitionId, set)
      }
      return set
    }
    const found = new Map(rows.map((r) => [Number(r.id), r]))
    const outcomes: ReplayOutcome[] = []
    const perPartition = new Map<number, DeadLetterRow[]>()
    let newer: string | undefined
    for (const id of ids ?? rows.map((r) => Number(r.id))) {
      const r = found.get(id)
      if (!r) {
        outcomes.push({ id, replayed: false, reason: 'not a failed change of this destination' })
      } else if (!isReplayable(r)) {
        outcomes.push({
          id,
          replayed: false,
          reason: `failed before it was queued (${r.error_code ?? 'invalid'}): nothing was built to send; fix the mapping or the event and send the event again`
        })
      } else if ((newer = await laterChangeOfSamePerson(t, r, open))) {
        outcomes.push({ id, replayed: false, reason: newer })
      } else {
        const list = perPartition.get(Number(r.partition_id)) ?? []
        list.push(r)
        perPartition.set(Number(r.partition_id), list)
        outcomes.push({ id, replayed: true })
      }
    }
    for (const [partitionId, list] of perPartition) {
      list.sort((a, b) => Number(a.id) - Number(b.id))
      await insertPacks(t, [
        {
          partitionId,
          destinationId,
          createdAt: now,
          body: PackBody.of(list.map(packChangeOfRow))
        }
      ])
      for (const part of chunks(
        list.map((r) => Number(r.id)),
        500
      ))
        await t.run(`DELETE FROM changes WHERE id IN (${placeholders(part.length)})`, part)
      await t.run('UPDATE partitions SET pending = pending + $2, ready_at = $3 WHERE id = $1', [partitionId, list.length, now])
    }
    return outcomes
  })
}
