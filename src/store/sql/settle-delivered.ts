/**
 * Settles a request TikTok accepted, in one transaction: logged, its changes (and those they
 * superseded) settled and counted, the dead letters it makes obsolete resolved, the partition's
 * retry state cleared and its lease extended.
 */
import type { Db } from '../db.js'
import { actionOf, CREATE_KEY, identityOf, type OpenChange } from '../queue-format.js'
import { resolveFailed } from './changes.js'
import { addTotals } from './outcome-totals.js'
import { releaseAfterSuccess } from './partitions.js'
import { settlePositions } from './queue-packs.js'
import { insertRequest, type RequestRecord } from './requests.js'

interface Spec {
  partition: { id: number; owner: string }
  destinationId: number
  request: RequestRecord
  send: OpenChange[]
  superseded: OpenChange[]
  /** The partition's unresolved dead letters by identity (failedIdentities); those resolved are taken out. */
  deadLetters: Map<string, number[]>
  now: number
  leaseMs: number
}

/** False when the partition's lease was lost meanwhile (another worker has it now): stop draining. */
export async function settleDelivered(db: Db, spec: Spec): Promise<boolean> {
  const { partition, destinationId, now } = spec
  return db.tx(async (t) => {
    const ref = await insertRequest(t, { ...spec.request, outcome: 'delivered' })
    const delivered = (await settlePositions(t, spec.send)).length
    const superseded = (await settlePositions(t, spec.superseded)).length
    await addTotals(t, [{ scope: 'destination', scopeId: destinationId, delivered, superseded }], now)
    if (spec.deadLetters.size > 0) await resolveDeadLetters(t, spec.deadLetters, spec.send, ref)
    // The partition's row last, in one statement: ingestion's commits update it too, and wait for
    // its lock until this transaction commits.
    return releaseAfterSuccess(t, partition.id, partition.owner, now, now + spec.leaseMs, delivered + superseded)
  })
}

/** Dead letters of the partition whose identifiers a delivered change just set again: replay would undo that. */
async function resolveDeadLetters(db: Db, deadLetters: Map<string, number[]>, sent: OpenChange[], requestRef: number): Promise<void> {
  for (const c of sent) {
    if (c.batchKey === CREATE_KEY) continue
    const identity = identityOf(c.batchKey, c.serializedIds)
    const ids = deadLetters.get(identity)
    if (!ids) continue
    deadLetters.delete(identity)
    await resolveFailed(db, ids, `a later ${actionOf(c.batchKey)} of the same identifiers was delivered (request #${requestRef})`)
  }
}
