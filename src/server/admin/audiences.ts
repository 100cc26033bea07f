/**
 * Audiences (seen in traffic or declared by a connection) and their connections to destinations:
 * Segment's "Add Destination" side panel — Send Track, Send Identify, event names, Advertiser ID —
 * and, for native destinations, the TikTok audience created or verified on connect. Plus health.
 */
import type { FastifyPluginAsync } from 'fastify'
import { listAudiences, listConnections, listDestinations, upsertConnection } from '../../store/sql/config.js'
import { deleteConnection } from '../../store/sql/admin-config.js'
import { targetState, type Connection, type ConnectionTarget, type Destination } from '../../store/model.js'
import { AudienceOwnershipError, audienceNamed, createPartnerAudience, resolveTarget, verifyOwnership } from '../../tiktok/audiences.js'
import { TikTokError } from '../../tiktok/errors.js'
import type { ServerContext } from '../context.js'
import { ApiError, badRequest, notFound } from './errors.js'
import { destinationOr404 } from './lookup.js'
import { AUTH_MESSAGES } from './tiktok-auth.js'
import { S, typed } from './validation.js'
import { Type } from '@sinclair/typebox'
import { CONNECTION_DEFAULTS } from '../../util/defaults.js'
import { parseTikTokTime, warningsOf } from '../../lifecycle/health/index.js'

const keyParams = S.audienceParams

function connectionStatus(d: Destination): 'connected' | 'paused' | 'disabled' {
  if (!d.enabled) return 'disabled'
  return d.status === 'active' ? 'connected' : 'paused'
}

const connectionView = (c: Connection, d: Destination) => ({
  destinationId: d.id,
  destinationName: d.name,
  mode: d.mode,
  audienceKey: c.audienceKey,
  audienceName: c.audienceName,
  advertiserId: c.advertiserId,
  externalAudienceId: c.externalAudienceId,
  // Fan-out (SPEC §5.7): every advertiser, the first being advertiserId / externalAudienceId above.
  advertiserIds: c.targets.map((t) => t.advertiserId),
  targets: c.targets.map((t) => ({ advertiserId: t.advertiserId, externalAudienceId: t.externalAudienceId, state: targetState(t), error: t.error })),
  sendTrack: c.sendTrack,
  sendIdentify: c.sendIdentify,
  enterEvent: c.enterEvent,
  exitEvent: c.exitEvent,
  status: connectionStatus(d)
})

/**
 * The connection's advertisers, first one first: `advertiserIds`; else `advertiserId` before the
 * further ones already stored; else those stored; else the destination's first. Each must be one of
 * the destination's authorised advertisers.
 */
function advertisersOf(d: Destination, existing: Connection | undefined, b: { advertiserId?: string; advertiserIds?: string[] }): string[] {
  if (b.advertiserId !== undefined && b.advertiserIds && b.advertiserIds[0] !== b.advertiserId) {
    throw badRequest(`"advertiserId" must be the first of "advertiserIds" (${b.advertiserIds.join(', ')}), or left out`, 'advertiserId')
  }
  const stored = existing?.targets.map((t) => t.advertiserId) ?? []
  const list =
    b.advertiserIds ??
    (b.advertiserId !== undefined
      ? [b.advertiserId, ...stored.slice(1).filter((a) => a !== b.advertiserId)]
      : stored.length
        ? stored
        : d.advertiserIds.slice(0, 1))
  const field = b.advertiserIds ? 'advertiserIds' : 'advertiserId'
  for (const adv of b.advertiserIds ?? (b.advertiserId !== undefined ? [b.advertiserId] : [])) {
    if (d.advertiserIds.includes(adv)) continue
    throw badRequest(
      d.advertiserIds.length
        ? field === 'advertiserId'
          ? `"advertiserId" must be one of the destination's authorised advertisers: ${d.advertiserIds.join(', ')}`
          : `"advertiserIds": ${adv} is not one of the destination's authorised advertisers: ${d.advertiserIds.join(', ')}`
        : `"${field}": this destination has no authorised advertisers yet; connect TikTok (OAuth) first`,
      field
    )
  }
  return list
}

/** A TikTok failure while connecting: the reference message for a foreign/unknown id, the auth message for a bad token. */
function tiktokFailure(err: TikTokError, verifying: boolean): ApiError {
  const tiktok = { tiktok: { code: err.code, message: err.message } }
  if (err.kind === 'auth') return new ApiError(409, AUTH_MESSAGES.invalidToken, undefined, tiktok)
  if (verifying && err.kind === 'permanent')
    return new ApiError(400, 'Unable to verify ownership over audience. Audience ID not found.', 'externalAudienceId', tiktok)
  return new ApiError(502, `TikTok could not ${verifying ? 'verify' : 'create'} the audience: ${err.message}`, undefined, tiktok)
}

