/** Failure samples: the (redacted) event kept for an event that failed, as Event Delivery shows it. */
import { chunks, placeholders, type Db } from '../db.js'

export async function storeEventSamples(db: Db, samples: Map<number, string>): Promise<void> {
  for (const part of chunks([...samples], 200)) {
    // One statement per chunk: `CASE id WHEN $1 THEN $2 …` works on SQLite and PostgreSQL alike.
    const params: (number | string)[] = []
    const whens = part.map(([id, body]) => `WHEN $${params.push(id)} THEN $${params.push(body)}`).join(' ')
    const start = params.length + 1
    await db.run(`UPDATE events SET body = CASE id ${whens} END WHERE id IN (${placeholders(part.length, start)})`, [...params, ...part.map(([id]) => id)])
  }
}
