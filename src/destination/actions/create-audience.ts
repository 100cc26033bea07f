import * as f from '../fields.js'
import type { ActionDefinition } from '../types.js'

/** Legacy instances create their TikTok Partner audience with a mapping run once ("Test Mapping"). */
export const createAudience: ActionDefinition<'createAudience'> = {
  key: 'createAudience',
  title: 'Create Audience (Legacy)',
  description:
    'Use this action to create a new audience in TikTok Audience Segment. This is required for legacy instances of the TikTok Audience destination to create a partner audience within TikTok for syncing Engage audiences to.',
  defaultSubscription: 'event = "Create Audience"',
  kind: 'create',
  flow: 'legacy',
  fields: {
    selected_advertiser_id: { ...f.selected_advertiser_id },
    custom_audience_name: { ...f.custom_audience_name }
  }
}
