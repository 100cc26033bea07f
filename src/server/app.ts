/**
 * The HTTP service: one Fastify app, plugins with clear boundaries — health and metrics,
 * Segment-compatible ingestion, the admin API, OAuth, and the built-in TikTok emulator.
 */
import type { Server } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify'
import { emulatorPlugin } from '../emulator/index.js'
import type { ServerContext } from './context.js'
import { ping } from '../store/sql/config.js'
import { ingestionPlugin } from './ingestion.js'
import { adminApiPlugin } from './admin/index.js'
import { registerOpenApi } from './openapi.js'
import { oauthPlugin } from './oauth.js'
import { consolePlugin } from './console.js'
import { sessionPlugin } from './session.js'
import { consoleSupportPlugin } from './admin/console-support.js'
import { httpLimits, httpServerOptions, type HttpLimits } from './http-limits.js'
import { DATABASE_UNAVAILABLE, retryLater } from './retry-later.js'
import { isDatabaseUnavailable } from '../store/errors.js'

export interface AppOptions {
  /** Mount the TikTok emulator at /emulator. */
  emulator: boolean
  /** Timeouts and the connection cap (default: from the environment). */
  limits?: HttpLimits
  /** Its journal file (state kept across restarts); in memory without. */
  emulatorStateFile?: string
}

/**
 * TRUST_PROXY: whether `X-Forwarded-For`/`-Proto` name the client (behind a reverse proxy): `true`,
 * or the proxies' addresses (comma-separated). Off by default — otherwise any client could pick its own
 * address and step around the sign-in throttle.
 */
export function trustProxySetting(value = process.env.TRUST_PROXY): boolean | string {
  const v = value?.trim() ?? ''
  if (v === '' || v === 'false' || v === '0') return false
  return v === 'true' || v === '1' ? true : v
}

export async function buildApp(ctx: ServerContext, opts: AppOptions): Promise<FastifyInstance> {
  const limits = opts.limits ?? httpLimits()
  const options: FastifyHttpOptions<Server> = {
    logger: false,
    routerOptions: { ignoreTrailingSlash: true },
    trustProxy: trustProxySetting(),
    http: httpServerOptions(limits),
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    // Requests arriving while the server closes are answered by the hook below (with Retry-After).
    return503OnClosing: false
  }
  const app = Fastify(options)
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.server.maxConnections = limits.maxConnections
  let lastDropWarning = 0
  app.server.on('drop', () => {
    // Once a minute at most: a flood of refused connections must not flood the log too.
    const now = Date.now()
    if (now - lastDropWarning < 60_000) return
    lastDropWarning = now
    ctx.log.warn({ maxConnections: limits.maxConnections }, 'connection refused: TTA_MAX_CONNECTIONS connections are open')
  })

  // Every answer: browsers must not guess a type other than the declared one (an upload read as HTML).
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff')
  })
  await registerOpenApi(app)

  // Requests that arrive before the pipeline is up or after shutdown began get a clear 503 with
  // Retry-After instead of a crash; ingestion past a back-pressure bound a 429 (backpressure.ts).
  app.addHook('onRequest', async (request, reply) => {
    if (closing) return retryLater(reply, 503, 'the service is shutting down: retry in a moment')
    if (!ctx.ready && !request.url.startsWith('/emulator')) return retryLater(reply, 503, 'starting up, retry in a moment')
    if (request.method === 'POST' && request.url.startsWith('/v1/')) {
      const refusal = ctx.backPressure?.check()
      if (refusal !== undefined) {
        ctx.metrics.rejected.inc({ reason: '429' })
        return retryLater(reply, 429, refusal)
      }
    }
  })

  // Routes without an error handler of their own (console, OAuth, sessions): the database being
  // down is a 503 to retry, not a 500; anything else goes on to Fastify's default handler.
  app.setErrorHandler((err, _request, reply) => {
    if (isDatabaseUnavailable(err)) return retryLater(reply, 503, DATABASE_UNAVAILABLE)
    throw err
  })

  app.get('/healthz', async (_request, reply) => {
    try {
      await ping(ctx.store.db)
      return { status: 'ok' }
    } catch (err) {
      return retryLater(reply, 503, `database unreachable: ${(err as Error).message}`, { body: { status: 'error' } })
    }
  })

  app.get('/metrics', async (_request, reply) => {
    const { registry } = ctx.metrics
    return reply.type(registry.contentType).send(await registry.metrics())
  })

  await app.register(ingestionPlugin, { ctx })
  await app.register(adminApiPlugin, { ctx, prefix: '/api' })
  await app.register(oauthPlugin, { ctx })
  await app.register(sessionPlugin, { ctx })
  await app.register(consoleSupportPlugin, { ctx, prefix: '/api/console' })
  await app.register(consolePlugin)

  if (opts.emulator) await app.register(emulatorPlugin, { prefix: '/emulator', stateFile: opts.emulatorStateFile })
  return app
}
