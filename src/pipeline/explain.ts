/**
 * Failures in words a person can act on. The destination's own checks keep Segment's messages (the
 * golden vectors pin them), but "no audienceSettings found" means nothing to someone who never saw
 * Segment's code: routing and delivery know the destination, audience and advertisers, so they say
 * what is wrong and where to fix it.
 */
import { MESSAGES } from '../destination/changes.js'
import type { TikTokError } from '../tiktok/errors.js'

export interface RouteErrorContext {
  destination: string
  audienceKey: string | undefined
}

/** A routing failure's message, with the destination and audience it concerns and the fix. */
export function explainRouteError(message: string, ctx: RouteErrorContext): string {
  const dest = `destination "${ctx.destination}"`
  if (message === MESSAGES.noAudienceSettings) {
    if (!ctx.audienceKey) {
      return `The event names no Engage audience (no context.personas.computation_key or properties.audience_key), so ${dest} cannot tell which TikTok audience it is for: send Engage audience events, or map the audience id in the mapping.`
    }
    return `Audience "${ctx.audienceKey}" is not connected to ${dest}: connect it in the destination's Audiences tab (Add Destination), or turn on auto-connect.`
  }
  if (message === MESSAGES.noAdvertiserId) {
    return `Audience "${ctx.audienceKey ?? '(none)'}" is connected to ${dest} without an advertiser: choose its Advertiser ID in the destination's Audiences tab.`
  }
  return message
}

const PERMISSION_DENIED = 40001
const ACCESS_TOKEN_CODES = new Set([40102, 40103, 40104, 40105, 40107])

/**
 * A failed TikTok request's reason. `advertiserIds`: those the request was for; `authorised`:
 * those the destination's token was granted (from OAuth), to list the ones it may use.
 */
export function explainTikTokFailure(failure: TikTokError, advertiserIds: readonly string[], authorised: readonly string[]): string {
  const tiktok = failure.code !== undefined ? `TikTok ${failure.code}: ${failure.message}` : failure.message
  if (failure.code === PERMISSION_DENIED && /advertiser|permission/i.test(failure.message)) {
    const foreign = advertiserIds.filter((id) => !authorised.includes(id))
    if (authorised.length === 0) {
      return `Advertiser ${advertiserIds.join(', ')} is not one this destination's TikTok token may use, and the destination knows of none it may: Reauthorize in Settings with an account that manages it, or list advertiserIds (${tiktok})`
    }
    if (foreign.length > 0) {
      return `Advertiser ${foreign.join(', ')} is not one this destination's TikTok token may use (these are: ${authorised.join(', ')}): choose one of them in the Audiences tab, or Reauthorize with an account that manages it (${tiktok})`
    }
    return `TikTok refused advertiser ${advertiserIds.join(', ')} for this destination's token, though it was granted when TikTok was connected: Reauthorize in Settings (${tiktok})`
  }
  if (failure.kind === 'auth' || (failure.code !== undefined && ACCESS_TOKEN_CODES.has(failure.code))) {
    return `TikTok rejected the destination's access token (${tiktok}): Reauthorize in the destination's Settings tab`
  }
  return tiktok
}
