/**
 * What Segment's platform does for a connected audience before mapping: stamp the TikTok audience
 * id and the audience settings on `context.personas`, so the default mappings work unchanged.
 * Shared by the router and the admin API's Test Mapping.
 */
import type { LooseEvent } from '../destination/types.js'

export function stampPersonas(event: LooseEvent, externalAudienceId: string | null, advertiserId: string | null): LooseEvent {
  const current = event.context?.personas
  // Events forwarded by Segment's own pipeline already carry the same stamp: no copy needed.
  if (
    current &&
    (!externalAudienceId || current.external_audience_id === externalAudienceId) &&
    (!advertiserId || current.audience_settings?.advertiserId === advertiserId)
  ) {
    return event
  }
  // Object.assign, not spread-then-set: adding a key to a spread copy of a parsed object is ~6× slower.
  const stamp: LooseEvent = {}
  if (externalAudienceId) stamp.external_audience_id = externalAudienceId
  if (advertiserId) stamp.audience_settings = Object.assign({}, current?.audience_settings, { advertiserId })
  const personas = Object.assign({}, current, stamp)
  return Object.assign({}, event, { context: Object.assign({}, event.context, { personas }) })
}
