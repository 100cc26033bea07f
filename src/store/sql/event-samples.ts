/** Failure samples: the (redacted) event kept for an event that failed, as Event Delivery shows it. */
import type { Db } from '../db.js'

export async function storeEventSamples(db: Db, samples: Map<number, string>): Promise<void> {
  for (const [id, body] of samples) await db.run('UPDATE events SET body = $2 WHERE id = $1', [id, body])
}
