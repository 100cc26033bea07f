/**
 * Realistic Engage events for the console's "Load Sample Event" (shapes of segment-semantics §1).
 * Deterministic, so that they double as test fixtures.
 */
import type { ActionKey } from './definition.js'

export type SegmentEvent = Record<string, unknown> & {
  type: string
  context?: Record<string, unknown> & { personas?: Record<string, unknown> }
}

const AUDIENCE_KEY = 'first_time_shopper'

function personas(): Record<string, unknown> {
  return {
    computation_class: 'audience',
    computation_id: 'aud_2g5VilffxpBYqelWk4K0yBzAuFl',
    computation_key: AUDIENCE_KEY,
    namespace: 'spa_rHVbZsJXToWAwcmbgpfo36',
    space_id: 'spa_rHVbZsJXToWAwcmbgpfo36',
    external_audience_id: '7123456789012345678',
    audience_settings: { advertiserId: '7000000000000000001' }
  }
}

/** Track "Audience Entered" (member = true) or "Audience Exited" (member = false). */
export function sampleAudienceEvent(member: boolean): SegmentEvent {
  return {
    type: 'track',
    event: member ? 'Audience Entered' : 'Audience Exited',
    messageId: member ? 'personas_2g5WGNhZtTET4DhSeILpE6muHnH' : 'personas_2g5WGNhZtTET4DhSeILpE6muHnJ',
    userId: 'u123',
    timestamp: '2024-05-06T09:30:22.829Z',
    receivedAt: '2024-05-06T09:30:38.650Z',
    properties: { audience_key: AUDIENCE_KEY, [AUDIENCE_KEY]: member },
    context: {
      traits: { email: 'jane.doe@example.com', phone: '+15555550123' },
      device: { advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' },
      personas: personas()
    },
    integrations: { All: false, 'TikTok Audiences': true }
  }
}

/** Identify with the audience trait (Engage "Send Identify"); identifiers in `traits`. */
export function sampleIdentifyEvent(member: boolean): SegmentEvent {
  return {
    type: 'identify',
    messageId: 'personas_2g5WGNhZtTET4DhSeILpE6muHnI',
    userId: 'u123',
    timestamp: '2024-05-06T09:30:22.829Z',
    traits: { email: 'jane.doe@example.com', [AUDIENCE_KEY]: member },
    context: { personas: personas() }
  }
}

/** The event a legacy user sends through "Create Audience (Legacy)" with Test Mapping. */
export function sampleCreateAudienceEvent(): SegmentEvent {
  return {
    type: 'track',
    event: 'Create Audience',
    messageId: 'create-audience-sample-1',
    userId: 'u123',
    timestamp: '2024-05-06T09:30:22.829Z',
    properties: { audience_name: 'First time shopper' }
  }
}

export function sampleEvent(action: ActionKey): SegmentEvent {
  switch (action) {
    case 'createAudience':
      return sampleCreateAudienceEvent()
    case 'removeUser':
    case 'removeFromAudience':
      return sampleAudienceEvent(false)
    default:
      return sampleAudienceEvent(true)
  }
}
