/**
 * The router: records accepted events and turns them into queued changes in the same
 * transaction — each destination's audience connections and mappings applied, identifiers hashed —
 * so an event is routed exactly once, and what is acknowledged is already queued. Concurrent
 * requests share one transaction (group commit, see Pipeline.ingest).
 */
import type { Store } from '../store/index.js'
import { recordAudiencesSeen } from '../store/sql/config.js'
import { insertEventRecords } from '../store/sql/events.js'
import { storeEventSamples } from '../store/sql/event-samples.js'
import { addTotals, type TotalsDelta } from '../store/sql/outcome-totals.js'
import { addPending, ensurePartitions } from '../store/sql/partitions.js'
import { insertChanges, type NewChange } from '../store/sql/changes.js'
import { insertPacks, type NewPack } from '../store/sql/queue-packs.js'
import type { AutoConnector } from './auto-connect.js'
import { audienceOf, type SegmentEvent } from './event.js'
import type { QualityCounters } from './quality.js'
import { redactEvent } from './redact.js'
import { queueKeys, routeEvents, type RouteOutcome } from './route-event.js'
import type { RoutingTable } from './routing-table.js'

export interface RouterOptions {
  windowMs: number
}

/** What one transaction adds to the outcome totals: new events per source, changes failed before queueing per destination. */
function totalsOf(items: AcceptedEvent[], ids: (number | undefined)[], changes: QueuedChange[]): TotalsDelta[] {
  const received = new Map<number, number>()
  items.forEach((item, i) => {
    if (ids[i] !== undefined) received.set(item.sourceId, (received.get(item.sourceId) ?? 0) + 1)
  })
  const failed = new Map<number, number>()
  for (const c of changes) if (c.status === 'failed') failed.set(c.destinationId, (failed.get(c.destinationId) ?? 0) + 1)
  return [
    ...[...received].map(([scopeId, n]): TotalsDelta => ({ scope: 'source', scopeId, received: n })),
    ...[...failed].map(([scopeId, n]): TotalsDelta => ({ scope: 'destination', scopeId, failed: n }))
  ]
}

/** An event accepted from a source (shape already checked). */
export interface AcceptedEvent {
  sourceId: number
  event: SegmentEvent
  receivedAt: number
}

type QueuedChange = NewChange & { partitionKey?: string; parsedIds?: (string | null)[] }
const NONE: RouteOutcome[] = []

export class Router {
  private readonly partitionIds = new Map<string, number>()
  private readonly audienceSeenAt = new Map<string, number>()
  private readonly isOurs = (names: string[]) => this.table.namesAnyDestination(names)

  constructor(
    private readonly store: Store,
    private readonly table: RoutingTable,
    private readonly quality: QualityCounters,
    private readonly opts: RouterOptions,
    private readonly connector?: AutoConnector
  ) {}

  /** Records and routes `items` in one transaction; per item, whether it was new (not a re-sent messageId). */
  async accept(items: AcceptedEvent[]): Promise<boolean[]> {
    await this.table.refresh()
    // Creating TikTok audiences is a network call: before the transaction, not inside it.
    if (this.connector?.active) await this.connector.prepare(items)
    // Routing needs no database: done before the transaction (which then only writes), for every
    // item; what the insert finds to be a re-sent messageId is dropped after.
    const routed = this.route(items)
    // Partitions created and audiences recorded in the transaction are remembered only once it
    // commits (a rollback undoes them).
    const created = new Map<string, number>()
    const seen = new Map<string, { sourceId: number; key: string; name: string | null; at: number }>()
    const isNew = await this.store.db.tx(async (db) => {
      created.clear()
      seen.clear()
      const now = Date.now()
      const ids = await insertEventRecords(
        db,
        items.map((i, k) => ({ sourceId: i.sourceId, messageId: i.event.messageId, receivedAt: i.receivedAt, type: i.event.type, name: typeof i.event.event === 'string' ? i.event.event : null, changes: routed.counts[k] })),
        now
      )
      const changes: QueuedChange[] = []
      const samples = new Map<number, string>()
      // Destination-major (each partition belongs to one destination), events in order within: every partition gets its changes in event order.
      for (const { destinationId, perItem } of routed.byDestination) {
        items.forEach((item, i) => {
          const eventId = ids[i]
          if (eventId === undefined || perItem[i].length === 0) return
          const failed = this.toQueued(eventId, perItem[i], destinationId, changes, now)
          if (failed && !samples.has(eventId)) samples.set(eventId, JSON.stringify(redactEvent(item.event)))
        })
      }
      items.forEach((item, i) => {
        if (ids[i] === undefined) return
        const audience = audienceOf(item.event)
        if (audience) this.noteAudienceSeen(item.sourceId, audience, now, seen)
      })
      await this.queue(db, changes, now, created)
      await storeEventSamples(db, samples)
      await addTotals(db, totalsOf(items, ids, changes), now)
      if (seen.size > 0) await recordAudiencesSeen(db, [...seen.values()].sort((a, b) => a.key.localeCompare(b.key)))
      return ids.map((id) => id !== undefined)
    })
    for (const [k, id] of created) this.partitionIds.set(k, id)
    for (const [k, a] of seen) this.audienceSeenAt.set(k, a.at)
    return isNew
  }

