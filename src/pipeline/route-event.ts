/**
 * What one event becomes for one destination — the routing decision without the database:
 * Segment's `integrations` filter, whether an audience's events are this destination's at all
 * (README "Which destinations an event reaches"), the audience connection's toggles and personas stamp, then per
 * enabled mapping: trigger, mapping-kit, payload validation, identifiers, TikTok change. The router
 * queues the outcomes; `report` (dry run) counts them.
 */
import type { Change, CreateAudienceChange, MembershipChange } from '../destination/changes.js'
import { toChange } from '../destination/changes.js'
import { PayloadValidationError } from '../destination/errors.js'
import type { IdentifierReport } from '../destination/identifiers.js'
import type { HashedPerson } from '../destination/person.js'
import { consentWithdrawn, personOfEvent } from './consent.js'
import type { Connection, Destination } from '../store/model.js'
import { explainRouteError } from './explain.js'
import { stampPersonas } from './personas.js'
import type { RoutedMapping } from './routing-table.js'
import { CREATE_KEY, createPartitionKey, encodeBatchKey, membershipPartitionKey, type BatchKey, type PartitionKey } from '../store/queue-format.js'
import { at, first } from '../util/array.js'
import type { LooseEvent } from '../destination/types.js'

export interface RouteTarget {
  destination: Pick<
    Destination,
    'name' | 'enabled' | 'mode' | 'accessToken' | 'advertiserIds' | 'normalization' | 'defaultPhoneRegion' | 'consentCategory' | 'rememberMembers'
  >
  mappings: RoutedMapping[]
  /** `targets`: every advertiser of the connection (fan-out, SPEC §5.7); absent or one: no fan-out. */
  connections: Map<string, RouteConnection>
  /** Connects audiences by itself (RoutedDestination.autoConnects): every audience's events are its. */
  autoConnects: boolean
}

/**
 * `fanned`: the copy of the outcome before it for a further advertiser of the connection (fan-out):
 * same event, mapping and identifiers, so their quality is counted once, with the first.
 */
export type RouteOutcome =
  | { ok: true; mapping: RoutedMapping; action: string; change: MembershipChange | CreateAudienceChange; fanned?: true }
  | { ok: false; mapping: RoutedMapping; action: string; code: string; message: string; quality?: IdentifierReport; fanned?: true }

/** What routing reads of an audience connection. */
export type RouteConnection = Pick<Connection, 'sendTrack' | 'sendIdentify' | 'externalAudienceId' | 'advertiserId'> & Partial<Pick<Connection, 'targets'>>

/**
 * Multi-advertiser fan-out (SPEC §5.7): a change made for a connection's first advertiser and its
 * TikTok audience is made for each further advertiser too, to that advertiser's own audience — its
 * own partition (queueKeys), so each advertiser's deliveries are batched, ordered and retried on their
 * own. A change a mapping aimed elsewhere is left alone. An advertiser whose audience could not be
 * created fails here with the reason (nothing is dropped silently); the others are unaffected.
 */
function fanOut(o: RouteOutcome, connection: RouteConnection | undefined, audienceKey: string | undefined): RouteOutcome[] {
  const targets = connection?.targets
  if (!o.ok || !targets || targets.length < 2 || o.change.kind !== 'membership') return []
  const c = o.change
  const lead = at(targets, 0)
  if (c.audienceId !== lead.externalAudienceId || c.advertiserIds.length !== 1 || c.advertiserIds[0] !== lead.advertiserId) return []
  return targets.slice(1).map((t): RouteOutcome => {
    if (t.externalAudienceId)
      return {
        ok: true,
        mapping: o.mapping,
        action: o.action,
        change: { ...c, advertiserIds: [t.advertiserId], audienceId: t.externalAudienceId },
        fanned: true
      }
    const why = t.error ? `: ${t.error}` : ' yet'
    const message = `advertiser ${t.advertiserId} has no TikTok audience for audience "${audienceKey}"${why}; save the connection again (console, PUT /api/destinations/{id}/audiences/{key} or the config file) to retry creating it`
    return { ok: false, mapping: o.mapping, action: o.action, code: 'AUDIENCE_NOT_CREATED', message, fanned: true }
  })
}

