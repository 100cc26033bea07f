/**
 * `GET /api/destinations/{id}/identifier-quality`: the identifier-quality report of live traffic
 * (SPEC §5 item 4, what `tiktok-audiences report` gives for a file) — per identifier, how many
 * changes had it hashed, pre-hashed, repaired, rejected, empty or disabled, and the `recommended`
 * policy's matching choices. The counters are this process's since it started (as in /metrics).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ServerContext } from '../context.js'
import { destinationOr404 } from './lookup.js'
import { S } from './validation.js'

const STARTED_AT = Date.now()
const IDENTIFIERS = ['email', 'phone', 'advertising_id'] as const

export const identifierQualityRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get<{ Params: { id: number } }>('/destinations/:id/identifier-quality', { schema: { params: S.idParams } }, async (request) => {
    const d = await destinationOr404(ctx, request.params.id)
    const tally = ctx.pipeline.quality.snapshot().get(d.id)
    return {
      since: STARTED_AT,
      identifiers: IDENTIFIERS.map((identifier) => ({ identifier, counts: { ...(tally?.[identifier] ?? {}) } as Record<string, number> }))
    }
  })
}