  /** Every item through every destination of its source: per destination, per item, its outcomes; per item, how many. */
  private route(items: AcceptedEvent[]): { counts: number[]; byDestination: { destinationId: number; perItem: RouteOutcome[][] }[] } {
    const counts: number[] = new Array(items.length).fill(0)
    const byDestination: { destinationId: number; perItem: RouteOutcome[][] }[] = []
    const bySource = new Map<number, number[]>()
    items.forEach((item, i) => {
      let list = bySource.get(item.sourceId)
      if (!list) bySource.set(item.sourceId, (list = []))
      list.push(i)
    })
    for (const [sourceId, indexes] of bySource) {
      const list = indexes.map((i) => ({ event: items[i].event, audienceKey: audienceOf(items[i].event)?.key }))
      for (const target of this.table.destinationsOf(sourceId)) {
        const outcomes = routeEvents(list, target, this.isOurs)
        const perItem: RouteOutcome[][] = items.map(() => NONE)
        indexes.forEach((i, k) => {
          perItem[i] = outcomes[k]
          counts[i] += outcomes[k].length
        })
        byDestination.push({ destinationId: target.destination.id, perItem })
      }
    }
    return { counts, byDestination }
  }

  /** Queues the changes as one pack per partition, counts them on their partitions (in id order: no deadlock between processes), records failures. */
  private async queue(db: Store['db'], changes: QueuedChange[], now: number, created: Map<string, number>): Promise<void> {
    const missing = new Map<string, number>()
    for (const c of changes) if (c.partitionKey && !this.partitionIds.has(c.partitionKey)) missing.set(c.partitionKey, c.destinationId)
    if (missing.size > 0) {
      const ids = await ensurePartitions(db, [...missing].map(([key, destinationId]) => ({ key, destinationId })))
      for (const [k, id] of ids) created.set(k, id)
    }
    const packs = new Map<number, NewPack>()
    const failed: NewChange[] = []
    for (const c of changes) {
      if (!c.partitionKey) {
        failed.push(c)
        continue
      }
      const partitionId = (this.partitionIds.get(c.partitionKey) ?? created.get(c.partitionKey))!
      let pack = packs.get(partitionId)
      if (!pack) packs.set(partitionId, (pack = { partitionId, destinationId: c.destinationId, changes: [], createdAt: now }))
      pack.changes.push({ eventId: c.eventId, mappingId: c.mappingId, batchKey: c.batchKey!, ids: c.parsedIds ?? null, payload: c.payload })
    }
    await insertPacks(db, [...packs.values()])
    await insertChanges(db, failed)
    for (const [pid, pack] of [...packs].sort((a, b) => a[0] - b[0])) {
      const batchSize = this.table.destination(pack.destinationId)?.destination.batchSize ?? 10000
      await addPending(db, pid, pack.changes.length, batchSize, now, this.opts.windowMs)
    }
  }

  /** Audiences seen in traffic are recorded, at most once a minute per audience (remembered once committed). */
  private noteAudienceSeen(sourceId: number, audience: { key: string; name: string | null }, now: number, seen: Map<string, { sourceId: number; key: string; name: string | null; at: number }>): void {
    const k = `${sourceId}|${audience.key}`
    if (seen.has(k) || now - (this.audienceSeenAt.get(k) ?? 0) <= 60_000) return
    seen.set(k, { sourceId, key: audience.key, name: audience.name, at: now })
  }

  /** Turns one event's outcomes for one destination into queue rows; true when any failed. */
  private toQueued(eventId: number, outcomes: RouteOutcome[], destinationId: number, out: QueuedChange[], now: number): boolean {
    let failed = false
    for (const o of outcomes) {
      if (!o.ok) {
        if (o.quality) this.quality.add(destinationId, o.quality)
        failed = true
        out.push({ eventId, destinationId, mappingId: o.mapping.id, partitionId: null, action: o.action, batchKey: null, ids: null, payload: null, status: 'failed', error: o.message, errorCode: o.code, createdAt: now })
        continue
      }
      const c = o.change
      const { partitionKey, batchKey } = queueKeys(destinationId, c)
      if (c.kind === 'membership') {
        this.quality.add(destinationId, c.quality)
        out.push({ eventId, destinationId, mappingId: o.mapping.id, partitionId: null, action: c.action, batchKey, ids: null, parsedIds: c.ids, payload: null, status: 'pending', error: null, errorCode: null, createdAt: now, partitionKey })
      } else {
        out.push({ eventId, destinationId, mappingId: o.mapping.id, partitionId: null, action: 'create', batchKey, ids: null, payload: JSON.stringify({ advertiserId: c.advertiserId, name: c.name }), status: 'pending', error: null, errorCode: null, createdAt: now, partitionKey })
      }
    }
    return failed
  }
}
