/**
 * The open changes of one leased partition, read pack by pack and kept decoded across its requests
 * (only the lease holder settles them), in queue order: pack id, then position.
 *
 * Packs are read after the last one read, and also below it: on PostgreSQL a transaction may
 * commit after one that took a later pack id (ids are handed out at insert, commits of several
 * processes overlap), so a pack can become visible after later ones were read. Such a pack was
 * concurrent with them — no order between them to keep — but it precedes every pack committed
 * after it, so it is merged in by id before anything queued later is sent.
 *
 * Which changes are in flight or settled is a mark on the change itself, not a set of ids: the
 * queue holds twice a batch (20,000 changes) and every request marks and drops 10,000 of them.
 */
import type { Db } from '../store/db.js'
import type { OpenChange } from '../store/queue-format.js'
import { readChangesBelow, readOpenChanges } from '../store/sql/queue-packs.js'
import { toQueued, type QueuedChange } from './batch-plan.js'

export class OpenQueue {
  private rows: QueuedChange[] = []
  /** How many of `rows` were sent in a request whose answer is awaited: still open, not to be planned again. */
  private inFlight = 0
  private lastPack = 0
  private nextId = 1

  constructor(
    private readonly db: Db,
    private readonly partitionId: number
  ) {}

  /** At least `window` open changes in order, not in flight, when the queue holds that many. */
  async read(window: number): Promise<QueuedChange[]> {
    const free = this.rows.length - this.inFlight
    if (free >= window) return this.free()
    // Rows in flight stay held: their packs are still open and must not come back as late packs.
    const late = this.lastPack > 0 ? await readChangesBelow(this.db, this.partitionId, this.lastPack, this.packsHeld()) : []
    const next = await readOpenChanges(this.db, this.partitionId, this.lastPack, window - free)
    this.add(late)
    this.add(next.changes)
    this.lastPack = next.lastPack
    // Late packs go before everything read after them (ids order the queue).
    if (late.length > 0) this.rows.sort((a, b) => a.pack - b.pack || a.at - b.at)
    return this.free()
  }

  /** Marks rows as sent: `read` leaves them out until they are settled. */
  hold(...groups: QueuedChange[][]): void {
    for (const g of groups) {
      for (const c of g) {
        if (c.state !== 0) continue
        c.state = 1
        this.inFlight++
      }
    }
  }

  /** Drops settled rows (sent or not). */
  settled(...groups: QueuedChange[][]): void {
    for (const g of groups) {
      for (const c of g) {
        if (c.state === 1) this.inFlight--
        c.state = 2
      }
    }
    this.rows = this.rows.filter((c) => c.state !== 2)
  }

  private free(): QueuedChange[] {
    return this.inFlight === 0 ? this.rows : this.rows.filter((c) => c.state === 0)
  }

  /** The packs the queue holds rows of (rows are in pack order: a pack's rows are adjacent). */
  private packsHeld(): Set<number> {
    const held = new Set<number>()
    let last = -1
    for (const c of this.rows) {
      if (c.pack !== last) held.add((last = c.pack))
    }
    return held
  }

  private add(changes: OpenChange[]): void {
    for (const c of changes) this.rows.push(toQueued(c, this.nextId++))
  }
}
