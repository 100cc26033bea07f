/**
 * The shape check every incoming event passes before it is accepted (Segment's HTTP Tracking API
 * rules, as far as they matter here). What fails is refused with a message naming the problem.
 */
import { randomUUID } from 'node:crypto'
import type { LooseEvent } from '../destination/types.js'

/**
 * How deeply an event may nest objects and arrays (the event itself is level 1). Far past any real
 * Segment event, and low enough that everything after ingestion may recurse over an event.
 */
export const MAX_EVENT_DEPTH = 64

/** The refusal of an event nested deeper than MAX_EVENT_DEPTH, on every path that takes events. */
export const TOO_DEEP_ERROR = `the event is nested more than ${MAX_EVENT_DEPTH} levels deep (objects and arrays): the limit is ${MAX_EVENT_DEPTH}`

export const EVENT_TYPES = new Set(['track', 'identify', 'page', 'screen', 'group', 'alias'])

export type SegmentEvent = Record<string, unknown> & { type: string; messageId: string }

export type EventCheck = { ok: true; event: SegmentEvent } | { ok: false; error: string }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Checks one event; fills `messageId` when absent (as Segment's API does). `typeHint` comes from `/v1/track` etc. */
export function checkEvent(value: unknown, typeHint?: string): EventCheck {
  if (!isObject(value))
    return { ok: false, error: `an event must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` }
  const type = value.type ?? typeHint
  if (typeof type !== 'string') return { ok: false, error: '"type" is missing: expected one of track, identify, page, screen, group, alias' }
  if (!EVENT_TYPES.has(type))
    return { ok: false, error: `"type" ${JSON.stringify(type)} is not a Segment event type (track, identify, page, screen, group, alias)` }
  if (type === 'track' && (typeof value.event !== 'string' || value.event === '')) return { ok: false, error: 'a track event needs a non-empty "event" name' }
  const hasUser = (typeof value.userId === 'string' && value.userId !== '') || typeof value.userId === 'number'
  const hasAnon = (typeof value.anonymousId === 'string' && value.anonymousId !== '') || typeof value.anonymousId === 'number'
  if (!hasUser && !hasAnon) return { ok: false, error: '"userId" or "anonymousId" is required' }
  for (const key of ['properties', 'traits', 'context', 'integrations'] as const) {
    if (value[key] !== undefined && value[key] !== null && !isObject(value[key])) return { ok: false, error: `"${key}" must be an object` }
  }
  if (value.messageId !== undefined && (typeof value.messageId !== 'string' || value.messageId === '' || value.messageId.length > 200)) {
    return { ok: false, error: '"messageId" must be a non-empty string of at most 200 characters' }
  }
  const event = value as SegmentEvent
  if (value.type === undefined) event.type = type
  if (value.messageId === undefined) event.messageId = `tta-${randomUUID()}`
  return { ok: true, event }
}

/** The Engage audience an event is about, if any (context.personas.computation_key). */
export function audienceOf(event: LooseEvent): { key: string; name: string | null } | undefined {
  const p = event.context?.personas
  if (!p || typeof p.computation_key !== 'string' || p.computation_key === '') return undefined
  if (p.computation_class !== undefined && p.computation_class !== 'audience' && p.computation_class !== 'journey_step') return undefined
  return { key: p.computation_key, name: typeof p.computation_name === 'string' ? p.computation_name : null }
}
