/**
 * The audit of removals (forget, consent withdrawal): who (hashed identifiers only), which
 * audiences, when, and TikTok's answer for each — updated as the removals settle.
 */
import type { Db } from '../db.js'
import { must } from '../../util/must.js'

export type AuditOrigin = 'forget' | 'consent'
export type RemovalStatus = 'pending' | 'removed' | 'failed'

export interface AuditIdentifier {
  type: string
  hash: string
}

/** One audience (partition) a person was removed from. */
export interface AuditAudience {
  destinationId: number
  advertiserIds: string[]
  audienceId: string
  partitionId: number
  /** The queue pack holding the removals. */
  pack: number
  queuedAt: number
  removals: AuditIdentifier[]
  status: RemovalStatus
  error?: string
  /** The request that carried the removals and TikTok's answer to it. */
  answer: { request: number; at: number; httpStatus: number | null; code: number | null; message: string | null; requestId: string | null } | null
}

export interface Audit {
  id: number
  requestedAt: number
  origin: AuditOrigin
  /** The destination a consent withdrawal was for; null for forget (every destination). */
  destinationId: number | null
  identifiers: AuditIdentifier[]
  userHashes: string[]
  audiences: AuditAudience[]
  /** When every removal had settled; null while some are pending. */
  finishedAt: number | null
}

export async function insertAudit(db: Db, a: Omit<Audit, 'id' | 'finishedAt'>): Promise<number> {
  const finishedAt = a.audiences.length === 0 ? a.requestedAt : null
  const row = await db.get<{ id: number }>(
    `INSERT INTO forget_audits (requested_at, origin, destination_id, identifiers, audiences, finished_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [
      a.requestedAt,
      a.origin,
      a.destinationId,
      JSON.stringify({ identifiers: a.identifiers, userHashes: a.userHashes }),
      JSON.stringify(a.audiences),
      finishedAt
    ]
  )
  return Number(must(row, 'the new audit').id)
}

export async function updateAuditAudiences(db: Db, id: number, audiences: AuditAudience[], finishedAt: number | null): Promise<void> {
  await db.run('UPDATE forget_audits SET audiences = $2, finished_at = $3 WHERE id = $1', [id, JSON.stringify(audiences), finishedAt])
}

interface AuditRow {
  id: number
  requested_at: number
  origin: string
  destination_id: number | null
  identifiers: string
  audiences: string
  finished_at: number | null
}
const COLUMNS = 'id, requested_at, origin, destination_id, identifiers, audiences, finished_at'

function toAudit(r: AuditRow): Audit {
  const who = JSON.parse(r.identifiers) as { identifiers: AuditIdentifier[]; userHashes: string[] }
  return {
    id: Number(r.id),
    requestedAt: Number(r.requested_at),
    origin: r.origin as AuditOrigin,
    destinationId: r.destination_id === null ? null : Number(r.destination_id),
    identifiers: who.identifiers,
    userHashes: who.userHashes,
    audiences: JSON.parse(r.audiences) as AuditAudience[],
    finishedAt: r.finished_at === null ? null : Number(r.finished_at)
  }
}

export async function getAudit(db: Db, id: number): Promise<Audit | undefined> {
  const r = await db.get<AuditRow>(`SELECT ${COLUMNS} FROM forget_audits WHERE id = $1`, [id])
  return r && toAudit(r)
}

/** The newest audits first. */
export async function listAudits(db: Db, limit: number): Promise<Audit[]> {
  return (await db.all<AuditRow>(`SELECT ${COLUMNS} FROM forget_audits ORDER BY id DESC LIMIT $1`, [limit])).map(toAudit)
}
