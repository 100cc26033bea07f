/**
 * Removing a person from the audiences they were added to (forget, consent withdrawal): one
 * `delete` change per recorded identifier, queued into the partition its add went to — after
 * anything queued there before, so a pending add cannot land after the removal — with an audit
 * record; and how each removal ended, read back from the queue, the dead letters and the request log.
 */
import { type Db } from '../db.js'
import { insertPacks } from './queue-packs.js'
import { encodeBatchKey, PackBody, parsePartitionKey, serializeIds } from '../queue-format.js'
import { addPending } from './partitions.js'
import { sentMembershipsOf, type SentMembership } from './sent-identifiers.js'
import { insertAudit, type AuditAudience, type AuditIdentifier, type AuditOrigin } from './forget-audits.js'
import { first } from '../../util/array.js'
import { must } from '../../util/must.js'

export interface PersonHashes {
  /** Hashed identifiers as the destination would send them (type, hash). */
  identifiers: AuditIdentifier[]
  /** sha256 of the person's userId(s). */
  userHashes: string[]
}

/** A removal queues into a partition at once: no batching window (the CLI waits for it). */
const NO_WINDOW = 0

/**
 * Finds what was sent for the person to each destination (hashed as that destination hashes), queues
 * the removals and writes the audit record, in the caller's transaction. Returns the audit id and
 * the audiences (one per partition).
 */
export async function queueRemovalsOfPerson(
  db: Db,
  targets: { destinationId: number; person: PersonHashes }[],
  opts: { origin: AuditOrigin; destinationId: number | null; batchSizeOf: (destinationId: number) => number; now: number }
): Promise<{ auditId: number; audiences: AuditAudience[] }> {
  const audiences: AuditAudience[] = []
  const identifiers = new Map<string, AuditIdentifier>()
  const userHashes = new Set<string>()
  for (const { destinationId, person } of targets) {
    for (const i of person.identifiers) identifiers.set(`${i.type}|${i.hash}`, i)
    for (const u of person.userHashes) userHashes.add(u)
    const found = await sentMembershipsOf(db, { hashes: person.identifiers.map((i) => i.hash), userHashes: person.userHashes }, [destinationId])
    audiences.push(...(await queueRemovals(db, found, opts.batchSizeOf, opts.now)))
  }
  const auditId = await insertAudit(db, {
    requestedAt: opts.now,
    origin: opts.origin,
    destinationId: opts.destinationId,
    identifiers: [...identifiers.values()],
    userHashes: [...userHashes],
    audiences
  })
  return { auditId, audiences }
}

/** One pack of `delete` changes per partition (partitions in id order: no deadlock between processes). */
async function queueRemovals(db: Db, found: SentMembership[], batchSizeOf: (destinationId: number) => number, now: number): Promise<AuditAudience[]> {
  const byPartition = new Map<number, SentMembership[]>()
  for (const m of found) {
    const list = byPartition.get(m.partitionId) ?? []
    list.push(m)
    byPartition.set(m.partitionId, list)
  }
  const out: AuditAudience[] = []
  for (const [partitionId, rows] of [...byPartition].sort((a, b) => a[0] - b[0])) {
    const body = new PackBody()
    for (const r of rows) body.add(null, null, encodeBatchKey({ action: 'delete', idSchema: [r.idType] }), serializeIds([r.hash]))
    const { destinationId, partitionKey } = first(rows)
    await insertPacks(db, [{ partitionId, destinationId, body, createdAt: now }])
    // This transaction's pack is the partition's last one it can see (a later one is delivered after it).
    const pack = await db.get<{ id: number }>('SELECT MAX(id) AS id FROM queue_packs WHERE partition_id = $1', [partitionId])
    await addPending(db, partitionId, rows.length, batchSizeOf(destinationId), now, NO_WINDOW)
    const { advertiserIds, audienceId } = partsOfKey(partitionKey)
    out.push({
      destinationId,
      advertiserIds,
      audienceId,
      partitionId,
      pack: Number(must(pack, 'the removals pack').id),
      queuedAt: now,
      removals: rows.map((r) => ({ type: r.idType, hash: r.hash })),
      status: 'pending',
      answer: null
    })
  }
  return out
}

/** A membership partition's advertisers and audience (its key's one parser: queue-format.ts). */
function partsOfKey(key: string): { advertiserIds: string[]; audienceId: string } {
  const { advertiserIds, audienceId } = parsePartitionKey(key)
  return { advertiserIds, audienceId }
}

/**
 * How a queued removal ended: `pending` while its pack is in the queue; then `failed` when one of
 * its changes is a dead letter (with the error and the request's answer), else `removed` with the
 * answer of the delivered delete request that carried it.
 */
export async function removalOutcome(db: Db, a: AuditAudience): Promise<AuditAudience> {
  if (await db.get('SELECT id FROM queue_packs WHERE id = $1', [a.pack])) return { ...a, status: 'pending' }
  for (const r of a.removals) {
    const dead = await db.get<{ error: string | null; request_ref: number | null }>(
      `SELECT error, request_ref FROM changes WHERE partition_id = $1 AND status = 'failed' AND event_id IS NULL AND mapping_id IS NULL
         AND batch_key = $2 AND ids = $3 AND created_at = $4 ORDER BY id DESC LIMIT 1`,
      [a.partitionId, `delete|${r.type}`, JSON.stringify([r.hash]), a.queuedAt]
    )
    if (dead) {
      const request = dead.request_ref === null ? undefined : await requestById(db, Number(dead.request_ref))
      return { ...a, status: 'failed', error: dead.error ?? 'failed', answer: request ?? null }
    }
  }
  const sent =
    (await db.get<RequestRow>(
      `${REQUEST_SELECT} WHERE partition_id = $1 AND kind = 'mapping' AND outcome = 'delivered' AND sent_at >= $2 AND request_sample LIKE $3 ORDER BY id LIMIT 1`,
      [a.partitionId, a.queuedAt, `%${first(a.removals).hash}%`]
    )) ??
    (await db.get<RequestRow>(
      `${REQUEST_SELECT} WHERE partition_id = $1 AND kind = 'mapping' AND outcome = 'delivered' AND sent_at >= $2 AND request_sample LIKE '%"action":"delete"%' ORDER BY id LIMIT 1`,
      [a.partitionId, a.queuedAt]
    ))
  return { ...a, status: 'removed', answer: sent ? answerOf(sent) : null }
}

interface RequestRow {
  id: number
  sent_at: number
  http_status: number | null
  code: number | null
  message: string | null
  tiktok_request_id: string | null
}
const REQUEST_SELECT = 'SELECT id, sent_at, http_status, code, message, tiktok_request_id FROM requests'

async function requestById(db: Db, id: number): Promise<AuditAudience['answer'] | undefined> {
  const r = await db.get<RequestRow>(`${REQUEST_SELECT} WHERE id = $1`, [id])
  return r && answerOf(r)
}

function answerOf(r: RequestRow): NonNullable<AuditAudience['answer']> {
  return {
    request: Number(r.id),
    at: Number(r.sent_at),
    httpStatus: r.http_status === null ? null : Number(r.http_status),
    code: r.code === null ? null : Number(r.code),
    message: r.message,
    requestId: r.tiktok_request_id
  }
}
