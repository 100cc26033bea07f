/**
 * Settles a request that failed with a retryable error, in one transaction: logged, its changes
 * counted as retried, and the partition deferred until `retryAt` (head of line: its later changes
 * wait too) with the lease given back. The changes stay queued.
 */
import type { Db } from '../db.js'
import { addTotals } from './outcome-totals.js'
import { deferPartition } from './partitions.js'
import { insertRequest, type RequestRecord } from './requests.js'

interface Spec {
  partition: { id: number; owner: string }
  destinationId: number
  request: RequestRecord
  /** How many changes the request carried. */
  sent: number
  now: number
  retryAt: number
  attempts: number
  firstFailureAt: number
  reason: string
  errorCode: string
}

export async function settleRetry(db: Db, spec: Spec): Promise<void> {
  const { partition } = spec
  await db.tx(async (t) => {
    await insertRequest(t, { ...spec.request, outcome: 'retry' })
    await addTotals(t, [{ scope: 'destination', scopeId: spec.destinationId, retried: spec.sent }], spec.now)
    await deferPartition(t, partition.id, partition.owner, spec.retryAt, spec.attempts, spec.firstFailureAt, spec.reason, spec.errorCode)
  })
}
