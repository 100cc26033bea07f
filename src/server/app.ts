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
import { oauthPlugin } from './oauth.js'
import { consolePlugin } from './console.js'
import { sessionPlugin } from './session.js'
import { consoleSupportPlugin } from './admin/console-support.js'

export interface AppOptions {
  /** Mount the TikTok emulator at /emulator. */
  emulator: boolean
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
  const options: FastifyHttpOptions<Server> = { logger: false, routerOptions: { ignoreTrailingSlash: true }, trustProxy: trustProxySetting() }
  const app = Fastify(options)

  // Requests that arrive before the pipeline is up get a clear 503 instead of a crash.
  app.addHook('onRequest', async (request, reply) => {
    if (!ctx.ready && !request.url.startsWith('/emulator')) return reply.code(503).send({ error: 'starting up, retry in a moment' })
  })

  app.get('/healthz', async (_request, reply) => {
    try {
      await ping(ctx.store.db)
      return { status: 'ok' }
    } catch (err) {
      return reply.code(503).send({ status: 'error', error: `database unreachable: ${(err as Error).message}` })
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
