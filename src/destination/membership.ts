/**
 * Audience membership of an Engage event, exactly as actions-core resolves it
 * (packages/core/src/audience-membership.ts): only for computation_class `audience`/`journey_step`,
 * only a real boolean at properties[key] (track) or traits[key] (identify); the event name is not
 * consulted. Reverse-ETL sync modes and the legacy-Journeys feature flag are not modelled: no
 * TikTok action declares a sync mode, and the flag is off for customers.
 */
export function resolveAudienceMembership(event: unknown): boolean | undefined {
  if (!event || typeof event !== 'object') return undefined
  const e = event as Record<string, any>
  const personas = e.context?.personas
  const computationClass = personas?.computation_class
  if (computationClass !== 'audience' && computationClass !== 'journey_step') return undefined
  const key = personas.computation_key
  if (!key || typeof key !== 'string') return undefined
  const value = e.type === 'identify' ? e.traits?.[key] : e.type === 'track' ? e.properties?.[key] : undefined
  return typeof value === 'boolean' ? value : undefined
}
