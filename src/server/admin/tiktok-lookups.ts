/**
 * Read-only TikTok look-ups of the admin API: advertiser names (cached briefly: the settings page
 * asks on every view) and the dynamic-field client the legacy actions' dropdowns use.
 */
import type { DynamicFieldClient } from '../../destination/index.js'
import type { TikTokClient } from '../../tiktok/client.js'
import { TikTokError } from '../../tiktok/errors.js'

const NAME_TTL_MS = 5 * 60_000
const names = new Map<string, { name: string; at: number }>()

/** `[{id, name}]` for the destination's advertisers; name null when TikTok cannot say. */
export async function advertisersWithNames(tiktok: TikTokClient, accessToken: string | null, ids: string[]): Promise<{ id: string; name: string | null }[]> {
  const now = Date.now()
  const missing = ids.filter((id) => {
    const hit = names.get(id)
    return !hit || now - hit.at > NAME_TTL_MS
  })
  if (missing.length > 0 && accessToken) {
    try {
      for (const a of await tiktok.withToken(accessToken).advertiserInfo(missing)) names.set(String(a.advertiser_id), { name: a.name, at: now })
    } catch (err) {
      if (!(err instanceof TikTokError)) throw err
    }
  }
  return ids.map((id) => ({ id, name: names.get(id)?.name ?? null }))
}

/** TikTok's envelope for the dynamic-field handlers: a TikTokError becomes `{code, message}`. */
export function dynamicFieldClient(client: TikTokClient): DynamicFieldClient {
  const envelope = async <T>(call: () => Promise<T>) => {
    try {
      return { code: 0, message: 'OK', data: await call() }
    } catch (err) {
      if (!(err instanceof TikTokError)) throw err
      return { code: err.code ?? -1, message: err.message }
    }
  }
  return {
    advertiserInfo: (ids) =>
      envelope(async () => ({ list: (await client.advertiserInfo(ids)).map((a) => ({ advertiser_id: String(a.advertiser_id), name: a.name })) })),
    listAudiences: (advertiserId, page, pageSize) =>
      envelope(async () => {
        const r = await client.listAudiences(advertiserId, page, pageSize)
        return { list: r.list.map((a) => ({ audience_id: String(a.audience_id), name: a.name })), page_info: r.page_info }
      })
  }
}
