/**
 * Factories for the add/remove action pairs: the two actions of a pair differ only in direction and
 * the texts Segment gives them, so they are built from one definition with the direction as parameter.
 */
import * as f from '../fields.js'
import type { ActionDefinition } from '../types.js'

type Direction = 'add' | 'delete'

const texts = {
  legacy: {
    add: {
      title: 'Add Users (Legacy)',
      description: 'Add contacts from an Engage Audience to a TikTok Audience Segment.',
      defaultSubscription: 'event = "Audience Entered"'
    },
    delete: {
      title: 'Remove Users (Legacy)',
      description: 'Remove contacts from an Engage Audience to a TikTok Audience Segment.',
      defaultSubscription: 'event = "Audience Exited"'
    }
  },
  native: {
    add: {
      title: 'Add to Audience',
      description: 'Add records from an Engage Audience to a TikTok Audience Segment.',
      defaultSubscription: 'event = "Audience Entered"'
    },
    delete: {
      title: 'Remove from Audience',
      description: 'Remove contacts from an Engage Audience to a TikTok Audience Segment.',
      defaultSubscription: 'event = "Audience Exited"'
    }
  }
} as const

/** The identifier fields both pairs share, in Segment's order (the mapping editor's and the docs table's). */
function identifierFields() {
  return {
    email: { ...f.email },
    phone: { ...f.phone },
    advertising_id: { ...f.advertising_id },
    send_email: { ...f.send_email },
    send_phone: { ...f.send_phone },
    send_advertising_id: { ...f.send_advertising_id },
    event_name: { ...f.event_name },
    enable_batching: { ...f.enable_batching }
  }
}

/** Add Users / Remove Users (Legacy): audience and advertiser picked in the mapping. */
export function legacyMembershipAction<K extends string>(key: K, direction: Direction): ActionDefinition<K> {
  return {
    key,
    ...texts.legacy[direction],
    kind: 'membership',
    direction,
    flow: 'legacy',
    fields: {
      selected_advertiser_id: { ...f.selected_advertiser_id },
      audience_id: { ...f.audience_id },
      ...identifierFields()
    }
  }
}

/** Add to Audience / Remove from Audience: audience and advertiser come from the audience connection. */
export function nativeMembershipAction<K extends string>(key: K, direction: Direction): ActionDefinition<K> {
  return {
    key,
    ...texts.native[direction],
    kind: 'membership',
    direction,
    flow: 'native',
    fields: {
      ...identifierFields(),
      external_audience_id: { ...f.external_audience_id }
    }
  }
}
