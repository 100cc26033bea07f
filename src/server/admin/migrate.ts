/** `POST /api/destinations/{id}/migrate` (`{"dryRun"}`): the admin API's door to src/lifecycle/migrate. */
import type { FastifyPluginAsync } from 'fastify'
import { migrateDestination, MigrationRefused } from '../../lifecycle/migrate/index.js'
import type { ServerContext } from '../context.js'
import { ApiError } from './errors.js'
import { destinationOr404 } from './lookup.js'
import { S } from './validation.js'

export const migrateRoutes: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.post<{ Params: { id: number }; Body: { dryRun?: boolean } | undefined }>(
    '/destinations/:id/migrate',
    { schema: { params: S.idParams, body: S.obj({ dryRun: S.bool() }) } },
    async (request) => {
      const d = await destinationOr404(ctx, request.params.id)
      try {
        const result = await migrateDestination(ctx.store, ctx.tiktok, d, { dryRun: request.body?.dryRun === true })
        if (!result.dryRun) ctx.pipeline.poke()
        return result
      } catch (err) {
        if (err instanceof MigrationRefused) throw new ApiError(err.status, err.message, err.field)
        throw err
      }
    }
  )
}
