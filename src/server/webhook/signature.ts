/**
 * Segment's `X-Signature` on its Webhooks (Actions) and Webhook Audiences destinations: hex
 * HMAC-SHA1 with the shared secret of `JSON.stringify` of the first payload's mapped `data` — for
 * Webhook Audiences computed *before* the audience's `extras` are merged into each body, so a body
 * carrying extras does not hash to its own signature. The extras an event carries are named by
 * its own `context.personas.audience_settings.extras` (the JSON string Segment merged), so the
 * receiver takes them out again before hashing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { LooseEvent } from '../../destination/types.js'

type Obj = Record<string, unknown>

/** The extras Segment merged into this event's top level: the keys of its audience's `extras` JSON, where the values agree. */
export function mergedExtras(event: Obj): string[] {
  const settings = (event.context as LooseEvent | undefined)?.personas?.audience_settings
  const text = settings && typeof settings === 'object' ? settings.extras : undefined
  if (typeof text !== 'string' || text === '') return []
  let extras: unknown
  try {
    extras = JSON.parse(text)
  } catch {
    return []
  }
  if (!extras || typeof extras !== 'object' || Array.isArray(extras)) return []
  return Object.keys(extras).filter((k) => Object.hasOwn(event, k) && JSON.stringify(event[k]) === JSON.stringify((extras as Obj)[k]))
}

/** The event without the merged extras (a shallow copy; key order kept, as Segment serialised it). */
export function withoutExtras(event: Obj, keys: string[]): Obj {
  if (keys.length === 0) return event
  const copy: Obj = {}
  for (const k of Object.keys(event)) if (!keys.includes(k)) copy[k] = event[k]
  return copy
}

export function sign(secret: string, data: unknown): string {
  return createHmac('sha1', secret).update(JSON.stringify(data), 'utf8').digest('hex')
}

/**
 * Whether `signature` is Segment's for this first event: over the event without its merged extras
 * (Webhook Audiences), or as received (Webhooks (Actions), whose data has no extras).
 */
export function signatureMatches(secret: string, first: Obj, signature: string): boolean {
  const given = Buffer.from(signature.trim().toLowerCase(), 'utf8')
  const extras = mergedExtras(first)
  const candidates = extras.length > 0 ? [withoutExtras(first, extras), first] : [first]
  let ok = false
  for (const c of candidates) {
    const expected = Buffer.from(sign(secret, c), 'utf8')
    // Every candidate compared, in constant time: no early exit that times which one matched.
    if (expected.length === given.length && timingSafeEqual(expected, given)) ok = true
  }
  return ok
}
