/**
 * The recorded audience health (src/lifecycle/health) for the console: the latest read of every
 * connected audience with its warnings (the banner), and one audience's reads over time (its trend).
 */
import type { FastifyPluginAsync } from 'fastify'
import { healthHistory, latestHealthReads, warningsOf, type HealthRead } from '../../lifecycle/health/index.js'
import { listDestinations } from '../../store/sql/config.js'
import type { ServerContext } from '../context.js'
import { destinationOr404 } from './lookup.js'
import { S } from './validation.js'

const keyParams = S.audienceParams

const readView = (r: HealthRead, now: number) => ({
  checkedAt: r.checkedAt,
  coverNum: r.coverNum,
  isValid: r.isValid,
  isExpiring: r.isExpiring,
  expiresAt: r.expiresAt,
  error: r.error,
  warnings: warningsOf(r, now)
})

export const audienceHealthRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  const { db, secrets } = ctx.store

  app.get('/audience-health', async () => {
    const now = Date.now()
    const names = new Map((await listDestinations(db, secrets)).map((d) => [d.id, d.name]))
    const audiences = (await latestHealthReads(db)).map((r) => ({
      destinationId: r.destinationId,
      destinationName: names.get(r.destinationId) ?? null,
      audienceKey: r.audienceKey,
      advertiserId: r.advertiserId,
      externalAudienceId: r.externalAudienceId,
      ...readView(r, now)
    }))
    return { audiences, warnings: audiences.filter((a) => a.warnings.length > 0).length }
  })

  // `advertiserId`: that advertiser's reads only (a fan-out connection has one TikTok audience per advertiser).
  app.get<{ Params: { id: number; key: string }; Querystring: { advertiserId?: string } }>(
    '/destinations/:id/audiences/:key/health/history',
    { schema: { params: keyParams, querystring: S.advertiserQuery } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      const now = Date.now()
      const reads = await healthHistory(db, d.id, request.params.key, 100, request.query.advertiserId)
      return {
        audienceKey: request.params.key,
        reads: reads.map((r) => ({ advertiserId: r.advertiserId, externalAudienceId: r.externalAudienceId, ...readView(r, now) }))
      }
    }
  )
}
