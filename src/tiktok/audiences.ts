/**
 * Connecting an audience to a native destination, wherever it happens (config file, admin API):
 * create its TikTok Partner audience, or verify that an id given for it belongs to the advertiser.
 */
import type { TikTokClient } from './client.js'
import { TikTokError } from './errors.js'

/** TikTok cuts names over 70 characters to 67 + "..."; done before sending so what we send is what is stored. */
export function truncateAudienceName(name: string): string {
  const chars = Array.from(name)
  return chars.length > 70 ? `${chars.slice(0, 67).join('')}...` : name
}

/** One advertiser's TikTok audience for a connection as resolveTarget settles it (the store keeps it as a ConnectionTarget). */
export interface ResolvedTarget {
  advertiserId: string
  /** Null when creating or checking it failed (`error`). */
  externalAudienceId: string | null
  error: string | null
}

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

/**
 * The advertiser's audience of that name (as TikTok stores it: cut to 70 characters), if any —
 * every page of the audience list is read. Used so that creating an audience never makes a twin.
 */
export async function audienceNamed(client: TikTokClient, advertiserId: string, name: string): Promise<string | undefined> {
  const wanted = truncateAudienceName(name)
  const found = (await client.listAllAudiences(advertiserId)).find((a) => a.name === wanted)
  return found ? String(found.audience_id) : undefined
}

/** The advertiser's audience of that name, or a new one: `reused` says which. */
export async function createOrReuseAudience(client: TikTokClient, advertiserId: string, name: string): Promise<{ audienceId: string; reused: boolean }> {
  const existing = await audienceNamed(client, advertiserId, name)
  if (existing) return { audienceId: existing, reused: true }
  return { audienceId: await createPartnerAudience(client, advertiserId, name), reused: false }
}

/**
 * One further advertiser's TikTok audience for a connection (fan-out, SPEC §5.7): an id `given` is
 * checked with TikTok unless it is the one `stored`; without one, the stored id is kept, else the
 * advertiser's audience of that name is reused (or, `allowDuplicate`, a new one created). TikTok's
 * refusal is returned as that advertiser's error — `failed` says whether checking or creating — so
 * one advertiser never holds up the others.
 */
export async function resolveTarget(
  client: TikTokClient,
  advertiserId: string,
  name: string,
  opts: { given?: string; stored?: ResolvedTarget; allowDuplicate?: boolean }
): Promise<{ target: ResolvedTarget; failed?: 'verify' | 'create' }> {
  const stored = opts.stored?.externalAudienceId ?? null
  const id = opts.given ?? stored
  try {
    if (id) {
      if (id !== stored) await verifyOwnership(client, advertiserId, id)
      return { target: { advertiserId, externalAudienceId: id, error: null } }
    }
    const created = opts.allowDuplicate
      ? await createPartnerAudience(client, advertiserId, name)
      : (await createOrReuseAudience(client, advertiserId, name)).audienceId
    return { target: { advertiserId, externalAudienceId: created, error: null } }
  } catch (err) {
    if (!(err instanceof TikTokError) && !(err instanceof AudienceOwnershipError)) throw err
    const failed = id ? 'verify' : 'create'
    const error = `${failed === 'verify' ? `cannot verify audience ${id}` : 'cannot create the audience'} for advertiser ${advertiserId}: ${err.message}`
    return { target: { advertiserId, externalAudienceId: null, error }, failed }
  }
}
