/**
 * From a mapped payload to one TikTok change, with the reference's validation order and messages
 * (peers.md §1.6), checked per event. Where the reference validates a batch by its first payload
 * (send_* flags, id_schema), every event here is validated on its own and events with different
 * id_schema go to different requests (SPEC §3.3: never mix send_* combinations).
 */
import type { IdType } from '../tiktok/types.js'
import type { IdentifierOptions, IdentifierReport, NormalizationPolicy } from './identifiers.js'
import type { CompiledMapping } from './mapping.js'
import { identifierRows } from './matching.js'
import { resolveAudienceMembership } from './membership.js'
import type { MappedPayload } from './payload.js'
import { truncateAudienceName } from '../tiktok/audiences.js'

export interface DestinationSettings {
  mode: 'native' | 'legacy'
  /** Legacy instances' `settings.advertiser_ids` (from OAuth). */
  advertiserIds: string[]
  normalization: NormalizationPolicy
  defaultPhoneRegion?: string
}

export interface ChangeContext {
  event: unknown
  settings: DestinationSettings
  /** `event.context.personas.audience_settings` (set by Segment, or by the service on connect). */
  audienceSettings?: { advertiserId?: string; [key: string]: unknown }
}

export interface MembershipChange {
  kind: 'membership'
  action: 'add' | 'delete'
  advertiserIds: string[]
  audienceId: string
  idSchema: IdType[]
  /** Hashed identifiers aligned with idSchema; null = `{}` cell. */
  ids: (string | null)[]
  /**
   * `recommended`: the person's further rows (several emails or phones, matching.ts), each aligned
   * with idSchema, sent in the same request as `ids`. Absent when there is one row.
   */
  moreIds?: (string | null)[][]
  quality: IdentifierReport
}

export interface CreateAudienceChange {
  kind: 'create'
  advertiserId: string
  name: string
}

export interface ChangeError {
  kind: 'error'
  /** Segment's error code: INVALID_REQUEST_DATA, INVALID_SETTINGS, PAYLOAD_VALIDATION_FAILED, … */
  code: string
  message: string
  quality?: IdentifierReport
}

export type Change = MembershipChange | CreateAudienceChange | ChangeError

export const MESSAGES = {
  noAudienceSettings: 'Bad Request: no audienceSettings found.',
  noAdvertiserId: 'Bad Request: Advertiser ID is required in audienceSettings.',
  membershipNotBoolean: 'Audience Memberships must be an array of booleans with the same length as payloads.',
  noExternalAudienceId: 'Missing required field: external_audience_id.',
  noSendFlag: 'At least one of `Send Email`, `Send Phone` or `Send Advertising ID` must be set to `true`.',
  noEnabledIdentifier: 'At least one enabled identifier (Email, Phone, or Advertising ID) must have a value.',
  noUser: 'At least one of Email Id or Advertising ID must be provided.',
  // Not in the reference (it sends a body without advertiser_ids, which TikTok rejects).
  noLegacyAdvertiserIds:
    'Bad Request: settings.advertiser_ids is empty. Connect TikTok with OAuth (or set advertiserIds) so that legacy actions know which advertisers to send to.'
} as const

const error = (code: string, message: string, quality?: IdentifierReport): ChangeError =>
  quality ? { kind: 'error', code, message, quality } : { kind: 'error', code, message }

/**
 * A membership change as TikTok rows: the change itself, then one change per further identifier
 * value (`moreIds`), sharing its request, quality report included (count it once, not per row).
 */
export function membershipRows(change: MembershipChange): MembershipChange[] {
  if (!change.moreIds) return [change]
  const { moreIds, ...first } = change
  return [first, ...moreIds.map((ids) => ({ ...first, ids }))]
}

function rejectionDetail(quality: IdentifierReport): string {
  const parts = (Object.keys(quality) as Array<keyof IdentifierReport>).filter((k) => quality[k].status === 'rejected').map((k) => `${k}: ${quality[k].reason}`)
  return parts.length ? ` (rejected ${parts.join('; ')})` : ''
}

