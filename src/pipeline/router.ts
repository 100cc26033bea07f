/**
 * The router: takes accepted events from the inbox, applies each destination's audience
 * connections and mappings, and turns them into queued changes (hashed ids only) — all in one
 * transaction with marking the events routed, so an event is routed exactly once.
 */
import type { Store } from '../store/index.js'
import { recordAudiencesSeen } from '../store/sql/config.js'
import { fetchUnroutedEvents, markEventsRouted } from '../store/sql/events.js'
import { addPending, ensurePartitions } from '../store/sql/partitions.js'
import { insertChanges, type NewChange } from '../store/sql/changes.js'
import { audienceOf } from './event.js'
import { queueKeys, routeEvent } from './route-event.js'
import { redactEvent } from './redact.js'
import { storeEventSamples } from '../store/sql/event-samples.js'
import type { RoutedDestination, RoutingTable } from './routing-table.js'
import type { QualityCounters } from './quality.js'
import type { AutoConnector } from './auto-connect.js'

export interface RouterOptions {
  /** Events routed per transaction. */
  batchEvents: number
  windowMs: number
}

type Ev = Record<string, any>

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

  /** Routes one batch of inbox events; returns how many were routed (0 = inbox empty). */
  async routeBatch(): Promise<number> {
    await this.table.refresh()
    if (this.connector?.active) {
      // Look ahead (outside the routing transaction: creating TikTok audiences is a network call).
      await this.connector.prepare(await fetchUnroutedEvents(this.store.db, this.opts.batchEvents, false))
    }
    // Partitions created in the transaction are cached only once it commits (a rollback undoes them).
    const created = new Map<string, number>()
    const routed = await this.store.db.tx(async (db) => {
      created.clear()
      const events = await fetchUnroutedEvents(db, this.opts.batchEvents)
      if (events.length === 0) return 0
      const now = Date.now()
      const changes: (NewChange & { partitionKey?: string })[] = []
      const keepBody = new Set<number>()
      const samples = new Map<number, string>()
      const seen = new Map<string, { sourceId: number; key: string; name: string | null; at: number }>()

      for (const row of events) {
        let event: Ev
        try {
          event = JSON.parse(row.body) as Ev
        } catch {
          continue // cannot happen: bodies are checked before they are accepted
        }
        const audience = audienceOf(event)
        if (audience) {
          const k = `${row.source_id}|${audience.key}`
          const last = this.audienceSeenAt.get(k) ?? 0
          if (now - last > 60_000) {
            this.audienceSeenAt.set(k, now)
            seen.set(k, { sourceId: row.source_id, key: audience.key, name: audience.name, at: now })
          }
        }
        for (const routed of this.table.destinationsOf(row.source_id)) {
          const before = changes.length
          this.routeToDestination(row.id, event, audience?.key, routed, changes, now)
          for (let i = before; i < changes.length; i++) {
            if (changes[i].status === 'failed' && !keepBody.has(row.id)) {
              keepBody.add(row.id)
              samples.set(row.id, JSON.stringify(redactEvent(event)))
            }
          }
        }
      }

      // Partitions: resolve ids (cached), then insert and count per partition.
      const missing = new Map<string, number>()
      for (const c of changes) if (c.partitionKey && !this.partitionIds.has(c.partitionKey)) missing.set(c.partitionKey, c.destinationId)
      if (missing.size > 0) {
        const ids = await ensurePartitions(db, [...missing].map(([key, destinationId]) => ({ key, destinationId })))
        for (const [k, id] of ids) created.set(k, id)
      }
      const perPartition = new Map<number, { n: number; destinationId: number }>()
      for (const c of changes) {
        if (!c.partitionKey) continue
        c.partitionId = (this.partitionIds.get(c.partitionKey) ?? created.get(c.partitionKey))!
        const p = perPartition.get(c.partitionId) ?? { n: 0, destinationId: c.destinationId }
        p.n++
        perPartition.set(c.partitionId, p)
      }
      await insertChanges(db, changes)
      for (const [pid, { n, destinationId }] of perPartition) {
        const batchSize = this.table.destination(destinationId)?.destination.batchSize ?? 10000
        await addPending(db, pid, n, batchSize, now, this.opts.windowMs)
      }
      await markEventsRouted(db, events.map((e) => e.id), keepBody, now)
      await storeEventSamples(db, samples)
      if (seen.size > 0) await recordAudiencesSeen(db, [...seen.values()])
      return events.length
    })
    for (const [k, id] of created) this.partitionIds.set(k, id)
    return routed
  }

  private routeToDestination(eventId: number, event: Ev, audienceKey: string | undefined, routed: RoutedDestination, out: (NewChange & { partitionKey?: string })[], now: number): void {
    const destinationId = routed.destination.id
    const base = { eventId, destinationId, createdAt: now, batchKey: null, ids: null, payload: null, error: null, errorCode: null, partitionId: null }
    for (const o of routeEvent(event, audienceKey, routed, this.isOurs)) {
      const quality = o.ok ? (o.change.kind === 'membership' ? o.change.quality : undefined) : o.quality
      if (quality) this.quality.add(destinationId, quality)
      if (!o.ok) {
        out.push({ ...base, mappingId: o.mapping.id, action: o.action, status: 'failed', error: o.message, errorCode: o.code })
        continue
      }
      const { partitionKey, batchKey } = queueKeys(destinationId, o.change)
      const c = o.change
      out.push({
        ...base,
        mappingId: o.mapping.id,
        action: c.kind === 'create' ? 'create' : c.action,
        status: 'pending',
        batchKey,
        ids: c.kind === 'membership' ? JSON.stringify(c.ids) : null,
        payload: c.kind === 'create' ? JSON.stringify({ advertiserId: c.advertiserId, name: c.name }) : null,
        partitionKey
      })
    }
  }
}
