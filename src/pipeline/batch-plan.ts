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
import { identityOfTail, type OpenChange } from '../store/sql/queue-packs.js'

export interface QueuedChange extends OpenChange {
  /** Unique among the changes read for one partition. */
  id: number
  /** Same id_schema and same hashed ids: same identity (an audience creation is its own). */
  identity: string
}

export interface BatchPlan {
  /** The kind shared by every change of the request (`add|EMAIL_SHA256,PHONE_SHA256`, `create`). */
  batchKey: string
  send: QueuedChange[]
  /** Changes settled together with the request, since a change in `send` replaces them. */
  superseded: QueuedChange[]
}

/** What `planBatch` needs of an open change: an id and its identity, computed once. */
export function toQueued(c: OpenChange, id: number): QueuedChange {
  return Object.assign(c, { id, identity: c.ids ? identityOfTail(c.batchKey, c.tail) : `create:${c.pack}:${c.at}` })
}

export function planBatch(rows: QueuedChange[], maxRows: number): BatchPlan {
  if (rows.length === 0) throw new Error('planBatch needs at least one change')
  if (rows[0].batchKey === 'create') return { batchKey: 'create', send: [rows[0]], superseded: [] }

  const lastIndex = new Map<string, number>()
  for (let i = 0; i < rows.length; i++) lastIndex.set(rows[i].identity, i)
  const isSurvivor = (i: number) => lastIndex.get(rows[i].identity) === i

  let batchKey: string | undefined
  const send: QueuedChange[] = []
  const sendIdentities = new Set<string>()
  const blocked = new Set<string>()
  let superseded = 0
  for (let i = 0; i < rows.length && send.length < maxRows; i++) {
    const row = rows[i]
    if (!isSurvivor(i)) {
      superseded++
      continue
    }
    if (row.batchKey === 'create') break // audience creations keep their place in the order
    batchKey ??= row.batchKey
    const ids = row.ids ?? []
    if (row.batchKey === batchKey) {
      if (blocked.size > 0 && ids.some((h) => h !== null && blocked.has(h))) break
      send.push(row)
      sendIdentities.add(row.identity)
    } else {
      for (const h of ids) if (h !== null) blocked.add(h)
    }
  }
  const out: QueuedChange[] = []
  if (superseded > 0) {
    for (let i = 0; i < rows.length; i++) if (!isSurvivor(i) && sendIdentities.has(rows[i].identity)) out.push(rows[i])
  }
  return { batchKey: batchKey!, send, superseded: out }
}