export function toChange(compiled: CompiledMapping, payload: MappedPayload, ctx: ChangeContext): Change {
  const action = compiled.action
  if (action.kind === 'create') {
    // Required fields are enforced by payload validation; the reference sends them as they are.
    return {
      kind: 'create',
      advertiserId: String(payload.selected_advertiser_id),
      name: truncateAudienceName(String(payload.custom_audience_name))
    }
  }
  const options: IdentifierOptions = {
    policy: ctx.settings.normalization,
    defaultPhoneRegion: ctx.settings.defaultPhoneRegion
  }
  const recommended = ctx.settings.normalization === 'recommended'
  const audienceSettings = ctx.audienceSettings

  if (action.direction === 'membership') {
    // syncAudience (syncAudience/functions.js): order of checks as the reference.
    if (!audienceSettings) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noAudienceSettings)
    const advertiserId = audienceSettings.advertiserId
    if (!advertiserId) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noAdvertiserId)
    const membership = resolveAudienceMembership(ctx.event)
    if (typeof membership !== 'boolean') return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.membershipNotBoolean)
    if (!payload.external_audience_id) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noExternalAudienceId)
    if (!payload.send_email && !payload.send_phone && !payload.send_advertising_id) {
      return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noSendFlag)
    }
    const hasEnabledValue =
      (payload.send_email && payload.email) || (payload.send_phone && payload.phone) || (payload.send_advertising_id && payload.advertising_id)
    if (!hasEnabledValue) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noEnabledIdentifier)
    const { quality, idSchema, ids, moreIds } = identifierRows(payload, ctx.event, options)
    if (recommended && ids.every((id) => id === null)) {
      return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noEnabledIdentifier + rejectionDetail(quality), quality)
    }
    return {
      kind: 'membership',
      action: membership ? 'add' : 'delete',
      advertiserIds: [advertiserId],
      audienceId: payload.external_audience_id,
      idSchema,
      ids,
      ...(moreIds ? { moreIds } : {}),
      quality
    }
  }

  // addToAudience / removeFromAudience / addUser / removeUser (functions.js processPayload).
  let advertiserIds: string[]
  let audienceId: string | undefined
  if (action.flow === 'native') {
    if (!audienceSettings) return error('INVALID_REQUEST_DATA', MESSAGES.noAudienceSettings)
  }
  if (payload.send_email !== true && payload.send_phone !== true && payload.send_advertising_id !== true) {
    return error('INVALID_SETTINGS', MESSAGES.noSendFlag)
  }
  if (action.flow === 'native') {
    // The reference sends a body without advertiser_ids, or `audience_ids: [null]`, in these cases.
    if (!audienceSettings?.advertiserId) return error('INVALID_REQUEST_DATA', MESSAGES.noAdvertiserId)
    if (!payload.external_audience_id) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noExternalAudienceId)
    advertiserIds = [audienceSettings.advertiserId]
    audienceId = payload.external_audience_id
  } else {
    // Legacy actions send every advertiser of the settings, not the selected one (it only picks the
    // audience list in the editor).
    if (!ctx.settings.advertiserIds?.length) return error('INVALID_SETTINGS', MESSAGES.noLegacyAdvertiserIds)
    advertiserIds = ctx.settings.advertiserIds
    audienceId = payload.audience_id
  }
  // Deliberate difference (SPEC §2.2): a phone-only user is sent; the reference drops users
  // without email and advertising id.
  if (!payload.email && !payload.advertising_id && !payload.phone) return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noUser)
  const { quality, idSchema, ids, moreIds } = identifierRows(payload, ctx.event, options)
  if (recommended && ids.every((id) => id === null)) {
    return error('PAYLOAD_VALIDATION_FAILED', MESSAGES.noEnabledIdentifier + rejectionDetail(quality), quality)
  }
  return {
    kind: 'membership',
    action: action.direction === 'delete' ? 'delete' : 'add',
    advertiserIds,
    audienceId: String(audienceId),
    idSchema,
    ids,
    ...(moreIds ? { moreIds } : {}),
    quality
  }
}
