/**
 * Settles a request TikTok refused for its credentials, in one transaction: logged, the destination
 * paused with the reason, the lease given back. The changes stay queued and resume once it is
 * active again.
 */
import type { Db } from '../db.js'
import { setDestinationStatus } from './config.js'
import { releasePartition } from './partitions.js'
import { insertRequest, type RequestRecord } from './requests.js'

interface Spec {
  partition: { id: number; owner: string }
  destinationId: number
  request: RequestRecord
  reason: string
}

export async function settlePaused(db: Db, spec: Spec): Promise<void> {
  await db.tx(async (t) => {
    await insertRequest(t, { ...spec.request, outcome: 'paused' })
    await setDestinationStatus(t, spec.destinationId, 'paused', `${spec.reason}; queued changes are kept and resume afterwards.`)
    await releasePartition(t, spec.partition.id, spec.partition.owner)
  })
}
