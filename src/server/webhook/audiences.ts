/**
 * Webhook Audiences' *Create Audience* and *Get Audience* calls: an Engage audience becomes a
 * connection of one of the source's native destinations, its TikTok audience created — or, when
 * the advertiser already has one of that name, reused (no twins).
 */
import type { Connection, Destination } from '../../store/model.js'
import { upsertConnection } from '../../store/sql/config.js'
import { createOrReuseAudience } from '../../tiktok/audiences.js'
import type { ServerContext } from '../context.js'
import type { RoutedDestination } from '../../pipeline/routing-table.js'
import { CONNECTION_DEFAULTS } from '../../util/defaults.js'

/** A refusal with its status and a message naming what to fix. */
export class WebhookError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 502,
    message: string
  ) {
    super(message)
  }
}

type Obj = Record<string, unknown>

/** Engage's audience key for a name (`High Value Users` → `high_value_users`), as the connection's key. */
export function audienceKeyOf(name: string): string {
  return (
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'audience'
  )
}

function nativeDestinations(ctx: ServerContext, sourceId: number): RoutedDestination[] {
  return ctx.pipeline.table.destinationsOf(sourceId).filter((r) => r.destination.mode === 'native')
}

const names = (list: RoutedDestination[]) => list.map((r) => JSON.stringify(r.destination.name)).join(', ') || 'none'

/** The destination the extras name (`destination`: its name or id), or the source's only native one. */
function destinationOf(ctx: ServerContext, sourceId: number, extras: Obj): Destination {
  const list = nativeDestinations(ctx, sourceId)
  const wanted = extras.destination
  if (wanted === undefined || wanted === '') {
    const [only] = list
    if (list.length === 1 && only) return only.destination
    throw new WebhookError(
      400,
      `name the destination in the audience's extras, e.g. {"destination": "TikTok Audiences", "advertiserId": "…"}: this source has ${list.length === 0 ? 'no native destination' : `several native destinations (${names(list)})`}`
    )
  }
  if (typeof wanted !== 'string' && typeof wanted !== 'number') throw new WebhookError(400, '"destination" in the extras must be the destination\'s name')
  const found = list.find((r) => r.destination.name === String(wanted) || String(r.destination.id) === String(wanted))
  if (!found)
    throw new WebhookError(400, `no native destination named ${JSON.stringify(String(wanted))} on this source; its native destinations: ${names(list)}`)
  return found.destination
}

function advertiserOf(dest: Destination, extras: Obj): string {
  const wanted = extras.advertiserId ?? extras.advertiser_id
  if (wanted === undefined || wanted === '') {
    const [only] = dest.advertiserIds
    if (dest.advertiserIds.length === 1 && only !== undefined) return only
    throw new WebhookError(
      400,
      `name the advertiser in the audience's extras ("advertiserId"): destination "${dest.name}" ${dest.advertiserIds.length === 0 ? 'has no advertiser yet (connect TikTok in the console)' : `may use several: ${dest.advertiserIds.join(', ')}`}`
    )
  }
  const id = String(wanted)
  if (!dest.advertiserIds.includes(id)) {
    throw new WebhookError(
      400,
      `advertiser ${id} is not one destination "${dest.name}" may use; these are: ${dest.advertiserIds.join(', ') || 'none (connect TikTok in the console)'}`
    )
  }
  return id
}

/** The connection (of a native destination of this source) whose TikTok audience id is `externalId`. */
export function connectionWithId(ctx: ServerContext, sourceId: number, externalId: string): { destination: Destination; connection: Connection } | undefined {
  for (const r of nativeDestinations(ctx, sourceId)) {
    for (const c of r.connections.values()) if (c.externalAudienceId === externalId) return { destination: r.destination, connection: c }
  }
  return undefined
}

/** Create Audience: `{"audienceName", …extras}` → the TikTok audience id, connected. */
export async function createWebhookAudience(ctx: ServerContext, sourceId: number, body: Obj): Promise<{ externalId: string; reused: boolean }> {
  const name = body.audienceName
  if (typeof name !== 'string' || name.trim() === '') throw new WebhookError(400, '"audienceName" is required: the Engage audience\'s name')
  await ctx.pipeline.table.refresh()
  const dest = destinationOf(ctx, sourceId, body)
  const advertiserId = advertiserOf(dest, body)
  if (!dest.accessToken)
    throw new WebhookError(400, `destination "${dest.name}" is not connected to TikTok: connect it in the console (Settings → Connect TikTok)`)
  const key = audienceKeyOf(name)
  const existing = ctx.pipeline.table.destination(dest.id)?.connections.get(key)
  if (existing?.externalAudienceId && existing.advertiserId === advertiserId) return { externalId: existing.externalAudienceId, reused: true }
  let created: { audienceId: string; reused: boolean }
  try {
    created = await createOrReuseAudience(ctx.tiktok.withToken(dest.accessToken), advertiserId, name)
  } catch (err) {
    throw new WebhookError(502, `TikTok did not create the audience: ${(err as Error).message}`)
  }
  await upsertConnection(ctx.store.db, {
    destinationId: dest.id,
    audienceKey: key,
    audienceName: name,
    advertiserId,
    externalAudienceId: created.audienceId,
    sendTrack: true,
    sendIdentify: true,
    enterEvent: CONNECTION_DEFAULTS.enterEvent,
    exitEvent: CONNECTION_DEFAULTS.exitEvent
  })
  await ctx.pipeline.table.refresh(true)
  ctx.log.info({ destination: dest.name, audience: key, audienceId: created.audienceId, reused: created.reused }, 'webhook audience connected')
  return { externalId: created.audienceId, reused: created.reused }
}

/** Get Audience: `{"externalId"}` → itself when that audience is connected on this source. */
export async function getWebhookAudience(ctx: ServerContext, sourceId: number, body: Obj): Promise<{ externalId: string }> {
  const id = body.externalId
  if ((typeof id !== 'string' && typeof id !== 'number') || String(id) === '')
    throw new WebhookError(400, '"externalId" is required: the TikTok audience id Create Audience answered')
  // Known already in most calls; else the configuration may have changed in another process.
  if (!connectionWithId(ctx, sourceId, String(id))) await ctx.pipeline.table.refresh()
  if (!connectionWithId(ctx, sourceId, String(id)))
    throw new WebhookError(404, `no audience with externalId ${String(id)} is connected on this source: create it first (Create Audience URL)`)
  return { externalId: String(id) }
}
