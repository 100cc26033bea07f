/**
 * Field definitions shared by the actions. Keys, labels, descriptions, types, defaults and flags are
 * those of Segment's published destination (@segment/action-destinations 3.497.0,
 * destinations/tiktok-audiences/properties.js) — the UI, the docs and saved mappings depend on them.
 */
import type { FieldDefinition } from './types.js'

export const selected_advertiser_id: FieldDefinition = {
  label: 'Advertiser ID',
  description: 'The advertiser ID to use when syncing audiences.',
  type: 'string',
  dynamic: true,
  required: true
}

export const audience_id: FieldDefinition = {
  label: 'Audience ID',
  description:
    'Audience ID for the TikTok Audience you want to sync your Engage audience to. This is returned after you create an audience and can also be found in the TikTok Audiences dashboard.',
  type: 'string',
  dynamic: true,
  required: true
}

export const custom_audience_name: FieldDefinition = {
  label: 'Custom Audience Name',
  description:
    'Custom audience name of audience to be created. Please note that names over 70 characters will be truncated to 67 characters with "..." appended.',
  type: 'string',
  required: true
}

/** `context.traits.<key>` (Engage puts identifiers there on track calls), else `properties.<key>`. */
function traitThenProperty(key: string): FieldDefinition['default'] {
  return {
    '@if': {
      exists: { '@path': `$.context.traits.${key}` },
      then: { '@path': `$.context.traits.${key}` },
      else: { '@path': `$.properties.${key}` }
    }
  }
}

export const email: FieldDefinition = {
  label: 'User Email',
  description: "The user's email address to send to TikTok.",
  type: 'string',
  default: traitThenProperty('email'),
  category: 'hashedPII'
}

export const send_email: FieldDefinition = {
  label: 'Send Email?',
  description: 'Send email to TikTok. Segment will hash this value before sending',
  type: 'boolean',
  default: true
}

export const phone: FieldDefinition = {
  label: 'User Phone Number',
  description: "The user's phone number to send to TikTok.",
  type: 'string',
  default: traitThenProperty('phone'),
  category: 'hashedPII'
}

export const send_phone: FieldDefinition = {
  label: 'Send Phone Number?',
  description: 'Send phone number to TikTok. Segment will hash this value before sending',
  type: 'boolean',
  default: true
}

export const advertising_id: FieldDefinition = {
  label: 'User Advertising ID',
  description: "The user's mobile advertising ID to send to TikTok. This could be a GAID, IDFA, or AAID",
  type: 'string',
  default: { '@path': '$.context.device.advertisingId' },
  category: 'hashedPII'
}

export const send_advertising_id: FieldDefinition = {
  label: 'Send Mobile Advertising ID?',
  description: 'Send mobile advertising ID (IDFA, AAID or GAID) to TikTok. Segment will hash this value before sending.',
  type: 'boolean',
  default: true
}

export const event_name: FieldDefinition = {
  label: 'Event Name',
  description: 'The name of the current Segment event.',
  type: 'string',
  hidden: true,
  default: { '@path': '$.event' }
}

export const enable_batching: FieldDefinition = {
  label: 'Enable Batching',
  description: 'Enable batching of requests to the TikTok Audiences.',
  type: 'boolean',
  default: true,
  hidden: true
}

export const external_audience_id: FieldDefinition = {
  label: 'External Audience ID',
  description: "The Audience ID in TikTok's DB.",
  type: 'string',
  hidden: true,
  default: { '@path': '$.context.personas.external_audience_id' }
}

/** syncAudience only: Segment batches by these keys so that one request has one `id_schema`. */
export const batch_keys: FieldDefinition = {
  label: 'Batch Keys',
  description: 'The keys to use for batching the events.',
  type: 'string',
  multiple: true,
  default: ['send_email', 'send_phone', 'send_advertising_id'],
  hidden: true
}