export const audienceRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db, secrets } = ctx.store

  app.get('/audiences', async () => {
    const [seen, connections, destinations] = await Promise.all([listAudiences(db), listConnections(db), listDestinations(db, secrets)])
    const destById = new Map(destinations.map((d) => [d.id, d]))
    const out = new Map<
      string,
      {
        key: string
        name: string | null
        sourceId: number | null
        firstSeenAt: number | null
        lastSeenAt: number | null
        seen: boolean
        destinations: ReturnType<typeof connectionView>[]
      }
    >()
    for (const a of seen)
      out.set(`${a.sourceId}|${a.key}`, {
        key: a.key,
        name: a.name,
        sourceId: a.sourceId,
        firstSeenAt: a.firstSeenAt,
        lastSeenAt: a.lastSeenAt,
        seen: true,
        destinations: []
      })
    for (const c of connections) {
      const d = destById.get(c.destinationId)
      if (!d) continue
      const k = `${d.sourceId}|${c.audienceKey}`
      let entry = out.get(k)
      if (!entry) {
        entry = { key: c.audienceKey, name: c.audienceName, sourceId: d.sourceId, firstSeenAt: null, lastSeenAt: null, seen: false, destinations: [] }
        out.set(k, entry)
      }
      entry.name ??= c.audienceName
      entry.destinations.push(connectionView(c, d))
    }
    return [...out.values()]
  })

  app.get('/destinations/:id/audiences', { schema: { params: S.idParams } }, async (request) => {
    const d = await destinationOr404(ctx, request.params.id)
    return (await listConnections(db, d.id)).map((c) => connectionView(c, d))
  })

  async function connectionOr404(d: Destination, key: string): Promise<Connection> {
    const c = (await listConnections(db, d.id)).find((x) => x.audienceKey === key)
    if (!c) throw notFound(`audience "${key}" connected to destination ${d.id}`)
    return c
  }

  app.get('/destinations/:id/audiences/:key', { schema: { params: keyParams } }, async (request) => {
    const d = await destinationOr404(ctx, request.params.id)
    return connectionView(await connectionOr404(d, request.params.key), d)
  })

  app.put(
    '/destinations/:id/audiences/:key',
    {
      schema: {
        params: keyParams,
        body: S.obj({
          name: S.nonEmpty({ maxLength: 500 }),
          advertiserId: S.str({ pattern: '^[0-9]+$' }),
          externalAudienceId: S.str({ pattern: '^[0-9]+$' }),
          advertiserIds: Type.Array(S.str({ pattern: '^[0-9]+$' }), { minItems: 1, maxItems: 50, uniqueItems: true }),
          externalAudienceIds: Type.Record(Type.String({ pattern: '^[0-9]+$' }), S.str({ pattern: '^[0-9]+$' })),
          sendTrack: S.bool(),
          sendIdentify: S.bool(),
          enterEvent: S.nonEmpty({ maxLength: 200 }),
          exitEvent: S.nonEmpty({ maxLength: 200 }),
          allowDuplicate: S.bool()
        })
      }
    },
    async (request, reply) => {
      const d = await destinationOr404(ctx, request.params.id)
      const key = request.params.key
      const b = request.body
      const existing = (await listConnections(db, d.id)).find((x) => x.audienceKey === key)
      const advertisers = advertisersOf(d, existing, b)
      const advertiserId = advertisers[0] ?? null
      const given = new Map(Object.entries(b.externalAudienceIds ?? {}))
      for (const adv of given.keys())
        if (!advertisers.includes(adv))
          throw badRequest(`"externalAudienceIds": ${adv} is not one of the connection's advertisers (${advertisers.join(', ')})`, 'externalAudienceIds')
      if (b.externalAudienceId !== undefined && advertiserId) {
        if (given.has(advertiserId) && given.get(advertiserId) !== b.externalAudienceId)
          throw badRequest(`"externalAudienceId" differs from "externalAudienceIds.${advertiserId}"`, 'externalAudienceId')
        given.set(advertiserId, b.externalAudienceId)
      }
      const seenName = (await listAudiences(db)).find((a) => a.key === key && a.sourceId === d.sourceId)?.name ?? null
      const name = b.name ?? existing?.audienceName ?? seenName
      // The audience stored for this advertiser (a connection whose first advertiser changed gets that one's).
      const storedFirst =
        advertiserId && existing?.targets.length
          ? (existing.targets.find((t) => t.advertiserId === advertiserId)?.externalAudienceId ?? null)
          : (existing?.externalAudienceId ?? null)
      const givenFirst = (advertiserId ? given.get(advertiserId) : undefined) ?? b.externalAudienceId
      let externalAudienceId = givenFirst ?? storedFirst
      let created = false
      if (d.mode === 'native') {
        if (!advertiserId) throw badRequest('"advertiserId" is required to connect an audience to a native destination', 'advertiserId')
        if (!d.accessToken) throw new ApiError(409, AUTH_MESSAGES.noToken)
        const client = ctx.tiktok.withToken(d.accessToken)
        if (!externalAudienceId) {
          // Creating is not idempotent on TikTok (duplicate names are allowed): only without an id,
          // and a twin of an audience the advertiser already has only when asked for.
          try {
            const twin = b.allowDuplicate ? undefined : await audienceNamed(client, advertiserId, name ?? key)
            if (twin) {
              throw new ApiError(
                409,
                `advertiser ${advertiserId} already has an audience named "${name ?? key}" (${twin}): connect that one (externalAudienceId: "${twin}") or create another (allowDuplicate: true)`,
                'externalAudienceId',
                { duplicateOf: twin }
              )
            }
            externalAudienceId = await createPartnerAudience(client, advertiserId, name ?? key)
            created = true
          } catch (err) {
            if (err instanceof TikTokError) throw tiktokFailure(err, false)
            throw err
          }
        } else if (givenFirst !== undefined && givenFirst !== storedFirst) {
          try {
            await verifyOwnership(client, advertiserId, externalAudienceId)
          } catch (err) {
            if (err instanceof TikTokError) throw tiktokFailure(err, true)
            if (err instanceof AudienceOwnershipError) throw badRequest(err.message, 'externalAudienceId')
            throw err
          }
        }
      }
      // Fan-out: each further advertiser's audience, checked or created; TikTok refusing one is that
      // advertiser's error (in `targets`), not the request's.
      const more: ConnectionTarget[] = []
      for (const adv of advertisers.slice(1)) {
        const stored = existing?.targets.find((t) => t.advertiserId === adv)
        if (d.mode !== 'native') more.push({ advertiserId: adv, externalAudienceId: given.get(adv) ?? stored?.externalAudienceId ?? null, error: null })
        else
          more.push(
            (
              await resolveTarget(ctx.tiktok.withToken(d.accessToken ?? undefined), adv, name ?? key, {
                given: given.get(adv),
                stored,
                allowDuplicate: b.allowDuplicate
              })
            ).target
          )
      }
      const c = await upsertConnection(
        db,
        {
          destinationId: d.id,
          audienceKey: key,
          audienceName: name,
          advertiserId,
          externalAudienceId,
          sendTrack: b.sendTrack ?? existing?.sendTrack ?? CONNECTION_DEFAULTS.sendTrack,
          sendIdentify: b.sendIdentify ?? existing?.sendIdentify ?? CONNECTION_DEFAULTS.sendIdentify,
          enterEvent: b.enterEvent ?? existing?.enterEvent ?? CONNECTION_DEFAULTS.enterEvent,
          exitEvent: b.exitEvent ?? existing?.exitEvent ?? CONNECTION_DEFAULTS.exitEvent
        },
        more
      )
      ctx.pipeline.poke()
      return reply.code(existing ? 200 : 201).send({ ...connectionView(c, d), created })
    }
  )

  app.delete('/destinations/:id/audiences/:key', { schema: { params: keyParams } }, async (request, reply) => {
    const d = await destinationOr404(ctx, request.params.id)
    if (!(await deleteConnection(db, d.id, request.params.key))) throw notFound(`audience "${request.params.key}" connected to destination ${d.id}`)
    return reply.code(204).send()
  })

  app.get<{ Params: { id: number; key: string }; Querystring: { advertiserId?: string } }>(
    '/destinations/:id/audiences/:key/health',
    { schema: { params: keyParams, querystring: S.advertiserQuery } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const c = await connectionOr404(d, request.params.key)
      // One advertiser of a fan-out connection (default: the first, which the connection row holds).
      const wanted = request.query.advertiserId
      const target =
        wanted === undefined ? { advertiserId: c.advertiserId, externalAudienceId: c.externalAudienceId } : c.targets.find((t) => t.advertiserId === wanted)
      if (!target)
        throw notFound(`advertiser ${wanted} of audience "${c.audienceKey}" (its advertisers: ${c.targets.map((t) => t.advertiserId).join(', ') || 'none'})`)
      const { advertiserId, externalAudienceId } = target
      if (!externalAudienceId || !advertiserId) throw new ApiError(409, 'this connection has no TikTok audience id (or no advertiser) yet: nothing to check')
      let list
      try {
        list = await ctx.tiktok.withToken(d.accessToken ?? undefined).getAudiences(advertiserId, [externalAudienceId])
      } catch (err) {
        if (!(err instanceof TikTokError)) throw err
        throw new ApiError(err.kind === 'auth' ? 409 : 502, `TikTok could not report on audience ${externalAudienceId}: ${err.message}`, undefined, {
          tiktok: { code: err.code, message: err.message }
        })
      }
      const a = list[0]?.audience_details
      if (!a) throw notFound(`TikTok audience ${externalAudienceId} of advertiser ${advertiserId}`)
      // The same rules as the recorded reads (src/lifecycle/health), applied to this live one.
      const warnings = warningsOf({
        coverNum: Number(a.cover_num),
        expiresAt: parseTikTokTime(a.expired_time) ?? null,
        isExpiring: a.is_expiring === true,
        error: null
      }).map((w) => w.message)
      return {
        audienceKey: c.audienceKey,
        advertiserId,
        audience_id: String(a.audience_id),
        name: a.name,
        cover_num: a.cover_num,
        is_valid: a.is_valid,
        is_expiring: a.is_expiring,
        expired_time: a.expired_time ?? null,
        warnings,
        note: 'TikTok takes 24–48 hours to show new members.'
      }
    }
  )
}
