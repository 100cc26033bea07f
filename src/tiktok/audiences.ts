/**
 * Connecting an audience to a native destination, wherever it happens (config file, admin API):
 * create its TikTok Partner audience, or verify that an id given for it belongs to the advertiser.
 */
import { truncateAudienceName } from '../destination/changes.js'
import type { TikTokClient } from './client.js'

/** The id given is not an audience of this advertiser (the reference's messages). */
export class AudienceOwnershipError extends Error {}

/** Creates the TikTok audience (names over 70 characters cut to 67 + `...`); returns its id. */
export async function createPartnerAudience(client: TikTokClient, advertiserId: string, name: string): Promise<string> {
  const { data } = await client.createAudience({ advertiser_id: advertiserId, action: 'create', custom_audience_name: truncateAudienceName(name) })
  return String(data.audience_id)
}

/** Segment's getAudience check: the id must exist for this advertiser. */
export async function verifyOwnership(client: TikTokClient, advertiserId: string, audienceId: string): Promise<void> {
  const list = await client.getAudiences(advertiserId, [audienceId])
  const found = list[0]?.audience_details?.audience_id
  if (!found) throw new AudienceOwnershipError('Unable to verify ownership over audience. Audience ID not found.')
  if (String(found) !== audienceId) {
    throw new AudienceOwnershipError("Unable to verify ownership over audience. Segment Audience ID doesn't match TikToks Audience ID.")
  }
}
