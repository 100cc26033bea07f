/**
 * Authentication of a destination with TikTok besides OAuth: paste a long-lived token (auth-tested,
 * stored encrypted, resumes a paused destination), run the auth test, and the legacy actions'
 * dynamic dropdowns, which call TikTok with the destination's token.
 */
import type { Static } from '@sinclair/typebox'
import type { FastifyPluginAsync } from 'fastify'
import { isActionKey, runDynamicField } from '../../destination/index.js'
import { getDestination } from '../../store/sql/config.js'
import { storeDestinationToken } from '../../store/sql/admin-config.js'
import { TikTokError } from '../../tiktok/errors.js'
import type { ServerContext } from '../context.js'
import { destinationSchema, destinationView } from './destination-view.js'
import { ApiError, badRequest, notFound } from './errors.js'
import { destinationOr404 } from './lookup.js'
import { testAuthentication } from './tiktok-auth.js'
import { dynamicFieldClient } from './tiktok-lookups.js'
import { S, typed } from './validation.js'
import { must } from '../../util/must.js'

const choicesParams = S.obj({ id: S.int({ minimum: 1 }), action: S.str(), field: S.str() }, ['id', 'action', 'field'])

export const destinationAuthRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (fastify, { ctx }) => {
  const app = typed(fastify)
  const { db, secrets } = ctx.store

  app.post(
    '/destinations/:id/token',
    {
      schema: {
        params: S.idParams,
        body: S.obj({ accessToken: S.nonEmpty({ maxLength: 4096 }), advertiserIds: S.arr(S.str({ pattern: '^[0-9]+$' })) }, ['accessToken']),
        response: { 200: destinationSchema }
      }
    },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const token = request.body.accessToken.trim()
      const auth = await testAuthentication(ctx.tiktok, token)
      if (!auth.ok) throw new ApiError(400, auth.message, 'accessToken', auth.tiktok ? { tiktok: auth.tiktok } : {})
      let advertiserIds = request.body.advertiserIds ?? d.advertiserIds
      if (ctx.oauth.appId && ctx.oauth.secret) {
        try {
          const granted = await ctx.tiktok.withToken(token).authorizedAdvertisers(ctx.oauth.appId, ctx.oauth.secret)
          if (granted.length > 0) advertiserIds = granted.map((a) => String(a.advertiser_id))
        } catch (err) {
          if (!(err instanceof TikTokError)) throw err
          ctx.log.warn({ destination: d.id, err: err.message }, 'cannot list the advertisers of a pasted token; keeping the given ones')
        }
      }
      await storeDestinationToken(db, secrets, d.id, token, advertiserIds)
      ctx.pipeline.poke()
      return destinationView(ctx, must(await getDestination(db, secrets, d.id), `destination ${d.id}`))
    }
  )

  app.post('/destinations/:id/test-auth', { schema: { params: S.idParams, response: { 200: S.out({ ok: S.bool(), message: S.str() }) } } }, async (request) => {
    const d = await destinationOr404(ctx, request.params.id)
    const auth = await testAuthentication(ctx.tiktok, d.accessToken)
    return auth.ok ? { ok: true } : auth
  })

  // The body is the mapping's current values, checked here (no schema): any JSON object.
  app.post<{ Params: Static<typeof choicesParams>; Body: Record<string, unknown> | undefined }>(
    '/destinations/:id/actions/:action/fields/:field/choices',
    {
      schema: {
        params: choicesParams
      }
    },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const { action, field } = request.params
      if (!isActionKey(action)) throw notFound(`action "${action}"`)
      const values = request.body ?? {}
      if (typeof values !== 'object' || Array.isArray(values)) throw badRequest("the body must be the mapping's current values, as a JSON object", 'body')
      const client = dynamicFieldClient(ctx.tiktok.withToken(d.accessToken ?? undefined))
      return runDynamicField(action, field, client, { settings: { advertiser_ids: d.advertiserIds }, payload: values })
    }
  )
}
