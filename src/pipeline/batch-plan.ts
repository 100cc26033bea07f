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
import { CREATE_KEY, identityScope, type BatchKey, type OpenChange } from '../store/queue-format.js'
import { at, first } from '../util/array.js'
import { must } from '../util/must.js'

export interface QueuedChange extends OpenChange {
  /** Unique among the changes read for one partition. */
  id: number
  /** The reader's mark (OpenQueue): 0 open, 1 sent and awaiting TikTok's answer, 2 settled. */
  state: 0 | 1 | 2
}

export interface BatchPlan {
  /** The kind shared by every change of the request (action and id_schema, or an audience creation). */
  batchKey: BatchKey
  send: QueuedChange[]
  /** Changes settled together with the request, since a change in `send` replaces them. */
  superseded: QueuedChange[]
}

/** An open change as the queue's reader keeps it: numbered, open. */
export function toQueued(c: OpenChange, id: number): QueuedChange {
  // Set one by one, in the same order for every change: one hidden class for all of them.
  const q = c as QueuedChange
  q.id = id
  q.state = 0
  return q
}

/**
 * Values by identity (same id_schema, same hashed ids: identityOf), looked up by its scope, then by
 * the change's serialised ids — without writing the identity out for every change: planBatch sees each
 * change about twice, 20,000 per request. Audience creations have no identity: never found.
 */
class ByIdentity<T> {
  private readonly byScope = new Map<string, Map<string, T>>()
  private readonly forKey = new Map<BatchKey, Map<string, T>>()
  /** The last batch key looked up and its map: changes come in runs of one kind. */
  private lastKey = CREATE_KEY
  private last: Map<string, T> | undefined

  private of(batchKey: BatchKey): Map<string, T> {
    if (batchKey === this.lastKey && this.last) return this.last
    let m = this.forKey.get(batchKey)
    if (!m) {
      const scope = identityScope(batchKey)
      m = this.byScope.get(scope)
      if (!m) this.byScope.set(scope, (m = new Map()))
      this.forKey.set(batchKey, m)
    }
    this.lastKey = batchKey
    this.last = m
    return m
  }

  set(c: QueuedChange, value: T): void {
    if (c.batchKey !== CREATE_KEY) this.of(c.batchKey).set(c.serializedIds, value)
  }

  get(c: QueuedChange): T | undefined {
    return c.batchKey !== CREATE_KEY ? this.of(c.batchKey).get(c.serializedIds) : undefined
  }
}

export function planBatch(rows: QueuedChange[], maxRows: number): BatchPlan {
  if (rows.length === 0) throw new Error('planBatch needs at least one change')
  const head = first(rows)
  if (head.batchKey === CREATE_KEY) return { batchKey: CREATE_KEY, send: [head], superseded: [] }

  // A change supersedes an earlier one only up to the next audience creation: what follows a
  // creation is planned after it, so superseding across it would leave nothing to send now.
  const createAt = rows.findIndex((row) => row.batchKey === CREATE_KEY)
  const lastIndex = new ByIdentity<number>()
  rows.forEach((row, i) => {
    if (createAt === -1 || i < createAt) lastIndex.set(row, i)
  })
  const isSurvivor = (i: number) => {
    const row = at(rows, i)
    return row.batchKey !== CREATE_KEY ? lastIndex.get(row) === i : true
  }

  let batchKey: BatchKey | undefined
  const send: QueuedChange[] = []
  const blocked = new Set<string>()
  let superseded = 0
  for (let i = 0; i < rows.length && send.length < maxRows; i++) {
    const row = at(rows, i)
    if (!isSurvivor(i)) {
      superseded++
      continue
    }
    if (row.batchKey === CREATE_KEY) break // audience creations keep their place in the order
    batchKey ??= row.batchKey
    // Ids are cut out of the serialised ones only where another kind came first (usually never).
    if (row.batchKey === batchKey) {
      if (blocked.size > 0 && (row.ids ?? []).some((h) => h !== null && blocked.has(h))) break
      send.push(row)
    } else {
      for (const h of row.ids ?? []) if (h !== null) blocked.add(h)
    }
  }
  const out: QueuedChange[] = []
  if (superseded > 0) {
    // Which identities the request sends: only needed when something was superseded (seldom).
    const sendIdentities = new ByIdentity<true>()
    for (const c of send) sendIdentities.set(c, true)
    rows.forEach((row, i) => {
      if (!isSurvivor(i) && sendIdentities.get(row)) out.push(row)
    })
  }
  // rows[0] is not a creation, and the first change before any creation is a survivor: it set batchKey.
  return { batchKey: must(batchKey, 'the batch key of the first change'), send, superseded: out }
}