/**
 * Why routing skipped an event for a destination (counted as filtered, never a failure):
 * `audience_not_connected` — an Engage audience event a native destination has no part in (see
 * `forThisDestination`); `integrations` — the event's `integrations` object keeps it away;
 * `send_track_off` / `send_identify_off` — the audience connection's toggles; `consent_withdrawn` —
 * the event withdraws the destination's consent category (consent.ts: no add, the person removed).
 */
export const FILTER_REASONS = ['audience_not_connected', 'integrations', 'send_track_off', 'send_identify_off', 'consent_withdrawn'] as const
export type FilterReason = (typeof FILTER_REASONS)[number]

/** Per event, its outcomes in mapping order, or why it was filtered (then no outcomes). */
export interface RoutedEvents {
  outcomes: RouteOutcome[][]
  filtered: (FilterReason | undefined)[]
  /** Per event that withdrew the destination's consent (`consent_withdrawn`), the person to remove. */
  withdrawn: (HashedPerson | undefined)[]
}

/**
 * Segment's `integrations` object: `{"<name>": false}` keeps an event from that destination, and
 * `All: false` limits it to the destinations named — when it names any of ours at all (Engage's
 * own `{"All": false, "TikTok Audiences": true}` names Segment's catalogue entry, not ours).
 */
export function addressedTo(integrations: unknown, name: string, isOurs: (names: string[]) => boolean): boolean {
  if (!integrations || typeof integrations !== 'object') return true
  const flags = integrations as Record<string, unknown>
  if (flags[name] === false) return false
  if (flags.All === false && !flags[name]) return !isOurs(Object.keys(flags))
  return true
}

/**
 * Whether an Engage audience event whose audience is not connected to a native destination is
 * still its, as in Segment (an audience reaches the destinations connected to it): the destination
 * connects audiences by itself, the event already carries its TikTok audience
 * (`context.personas.external_audience_id` with `audience_settings`, as Segment's pipeline
 * forwards it), or its `integrations` object names the destination.
 */
function forThisDestination(event: LooseEvent, target: RouteTarget): boolean {
  if (target.autoConnects) return true
  const p = event.context?.personas
  if (p && p.external_audience_id !== undefined && p.external_audience_id !== null && p.external_audience_id !== '' && p.audience_settings) return true
  const flags = event.integrations
  return !!flags && typeof flags === 'object' && !!flags[target.destination.name]
}

/**
 * Routes several events of one source to one destination; per event, its outcomes in mapping
 * order. Each mapping maps all its matching events in one call (mapping-kit checks the mapping once).
 */
