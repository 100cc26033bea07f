/**
 * Forget a person (README "Deletion and consent"): the identifiers given are hashed as each
 * destination hashes them, every audience the service queued an add of them to (recorded as hashes,
 * store/sql/sent-identifiers.ts) gets a removal, and an audit records who (hashes), where, when and
 * TikTok's answer.
 *
 * The removals go through the queue, not straight to TikTok: queued into the partition the adds
 * went to, they are sent after any add still waiting there (a direct call could be overtaken by it,
 * re-adding the person), and they get the queue's retries, pauses and dead letters. The caller
 * waits for them (`waitForRemovals`) while a pipeline delivers.
 */
import type { HashedPerson, PersonIdentifiers } from '../../destination/person.js'
import { hashPerson } from '../../destination/person.js'
import { processIdentifier, type IdentifierKind } from '../../destination/identifiers.js'
import type { Store } from '../../store/index.js'
import type { Destination } from '../../store/model.js'
import { listDestinations } from '../../store/sql/config.js'
import { getAudit, updateAuditAudiences, type Audit, type AuditAudience } from '../../store/sql/forget-audits.js'
import { queueRemovalsOfPerson, removalOutcome } from '../../store/sql/removals.js'
import { deleteSentIdentifiers } from '../../store/sql/sent-identifiers.js'
import { must } from '../../util/must.js'

export type ForgetRequest = PersonIdentifiers

/** Input that names nobody: no identifier, or none a destination could ever have sent. */
export class ForgetInputError extends Error {
  override name = 'ForgetInputError'
}

/** An audience of the audit as people read it: its destination by name. */
export interface ForgetAudience {
  destination: string
  audienceId: string
  advertiserIds: string[]
  status: AuditAudience['status']
  error?: string
  answer: AuditAudience['answer']
}

export interface ForgetSummary {
  audiences: number
  removed: number
  failed: number
  audit: number
}

const KINDS: IdentifierKind[] = ['email', 'phone', 'advertising_id']

/**
 * Queues the removals of a person from every destination's audiences and writes the audit; returns
 * its id, and the destinations that record no adds (rememberMembers off, no consent category): who
 * was added to those cannot be found.
 */
export async function forgetPerson(store: Store, request: ForgetRequest): Promise<{ auditId: number; notRecorded: string[] }> {
  const given = KINDS.filter((k) => (request[k]?.trim() ?? '') !== '')
  const userId = request.userId?.trim()
  if (given.length === 0 && !userId) throw new ForgetInputError('give at least one of email, phone, advertising_id, userId')
  const destinations = await listDestinations(store.db, store.secrets)
  const targets = destinations.map((d) => ({ destinationId: d.id, person: hashFor(d, request) }))
  if (!userId && targets.every((t) => t.person.identifiers.length === 0)) throw new ForgetInputError(unusable(request, given, destinations))
  const batchSize = new Map(destinations.map((d) => [d.id, d.batchSize]))
  const { auditId } = await store.db.tx((db) =>
    queueRemovalsOfPerson(db, targets, { origin: 'forget', destinationId: null, batchSizeOf: (id) => batchSize.get(id) ?? 10000, now: Date.now() })
  )
  return { auditId, notRecorded: destinations.filter((d) => !d.rememberMembers && d.consentCategory === null).map((d) => d.name) }
}

function hashFor(d: Destination, request: ForgetRequest): HashedPerson {
  return hashPerson(request, { policy: d.normalization, defaultPhoneRegion: d.defaultPhoneRegion ?? undefined })
}

/** Why none of the identifiers given could be hashed (as the `recommended` policy says it). */
function unusable(request: ForgetRequest, given: IdentifierKind[], destinations: Destination[]): string {
  const region = destinations.find((d) => d.defaultPhoneRegion)?.defaultPhoneRegion ?? undefined
  const reasons = given.map(
    (k) => `${k}: ${processIdentifier(k, request[k], true, { policy: 'recommended', defaultPhoneRegion: region }).reason ?? 'not usable'}`
  )
  return `none of the identifiers given can be matched: ${reasons.join('; ')}`
}

/**
 * Reads how the audit's pending removals ended and records it (forgetting the recorded identifiers
 * TikTok confirmed removed); the audit as it stands now.
 */
export async function refreshAudit(store: Store, id: number): Promise<Audit | undefined> {
  const audit = await getAudit(store.db, id)
  if (!audit || audit.finishedAt !== null) return audit
  return store.db.tx(async (db) => {
    let changed = false
    const audiences: AuditAudience[] = []
    for (const a of audit.audiences) {
      if (a.status !== 'pending') {
        audiences.push(a)
        continue
      }
      const now = await removalOutcome(db, a)
      if (now.status !== 'pending') {
        changed = true
        if (now.status === 'removed') await deleteSentIdentifiers(db, a.partitionId, a.removals)
      }
      audiences.push(now)
    }
    const finishedAt = audiences.every((a) => a.status !== 'pending') ? Date.now() : null
    if (changed || finishedAt !== null) await updateAuditAudiences(db, id, audiences, finishedAt)
    return { ...audit, audiences, finishedAt }
  })
}

/** Waits until every removal of the audit has settled, or `timeoutMs` passed; the audit then. */
export async function waitForRemovals(store: Store, id: number, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<Audit> {
  const until = Date.now() + (opts.timeoutMs ?? Infinity)
  for (;;) {
    const audit = must(await refreshAudit(store, id), `audit ${id}`)
    if (audit.finishedAt !== null || Date.now() >= until) return audit
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50))
  }
}

/** The audit's audiences with their destinations' names. */
export async function audiencesOf(store: Store, audit: Audit): Promise<ForgetAudience[]> {
  const names = new Map((await listDestinations(store.db, store.secrets)).map((d) => [d.id, d.name]))
  return audit.audiences.map((a) => ({
    destination: names.get(a.destinationId) ?? `#${a.destinationId} (deleted)`,
    audienceId: a.audienceId,
    advertiserIds: a.advertiserIds,
    status: a.status,
    ...(a.error !== undefined ? { error: a.error } : {}),
    answer: a.answer
  }))
}

/** What `forget` prints: `{"audiences":N,"removed":N,"failed":N,"audit":ID}`. */
export function summaryOf(audit: Audit): ForgetSummary {
  return {
    audiences: audit.audiences.length,
    removed: audit.audiences.filter((a) => a.status === 'removed').length,
    failed: audit.audiences.filter((a) => a.status === 'failed').length,
    audit: audit.id
  }
}
