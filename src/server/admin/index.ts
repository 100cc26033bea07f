/**
 * The admin API under `/api`: JSON in and out, schemas on every route, 400 naming the field for
 * bad input, 404 for unknown ids. Authentication is one hook (`requireAdmin`): HTTP Basic, or a
 * console session with its CSRF token for writes.
 */
import type { FastifyPluginAsync } from 'fastify'
import { requireAdmin } from '../admin-auth.js'
import type { ServerContext } from '../context.js'
import { actionRoutes } from './actions.js'
import { audienceRoutes } from './audiences.js'
import { audienceHealthRoutes } from './audience-health.js'
import { deliveryRoutes } from './delivery.js'
import { destinationAuthRoutes } from './destination-auth.js'
import { destinationRoutes } from './destinations.js'
import { adminErrorHandler } from './errors.js'
import { forgetRoutes } from './forget.js'
import { identifierQualityRoutes } from './identifier-quality.js'
import { mappingRoutes } from './mappings.js'
import { migrateRoutes } from './migrate.js'
import { segmentConnectRoutes, sourceRoutes } from './sources.js'
import { statsRoutes } from './stats.js'
import { syncRoutes } from './syncs.js'
import { testMappingRoutes } from './test-mapping.js'
import { adminValidatorCompiler } from './validation.js'
import { openApiRoute } from '../openapi.js'

export const adminApiPlugin: FastifyPluginAsync<{ ctx: ServerContext }> = async (app, { ctx }) => {
  app.addHook('onRequest', requireAdmin(ctx))
  app.setValidatorCompiler(adminValidatorCompiler)
  app.setErrorHandler(adminErrorHandler(ctx.log))
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no admin route ${request.method} ${request.url}` }))
  for (const routes of [
    statsRoutes,
    sourceRoutes,
    segmentConnectRoutes,
    destinationRoutes,
    destinationAuthRoutes,
    mappingRoutes,
    testMappingRoutes,
    audienceRoutes,
    audienceHealthRoutes,
    migrateRoutes,
    deliveryRoutes,
    identifierQualityRoutes,
    syncRoutes,
    forgetRoutes
  ]) {
    await app.register(routes, { ctx })
  }
  await app.register(actionRoutes)
  openApiRoute(app)
}
