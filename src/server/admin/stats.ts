/** `GET /api/stats`: events received; changes delivered, failed, pending, and pending behind a retry. */
import type { FastifyPluginAsync } from 'fastify'
import { serviceStats } from '../../store/sql/admin-stats.js'
import type { ServerContext } from '../context.js'
import { S } from './validation.js'

const count = S.int({ minimum: 0 })

export const statsRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.get(
    '/stats',
    {
      schema: {
        response: { 200: S.out({ received: count, delivered: count, failed: count, pending: count, retrying: count, superseded: count, filtered: count }) }
      }
    },
    async () => serviceStats(ctx.store.db)
  )
}
