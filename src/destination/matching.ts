/**
 * What the `recommended` policy sends beyond the reference (README "Identifiers"): an Android
 * device's advertising id as `AAID_SHA256`, and several emails or phones of one person, each in a
 * `batch_data` row of its own. Under `segment` neither applies: one value per kind, every mobile
 * id labelled `IDFA_SHA256`, as Segment sends them.
 */
import type { IdType } from '../tiktok/types.js'
import { processIdentifier, type IdentifierKind, type IdentifierOptions, type IdentifierOutcome, type IdentifierReport } from './identifiers.js'
import type { MappedPayload } from './payload.js'

/** Values of one identifier sent per person; the rest are counted as dropped (`too_many_values`). */
export const MAX_VALUES_PER_IDENTIFIER = 10

/**
 * Whether an event comes from an Android device: `context.device.type` (what Segment's mobile
 * libraries set: `android`, `ios`) when present, else `context.os.name`.
 */
export function isAndroidEvent(event: unknown): boolean {
  const context = (event as { context?: { device?: { type?: unknown }; os?: { name?: unknown } } } | null)?.context
  const type = context?.device?.type
  if (typeof type === 'string' && type.trim() !== '') return type.trim().toLowerCase() === 'android'
  const os = context?.os?.name
  return typeof os === 'string' && os.trim().toLowerCase() === 'android'
}

/**
 * One identifier's value or values. Of several, the first that can be sent leads (it fills the
 * person's first row, as a single value would); the others follow in `more`, in order, without
 * repeats of a hash already sent.
 */
export function processValues(kind: IdentifierKind, value: unknown, enabled: boolean, options: IdentifierOptions): IdentifierOutcome {
  if (!Array.isArray(value) || options.policy !== 'recommended' || !enabled) return processIdentifier(kind, value, enabled, options)
  const outcomes = value.slice(0, MAX_VALUES_PER_IDENTIFIER).map((v) => processIdentifier(kind, v, true, options))
  const lead = outcomes.find((o) => o.hash !== null) ?? outcomes[0]
  // An empty list is no value at all.
  if (!lead) return processIdentifier(kind, undefined, enabled, options)
  const sent = new Set<string>(lead.hash !== null ? [lead.hash] : [])
  const more: IdentifierOutcome[] = []
  for (const o of outcomes) {
    if (o === lead) continue
    if (o.hash !== null) {
      if (sent.has(o.hash)) continue // the same identifier twice: one row is enough
      sent.add(o.hash)
    }
    more.push(o)
  }
  if (value.length > MAX_VALUES_PER_IDENTIFIER) {
    more.push({ status: 'rejected', hash: null, reason: `more than ${MAX_VALUES_PER_IDENTIFIER} values: the others were not sent`, drop: 'too_many_values' })
  }
  return more.length > 0 ? { ...lead, more } : lead
}

export interface IdentifierRows {
  quality: IdentifierReport
  idSchema: IdType[]
  /** The person's first row, aligned with idSchema; null = `{}` cell. */
  ids: (string | null)[]
  /** One row per further value (several emails or phones), that value alone in its column. */
  moreIds?: (string | null)[][]
}

/** A mapped payload's identifiers as TikTok rows: id_schema in the fixed order EMAIL → PHONE → mobile id. */
export function identifierRows(payload: MappedPayload, event: unknown, options: IdentifierOptions): IdentifierRows {
  const quality: IdentifierReport = {
    email: processValues('email', payload.email, payload.send_email === true, options),
    phone: processValues('phone', payload.phone, payload.send_phone === true, options),
    advertising_id: processIdentifier('advertising_id', payload.advertising_id, payload.send_advertising_id === true, options)
  }
  // Only an id actually sent is labelled AAID: rows without one keep the reference's IDFA column
  // and so share requests with every other row of their audience.
  if (options.policy === 'recommended' && quality.advertising_id.hash !== null && isAndroidEvent(event)) {
    quality.advertising_id = { ...quality.advertising_id, idType: 'AAID_SHA256' }
  }
  // Written out, no per-event closure: this runs for every change routed.
  const idSchema: IdType[] = []
  const ids: (string | null)[] = []
  const { email, phone, advertising_id } = quality
  if (email.status !== 'disabled') {
    idSchema.push('EMAIL_SHA256')
    ids.push(email.hash)
  }
  if (phone.status !== 'disabled') {
    idSchema.push('PHONE_SHA256')
    ids.push(phone.hash)
  }
  if (advertising_id.status !== 'disabled') {
    idSchema.push(advertising_id.idType ?? 'IDFA_SHA256')
    ids.push(advertising_id.hash)
  }
  let moreIds: (string | null)[][] | undefined
  if (email.more || phone.more) {
    // A further value's column: email is first when sent, phone after it.
    const columns: [IdentifierOutcome, number][] = [
      [email, 0],
      [phone, email.status !== 'disabled' ? 1 : 0]
    ]
    for (const [outcome, c] of columns) {
      for (const o of outcome.more ?? []) {
        if (o.hash === null) continue
        const row: (string | null)[] = new Array(idSchema.length).fill(null)
        row[c] = o.hash
        ;(moreIds ??= []).push(row)
      }
    }
  }
  return moreIds ? { quality, idSchema, ids, moreIds } : { quality, idSchema, ids }
}
