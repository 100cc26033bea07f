import { addToAudience } from './actions/add-to-audience.js'
import { addUser } from './actions/add-user.js'
import { createAudience } from './actions/create-audience.js'
import { removeFromAudience } from './actions/remove-from-audience.js'
import { removeUser } from './actions/remove-user.js'
import { syncAudience } from './actions/sync-audience.js'
import type { ActionDefinition, DestinationDefinition, FieldDefinitions, MappingValue } from './types.js'

export type ActionKey = 'createAudience' | 'addUser' | 'removeUser' | 'addToAudience' | 'removeFromAudience' | 'syncAudience'

/** In Segment's order of `actions` (index.js of the reference). */
export const ACTION_KEYS: readonly ActionKey[] = ['syncAudience', 'addToAudience', 'removeFromAudience', 'addUser', 'removeUser', 'createAudience']

/** Segment's `defaultValues(fields)`: every field's default, hidden ones included. */
export function defaultMapping(fields: FieldDefinitions): Record<string, MappingValue> {
  const mapping: Record<string, MappingValue> = {}
  for (const [key, field] of Object.entries(fields)) {
    if (field.default !== undefined) mapping[key] = structuredClone(field.default)
  }
  return mapping
}

const actions: Record<ActionKey, ActionDefinition<ActionKey>> = {
  syncAudience,
  addToAudience,
  removeFromAudience,
  addUser,
  removeUser,
  createAudience
}

export const tiktokAudiences: DestinationDefinition<ActionKey> = {
  name: 'TikTok Audiences',
  slug: 'actions-tiktok-audiences',
  description: "Sync Segment Engage audiences to TikTok Custom (Partner) Audiences through TikTok's Segment API (`/segment/audience/`, `/segment/mapping/`).",
  settings: {
    advertiser_ids: {
      label: 'TikTok Advertiser IDs',
      description: 'The Advertiser IDs where audiences should be synced. Hidden in production and should not be altered by users.',
      type: 'string',
      required: false,
      multiple: true
    }
  },
  audienceFields: {
    advertiserId: {
      type: 'string',
      label: 'Advertiser ID',
      description: 'The advertiser ID to use when syncing audiences. Required if you wish to create or update an audience.'
    }
  },
  actions,
  presets: [
    // SPEC §2.5: the two presets a new native instance needs, subscribed by FQL.
    {
      name: 'Audience Entered',
      partnerAction: 'addToAudience',
      type: 'automatic',
      subscribe: addToAudience.defaultSubscription,
      mapping: defaultMapping(addToAudience.fields)
    },
    {
      name: 'Audience Exited',
      partnerAction: 'removeFromAudience',
      type: 'automatic',
      subscribe: removeFromAudience.defaultSubscription,
      mapping: defaultMapping(removeFromAudience.fields)
    },
    // The reference's presets (3.497.0), bound to Segment's entity/journey event slugs.
    ...(
      [
        ['Entities Audience Entered', 'addToAudience', 'warehouse_audience_entered_track'],
        ['Entities Audience Exited', 'removeFromAudience', 'warehouse_audience_exited_track'],
        ['Associated Entity Added', 'addToAudience', 'warehouse_entity_added_track'],
        ['Associated Entity Removed', 'removeFromAudience', 'warehouse_entity_removed_track'],
        ['Journeys Step Entered', 'addToAudience', 'journeys_step_entered_track']
      ] as const
    ).map(([name, partnerAction, eventSlug]) => ({
      name,
      partnerAction,
      type: 'specificEvent' as const,
      eventSlug,
      mapping: defaultMapping(actions[partnerAction].fields)
    }))
  ]
}

export function isActionKey(key: string): key is ActionKey {
  return (ACTION_KEYS as readonly string[]).includes(key)
}
