/**
 * Audience membership of an Engage event, exactly as actions-core resolves it
 * (packages/core/src/audience-membership.ts): only for computation_class `audience`/`journey_step`,
 * only a real boolean at properties[key] (track) or traits[key] (identify); the event name is not
 * consulted. Reverse-ETL sync modes and the legacy-Journeys feature flag are not modelled: no
 * TikTok action declares a sync mode, and the flag is off for customers.
 */
import type { LooseEvent } from './types.js'
export function resolveAudienceMembership(event: unknown): boolean | undefined {
  if (!event || typeof event !== 'object') return undefined
  const e = event as LooseEvent
  const personas = e.context?.personas
  const computationClass = personas?.computation_class
  if (computationClass !== 'audience' && computationClass !== 'journey_step') return undefined
  const key = personas.computation_key
  if (!key || typeof key !== 'string') return undefined
  const value = e.type === 'identify' ? e.traits?.[key] : e.type === 'track' ? e.properties?.[key] : undefined
  return typeof value === 'boolean' ? value : undefined
}

/** A member's identifiers as given (raw, or already hashed). */
export interface MemberIdentifiers {
  email?: string | null
  phone?: string | null
  advertisingId?: string | null
}

/**
 * The other way round: one member entering or leaving an audience as the Engage track call the
 * default mappings understand ("Audience Entered"/"Audience Exited", identifiers where the
 * defaults look), addressed to one destination only. The plain members API and mirror sync send
 * their members through the pipeline as these.
 */
export function audienceMembershipEvent(o: {
  audienceKey: string
  destination: string
  member: boolean
  ids: MemberIdentifiers
  userId: string
  messageId?: string
  /** Where the event comes from: `context.personas.namespace`, and the computation id's prefix. */
  origin: { namespace: string; idPrefix: string }
}): Record<string, unknown> {
  const traits: Record<string, string> = {}
  if (o.ids.email) traits.email = o.ids.email
  if (o.ids.phone) traits.phone = o.ids.phone
  return {
    type: 'track',
    event: o.member ? 'Audience Entered' : 'Audience Exited',
    userId: o.userId,
    ...(o.messageId !== undefined ? { messageId: o.messageId } : {}),
    properties: { audience_key: o.audienceKey, [o.audienceKey]: o.member },
    context: {
      traits,
      ...(o.ids.advertisingId ? { device: { advertisingId: o.ids.advertisingId } } : {}),
      personas: {
        computation_class: 'audience',
        computation_key: o.audienceKey,
        computation_id: `${o.origin.idPrefix}_${o.audienceKey}`,
        namespace: o.origin.namespace
      }
    },
    integrations: { All: false, [o.destination]: true }
  }
}
