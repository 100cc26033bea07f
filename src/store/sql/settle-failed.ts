/**
 * Settles a request whose changes failed (a permanent error, or retries given up), in one
 * transaction: logged, its changes (and those they superseded) taken out of the queue into dead
 * letters with the reason, counted, and the partition's retry state cleared with its lease
 * extended: the next request of the partition follows.
 */
import type { Db } from '../db.js'
import { actionOf, CREATE_KEY, type OpenChange } from '../queue-format.js'
import { insertChanges, type NewChange } from './changes.js'
import { addTotals } from './outcome-totals.js'
import { releaseAfterSuccess } from './partitions.js'
import { settlePositions } from './queue-packs.js'
import { insertRequest, type RequestRecord } from './requests.js'

interface Spec {
  partition: { id: number; owner: string }
  destinationId: number
  request: RequestRecord
  /** The request's changes and those they superseded. */
  changes: OpenChange[]
  reason: string
  errorCode: string
  /** Attempts recorded on the dead letters. */
  attempts: number
  now: number
  leaseMs: number
}

/** False when the partition's lease was lost meanwhile (another worker has it now): stop draining. */
export async function settleFailed(db: Db, spec: Spec): Promise<boolean> {
  const { partition, destinationId, now } = spec
  return db.tx(async (t) => {
    const ref = await insertRequest(t, { ...spec.request, outcome: 'failed' })
    const settled = await settlePositions(t, spec.changes)
    await insertChanges(t, deadLetters(spec, settled, ref))
    await addTotals(t, [{ scope: 'destination', scopeId: destinationId, failed: settled.length }], now)
    // The partition's row last, in one statement (see settleDelivered).
    return releaseAfterSuccess(t, partition.id, partition.owner, now, now + spec.leaseMs, settled.length)
  })
}

function deadLetters(spec: Spec, settled: OpenChange[], requestRef: number): NewChange[] {
  return settled.map((c) => ({
    eventId: c.eventId,
    destinationId: spec.destinationId,
    mappingId: c.mappingId,
    partitionId: spec.partition.id,
    action: actionOf(c.batchKey),
    batchKey: c.batchKey,
    ids: c.batchKey === CREATE_KEY ? null : JSON.stringify(c.ids),
    payload: c.payload,
    status: 'failed',
    error: spec.reason,
    errorCode: spec.errorCode,
    createdAt: c.createdAt,
    requestRef,
    doneAt: spec.now,
    attempts: spec.attempts
  }))
}
