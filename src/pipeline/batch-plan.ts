/**
 * Which queued changes of one partition go into the next TikTok request.
 *
 * - A change superseded by a later change of the same identity (same id_schema and hashed ids) is
 *   not sent: the later one carries the last state (enter+exit inside one window collapse).
 * - The request takes the changes of the first survivor's kind (action + id_schema) in order, up
 *   to the batch size, never mixing kinds.
 * - A change of that kind that shares an identifier with an earlier change of another kind is not
 *   allowed to overtake it: the scan stops there, so per-identifier order is kept.
 */
import type { PendingChange } from '../store/sql/changes.js'

export interface QueuedChange extends PendingChange {
  parsedIds: (string | null)[] | null
}

export interface BatchPlan {
  /** The kind shared by every change of the request (`add|EMAIL_SHA256,PHONE_SHA256`, `create`). */
  batchKey: string
  send: QueuedChange[]
  /** Changes settled together with the request, since a change in `send` replaces them. */
  superseded: QueuedChange[]
}

export function parseQueued(rows: PendingChange[]): QueuedChange[] {
  return rows.map((r) => ({ ...r, parsedIds: r.ids ? (JSON.parse(r.ids) as (string | null)[]) : null }))
}

/** Same id_schema and same hashed ids: the stored ids JSON already is a canonical key. */
function identity(c: QueuedChange): string {
  const schema = c.batch_key ? c.batch_key.slice(c.batch_key.indexOf('|') + 1) : ''
  return `${schema}|${c.ids ?? c.id}`
}

export function planBatch(rows: QueuedChange[], maxRows: number): BatchPlan {
  if (rows.length === 0) throw new Error('planBatch needs at least one change')
  if (rows[0].action === 'create') return { batchKey: 'create', send: [rows[0]], superseded: [] }

  const lastIndex = new Map<string, number>()
  const identities = rows.map(identity)
  identities.forEach((id, i) => {
    if (rows[i].action !== 'create') lastIndex.set(id, i)
  })
  const isSurvivor = (i: number) => rows[i].action === 'create' || lastIndex.get(identities[i]) === i

  let batchKey: string | undefined
  const send: QueuedChange[] = []
  const sendIdentities = new Set<string>()
  const blocked = new Set<string>()
  for (let i = 0; i < rows.length && send.length < maxRows; i++) {
    if (!isSurvivor(i)) continue
    const row = rows[i]
    if (row.action === 'create') break // audience creations keep their place in the order
    batchKey ??= row.batch_key ?? ''
    const ids = row.parsedIds ?? []
    if (row.batch_key === batchKey) {
      if (ids.some((h) => h !== null && blocked.has(h))) break
      send.push(row)
      sendIdentities.add(identities[i])
    } else {
      for (const h of ids) if (h !== null) blocked.add(h)
    }
  }
  const superseded: QueuedChange[] = []
  for (let i = 0; i < rows.length; i++) {
    if (!isSurvivor(i) && sendIdentities.has(identities[i])) superseded.push(rows[i])
  }
  return { batchKey: batchKey!, send, superseded }
}
