/**
 * Migration 6, data step (frozen: a copy of the code as version 6 ran it, never an import of live
 * code): every pending change row moves into a pack of its partition, order kept, 5,000 per pack.
 * Bodies are written as version 6 wrote them, JSON `{"k": [batch keys], "r": [[eventId, mappingId,
 * keyIndex, ...ids or payload]]}`; migration 7 turns them into lines.
 */
import type { Db } from '../db.js'

interface V5ChangeRow {
  id: number
  event_id: number | null
  destination_id: number
  mapping_id: number | null
  batch_key: string | null
  ids: string | null
  payload: string | null
  created_at: number
}

/** A version-6 pack body, and the range of events it holds. */
function v6PackBody(rows: V5ChangeRow[]): { body: string; firstEventId: number | null; lastEventId: number | null } {
  const keys: string[] = []
  const keyIndex = new Map<string, number>()
  const entries: (number | string | null)[][] = []
  let first: number | null = null
  let last: number | null = null
  for (const r of rows) {
    const eventId = r.event_id === null ? null : Number(r.event_id)
    const batchKey = r.batch_key ?? 'create'
    let k = keyIndex.get(batchKey)
    if (k === undefined) {
      k = keys.length
      keys.push(batchKey)
      keyIndex.set(batchKey, k)
    }
    const entry: (number | string | null)[] = [eventId, r.mapping_id === null ? null : Number(r.mapping_id), k]
    if (batchKey === 'create') entry.push(r.payload)
    else if (r.ids) entry.push(...(JSON.parse(r.ids) as (string | null)[]))
    entries.push(entry)
    if (eventId !== null) {
      if (first === null || eventId < first) first = eventId
      if (last === null || eventId > last) last = eventId
    }
  }
  return { body: JSON.stringify({ k: keys, r: entries }), firstEventId: first, lastEventId: last }
}

export async function movePendingChangesIntoPacks(db: Db): Promise<void> {
  const partitions = await db.all<{ p: number }>(`SELECT DISTINCT partition_id AS p FROM changes WHERE status = 'pending' AND partition_id IS NOT NULL`)
  for (const { p } of partitions) {
    let after = 0
    for (;;) {
      const rows = await db.all<V5ChangeRow>(
        `SELECT id, event_id, destination_id, mapping_id, batch_key, ids, payload, created_at FROM changes
         WHERE partition_id = $1 AND status = 'pending' AND id > $2 ORDER BY id LIMIT 5000`,
        [p, after]
      )
      if (rows.length === 0) break
      after = Number(rows.at(-1)?.id)
      const { body, firstEventId, lastEventId } = v6PackBody(rows)
      await db.run(
        `INSERT INTO queue_packs (partition_id, destination_id, first_event_id, last_event_id, n, open, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [Number(p), Number(rows[0]?.destination_id), firstEventId, lastEventId, rows.length, rows.length, body, Number(rows[0]?.created_at)]
      )
    }
  }
  await db.run(`DELETE FROM changes WHERE status = 'pending'`)
  // Only now: the reads above page through the pending changes of each partition by this index
  // (without it, every page scans the whole table, settled rows included).
  await db.exec('DROP INDEX changes_queue')
}