export function routeEvents(
  items: { event: LooseEvent; audienceKey: string | undefined }[],
  target: RouteTarget,
  isOurs: (names: string[]) => boolean
): RoutedEvents {
  const dest = target.destination
  const outcomes: RouteOutcome[][] = items.map(() => [])
  const filtered: (FilterReason | undefined)[] = new Array(items.length)
  const withdrawn: (HashedPerson | undefined)[] = new Array(items.length)
  if (!dest.enabled) return { outcomes, filtered, withdrawn }
  const native = dest.mode === 'native'
  const settings = {
    mode: dest.mode,
    advertiserIds: dest.advertiserIds,
    normalization: dest.normalization,
    defaultPhoneRegion: dest.defaultPhoneRegion ?? undefined
  }
  const consentCategory = dest.consentCategory
  // Per event, its connection when that fans out to several advertisers.
  const fanning: (RouteConnection | undefined)[] = []
  // What reaches this destination, stamped like Segment's platform does for a connected audience.
  const stamped: (LooseEvent | undefined)[] = items.map(({ event, audienceKey }, i) => {
    if (!addressedTo(event.integrations, dest.name, isOurs)) {
      filtered[i] = 'integrations'
      return undefined
    }
    // Consent is the person's, whatever audience the event is about: checked before the connection.
    if (consentCategory && consentWithdrawn(event, consentCategory)) {
      filtered[i] = 'consent_withdrawn'
      withdrawn[i] = personOfEvent(event, { policy: settings.normalization, defaultPhoneRegion: settings.defaultPhoneRegion })
      return undefined
    }
    const connection = audienceKey !== undefined ? target.connections.get(audienceKey) : undefined
    if (!connection) {
      // Legacy destinations keep their triggers' semantics: every event is offered to their mappings.
      if (native && audienceKey !== undefined && !forThisDestination(event, target)) {
        filtered[i] = 'audience_not_connected'
        return undefined
      }
      return event
    }
    // Segment's side-panel toggles: the connection decides which calls reach this destination.
    if (event.type === 'track' && !connection.sendTrack) {
      filtered[i] = 'send_track_off'
      return undefined
    }
    if (event.type === 'identify' && !connection.sendIdentify) {
      filtered[i] = 'send_identify_off'
      return undefined
    }
    if (connection.targets && connection.targets.length > 1) fanning[i] = connection
    return stampPersonas(event, connection.externalAudienceId, connection.advertiserId)
  })
  for (const m of target.mappings) {
    const matched: number[] = []
    const matchedEvents: LooseEvent[] = []
    for (let i = 0; i < stamped.length; i++) {
      const e = stamped[i]
      if (!e) continue
      if (!m.compiled) at(outcomes, i).push({ ok: false, mapping: m, action: 'invalid', code: 'INVALID_MAPPING', message: m.error ?? 'invalid mapping' })
      else if (m.compiled.matches(e)) {
        matched.push(i)
        matchedEvents.push(e)
      }
    }
    if (!m.compiled || matched.length === 0) continue
    const compiled = m.compiled
    const action = compiled.action.key
    if (!dest.accessToken) {
      const message = `Destination "${dest.name}" has no TikTok access token: connect TikTok (OAuth) or set accessToken`
      for (const i of matched) at(outcomes, i).push({ ok: false, mapping: m, action, code: 'NO_ACCESS_TOKEN', message })
      continue
    }
    // `recommended` takes several emails or phones per person (destination/matching.ts).
    const payloads = compiled.mapBatch(matchedEvents, dest.normalization === 'recommended')
    matched.forEach((i, k) => {
      const payload = at(payloads, k)
      const out = at(outcomes, i)
      if (payload instanceof PayloadValidationError) {
        out.push({ ok: false, mapping: m, action, code: payload.code, message: payload.message })
        return
      }
      const e = at(matchedEvents, k)
      const change: Change = toChange(compiled, payload, { event: e, settings, audienceSettings: e.context?.personas?.audience_settings })
      if (change.kind === 'error') {
        const message = explainRouteError(change.message, { destination: dest.name, audienceKey: at(items, i).audienceKey })
        out.push({ ok: false, mapping: m, action, code: change.code, message, quality: change.quality })
      } else {
        const o: RouteOutcome = { ok: true, mapping: m, action, change }
        out.push(o)
        const fan = fanning[i]
        if (fan) out.push(...fanOut(o, fan, at(items, i).audienceKey))
      }
    })
  }
  return { outcomes, filtered, withdrawn }
}

/** One event to one destination. */
export function routeEvent(
  event: LooseEvent,
  audienceKey: string | undefined,
  target: RouteTarget,
  isOurs: (names: string[]) => boolean
): { outcomes: RouteOutcome[]; filtered?: FilterReason } {
  const routed = routeEvents([{ event, audienceKey }], target, isOurs)
  return { outcomes: first(routed.outcomes), filtered: routed.filtered[0] }
}

/** Where a change queues: its partition and batch kind (the queue's keys, queue-format.ts). */
export function queueKeys(destinationId: number, change: MembershipChange | CreateAudienceChange): { partitionKey: PartitionKey; batchKey: BatchKey } {
  if (change.kind === 'create') return { partitionKey: createPartitionKey(destinationId, change.advertiserId), batchKey: CREATE_KEY }
  return {
    partitionKey: membershipPartitionKey(destinationId, change.advertiserIds, change.audienceId),
    batchKey: encodeBatchKey({ action: change.action, idSchema: change.idSchema })
  }
}
