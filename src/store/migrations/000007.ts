/**
 * Migration 7 (frozen: a copy of the code as version 7 ran it, never an import of live code): pack
 * bodies become lines — the batch keys as a JSON array on the first line, then a line per change,
 * `eventId,mappingId,keyIndex` and, after a comma, its tail: the JSON entry's elements after the key
 * index as JSON text (`"h1",null` for a membership change, the payload as a JSON string for a
 * creation). Read back by cutting each line at three commas instead of parsing the body as JSON.
 */
import type { Db } from '../db.js'

export async function packBodiesAsLines(db: Db): Promise<void> {
  let after = 0
  for (;;) {
    const rows = await db.all<{ id: number; body: string }>(`SELECT id, body FROM queue_packs WHERE id > $1 ORDER BY id LIMIT 200`, [after])
    if (rows.length === 0) return
    after = Number(rows.at(-1)?.id)
    for (const r of rows) {
      if (!r.body.startsWith('{')) continue
      const { k, r: entries } = JSON.parse(r.body) as { k: string[]; r: (number | string | null)[][] }
      const lines = entries.map((e) => {
        const tail = JSON.stringify(e.slice(3)).slice(1, -1)
        return `${e[0]},${e[1]},${e[2]}${tail === '' ? '' : ',' + tail}`
      })
      await db.run('UPDATE queue_packs SET body = $2 WHERE id = $1', [r.id, `${JSON.stringify(k)}\n${lines.join('\n')}`])
    }
  }
}
