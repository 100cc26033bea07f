/**
 * The router: takes accepted events from the inbox, applies each destination's audience
 * connections and mappings, and turns them into queued changes (hashed ids only) — all in one
 * transaction with marking the events routed, so an event is routed exactly once.
 */
import { PayloadValidationError } from '../destination/errors.js'
import { toChange } from '../destination/changes.js'
import type { Store } from '../store/index.js'
import { recordAudiencesSeen } from '../store/sql/config.js'
import { fetchUnroutedEvents, markEventsRouted } from '../store/sql/events.js'
import { addPending, ensurePartitions } from '../store/sql/partitions.js'
import { insertChanges, type NewChange } from '../store/sql/changes.js'
import { audienceOf } from './event.js'
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
    return this.store.db.tx(async (db) => {
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
        for (const [k, id] of ids) this.partitionIds.set(k, id)
      }
      const perPartition = new Map<number, { n: number; destinationId: number }>()
      for (const c of changes) {
        if (!c.partitionKey) continue
        c.partitionId = this.partitionIds.get(c.partitionKey)!
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
  }

  /**
   * Segment's `integrations` object: `{"<name>": false}` keeps an event from that destination, and
   * `All: false` limits it to the destinations named — when it names any of ours at all (Engage's
   * own `{"All": false, "TikTok Audiences": true}` names Segment's catalogue entry, not ours).
   */
  private addressedTo(integrations: unknown, name: string): boolean {
    if (!integrations || typeof integrations !== 'object') return true
    const flags = integrations as Record<string, unknown>
    if (flags[name] === false) return false
    if (flags.All === false && !flags[name]) return !this.table.namesAnyDestination(Object.keys(flags))
    return true
  }

  private routeToDestination(eventId: number, event: Ev, audienceKey: string | undefined, routed: RoutedDestination, out: (NewChange & { partitionKey?: string })[], now: number): void {
    const dest = routed.destination
    if (!dest.enabled) return
    if (!this.addressedTo(event.integrations, dest.name)) return
    const connection = audienceKey ? routed.connections.get(audienceKey) : undefined
    let mapped = event
    if (connection) {
      // Segment's side-panel toggles: the connection decides which calls reach this destination.
      if (event.type === 'track' && !connection.sendTrack) return
      if (event.type === 'identify' && !connection.sendIdentify) return
      mapped = stampPersonas(event, connection.externalAudienceId, connection.advertiserId)
    }
    const base = { eventId, destinationId: dest.id, createdAt: now, batchKey: null, ids: null, payload: null, error: null, errorCode: null, partitionId: null }
    const fail = (mappingId: number, action: string, errorCode: string, error: string) =>
      out.push({ ...base, mappingId, action, status: 'failed', error, errorCode })

    for (const m of routed.mappings) {
      if (!m.compiled) {
        fail(m.id, 'invalid', 'INVALID_MAPPING', m.error ?? 'invalid mapping')
        continue
      }
      const compiled = m.compiled
      if (!compiled.matches(mapped)) continue
      if (!dest.accessToken) {
        fail(m.id, compiled.action.key, 'NO_ACCESS_TOKEN', `Destination "${dest.name}" has no TikTok access token: connect TikTok (OAuth) or set accessToken`)
        continue
      }
      let payload
      try {
        payload = compiled.map(mapped)
      } catch (err) {
        if (!(err instanceof PayloadValidationError)) throw err
        fail(m.id, compiled.action.key, err.code, err.message)
        continue
      }
      const change = toChange(compiled, payload, {
        event: mapped,
        settings: {
          mode: dest.mode,
          advertiserIds: dest.advertiserIds,
          normalization: dest.normalization,
          defaultPhoneRegion: dest.defaultPhoneRegion ?? undefined
        },
        audienceSettings: mapped.context?.personas?.audience_settings
      })
      if (change.kind !== 'create' && change.quality) this.quality.add(dest.id, change.quality)
      if (change.kind === 'error') {
        fail(m.id, compiled.action.key, change.code, change.message)
        continue
      }
      if (change.kind === 'create') {
        out.push({
          ...base,
          mappingId: m.id,
          action: 'create',
          status: 'pending',
          batchKey: 'create',
          payload: JSON.stringify({ advertiserId: change.advertiserId, name: change.name }),
          partitionKey: `${dest.id}|create|${change.advertiserId}`
        })
        continue
      }
      out.push({
        ...base,
        mappingId: m.id,
        action: change.action,
        status: 'pending',
        batchKey: `${change.action}|${change.idSchema.join(',')}`,
        ids: JSON.stringify(change.ids),
        partitionKey: `${dest.id}|${change.advertiserIds.join(',')}|${change.audienceId}`
      })
    }
  }
}

/** What Segment's platform does for a connected audience: stamp its TikTok id and settings. */
function stampPersonas(event: Ev, externalAudienceId: string | null, advertiserId: string | null): Ev {
  const personas = { ...(event.context?.personas ?? {}) }
  if (externalAudienceId) personas.external_audience_id = externalAudienceId
  if (advertiserId) personas.audience_settings = { ...(personas.audience_settings ?? {}), advertiserId }
  return { ...event, context: { ...(event.context ?? {}), personas } }
}
