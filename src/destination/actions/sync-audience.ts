import * as f from '../fields.js'
import type { ActionDefinition } from '../types.js'

/** One action for both directions: the event's audience membership decides add or delete. */
export const syncAudience: ActionDefinition<'syncAudience'> = {
  key: 'syncAudience',
  title: 'Sync Audience [Beta]',
  description: 'Sync an Engage Audience to a TikTok Audience Segment. This action is currently in beta.',
  defaultSubscription: 'type = "track"',
  kind: 'membership',
  direction: 'membership',
  flow: 'native',
  fields: {
    event_name: { ...f.event_name },
    send_email: { ...f.send_email },
    send_phone: { ...f.send_phone },
    send_advertising_id: { ...f.send_advertising_id },
    email: { ...f.email },
    phone: { ...f.phone },
    advertising_id: { ...f.advertising_id },
    enable_batching: { ...f.enable_batching },
    external_audience_id: { ...f.external_audience_id },
    batch_keys: { ...f.batch_keys }
  }
}
