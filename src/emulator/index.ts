/**
 * TikTok Business API emulator: a stateful local stand-in for the endpoints the product uses
 * (reference/tiktok-business-api.md), plus a control API. Mount it with `emulatorPlugin` or run it
 * on its own port with `startEmulator`.
 */
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import { CONSENT_PATH, registerConsentRoutes } from './consent-page.js'
import { newRequestId, TikTokCode } from './envelope.js'
import { exchangeNote, noteAnswer, noteRequestStart, pathWithoutPrefix } from './http.js'
import { scanMappingBody } from './mapping.js'
import { API_BASE, isMappingRoute, registerApiRoutes } from './routes-api.js'
import { CONTROL_BASE, registerControlRoutes } from './routes-control.js'
import { EMULATOR_CREDENTIALS, EmulatorState, type EmulatorOptions } from './state.js'

export { EmulatorState, EMULATOR_CREDENTIALS, ID_TYPES, MAX_MAPPING_ROWS, MAX_AUDIENCES_PER_ADVERTISER } from './state.js'
export type { EmulatorOptions, EmulatorSeed, EmulatorConfig, EmulatorAudience, EmulatorToken, IdType } from './state.js'
export type { FaultRule, ActiveFaultRule } from './faults.js'
export type { RequestLogEntry } from './request-log.js'
export { API_BASE } from './routes-api.js'
export { CONTROL_BASE } from './routes-control.js'
export { CONSENT_PATH } from './consent-page.js'
export { EMULATOR_STATE_FILE } from './persist.js'

export interface EmulatorPluginOptions extends EmulatorOptions {
  /** Share an existing state (e.g. to inspect it from the host app); otherwise the plugin creates one. */
  state?: EmulatorState
}

type ErrorWithStatus = Error & { statusCode?: number; code?: string }

function invalidJsonError(): ErrorWithStatus {
  const error: ErrorWithStatus = new Error('Request body is not valid JSON.')
  error.statusCode = 400
  error.code = 'EMULATOR_INVALID_JSON'
  return error
}

/**
 * Fastify plugin serving TikTok's paths (`/open_api/v1.3/…`), the consent page (`/portal/auth`) and the
 * control API (`/_emulator/…`) relative to the registration prefix. Encapsulated: its JSON parser,
 * hooks and error handler do not leak into the host app.
 */
export const emulatorPlugin: FastifyPluginAsync<EmulatorPluginOptions> = async (app, opts) => {
  const { state: sharedState, ...options } = opts
  const state = sharedState ?? new EmulatorState(options)
  // A state of its own is the plugin's to close (its journal written down); a shared one is its owner's.
  if (!sharedState) app.addHook('onClose', async () => state.close())
  const prefix = app.prefix
  const config = app.initialConfig as { routerOptions?: { ignoreTrailingSlash?: boolean }; ignoreTrailingSlash?: boolean }
  const withSlashlessAliases = !(config.routerOptions?.ignoreTrailingSlash ?? config.ignoreTrailingSlash ?? false)

  // Plain JSON.parse: the mapping route takes multi-megabyte bodies and every millisecond counts;
  // its bodies are scanned without it when they are in the form senders write (scanMappingBody).
  // An empty body is accepted as "no body" so control POSTs like /_emulator/reset need none.
  if (app.hasContentTypeParser('application/json')) app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const bytes = body as Buffer
    if (bytes.length === 0) return done(null, undefined)
    try {
      done(null, (isMappingRoute(request.routeOptions.url) && scanMappingBody(bytes)) || JSON.parse(bytes.toString('utf8')))
    } catch {
      done(invalidJsonError(), undefined)
    }
  })

  app.addHook('onRequest', (request, _reply, done) => {
    noteRequestStart(request)
    done()
  })

  app.addHook('onResponse', (request, reply, done) => {
    const path = pathWithoutPrefix(request, prefix)
    if (!path.startsWith(CONTROL_BASE)) {
      const note = exchangeNote(request)
      const startedAt = note?.startedAt ?? performance.now()
      const durationMs = Math.round((performance.now() - startedAt) * 1000) / 1000
      state.requestLog.add(
        {
          time: new Date(state.now() - durationMs).toISOString(),
          method: request.method,
          path,
          query: request.query ?? {},
          body: request.body ?? null,
          httpStatus: reply.statusCode,
          code: note?.code ?? null,
          message: note?.message ?? null,
          durationMs
        },
        Number(request.headers['content-length']) || 0
      )
    }
    done()
  })

  app.setErrorHandler((error: FastifyError | ErrorWithStatus, request, reply) => {
    const path = pathWithoutPrefix(request, prefix)
    const status = error.statusCode ?? 500
    if (!path.startsWith(API_BASE)) {
      return reply.code(status).send({ error: error.message })
    }
    // TikTok answers bad input with an HTTP 200 envelope; only a too-large body is refused at the door.
    if (status === 413) {
      return reply.code(413).type('text/html').send('<html><body><h1>413 Request Entity Too Large</h1></body></html>')
    }
    const code = status < 500 ? TikTokCode.PARAM_ERROR : TikTokCode.SYS_ERROR
    const message = status < 500 ? `Parameter error: ${error.message}` : 'System error'
    noteAnswer(request, code, message)
    return reply
      .code(status < 500 ? 200 : 500)
      .type('application/json; charset=utf-8')
      .send({ code, message, request_id: newRequestId(state.now()), data: {} })
  })

  registerApiRoutes(app, state, prefix, withSlashlessAliases)
  registerConsentRoutes(app, state, prefix, withSlashlessAliases)
  registerControlRoutes(app, state)
}

/** Where the emulator's state lives, in words (banner lines of the emulator and the service). */
export function emulatorStateNote(stateFile: string | undefined): string {
  return stateFile ? `${stateFile} (kept across restarts; POST ${CONTROL_BASE}/reset forgets)` : 'in memory (forgotten when it stops)'
}

/** The lines the standalone emulator prints at start (the host service can print them too). */
export function emulatorBanner(baseUrl: string, stateFile?: string): string[] {
  const c = EMULATOR_CREDENTIALS
  return [
    `TikTok Business API EMULATOR (a local stand-in, not TikTok) listening on ${baseUrl}`,
    `  API base URL:      ${baseUrl}${API_BASE.replace('/v1.3', '')}   (TIKTOK_API_URL)`,
    `  Consent page URL:  ${baseUrl}${CONSENT_PATH}   (TIKTOK_AUTH_URL)`,
    `  Control API:       ${baseUrl}${CONTROL_BASE}`,
    `  App id / secret:   ${c.appId} / ${c.secret}`,
    `  Access token:      ${c.accessToken}`,
    ...c.advertisers.map((a) => `  Advertiser:        ${a.advertiserId} (${a.name})`),
    `  State:             ${emulatorStateNote(stateFile)}`
  ]
}

export interface StartEmulatorOptions extends EmulatorPluginOptions {
  /** 0 (default) picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Where the startup banner goes; default console.log; false to stay quiet. */
  log?: ((line: string) => void) | false
}

export interface RunningEmulator {
  url: string
  /** `${url}/open_api`; clients append `/v1.3/<path>`. */
  apiUrl: string
  /** `${url}/portal/auth`. */
  authUrl: string
  port: number
  state: EmulatorState
  app: FastifyInstance
  close(): Promise<void>
}

/** Runs the emulator as its own HTTP server. */
export async function startEmulator(opts: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const { port = 0, host = '127.0.0.1', log = (line: string) => console.log(line), state: sharedState, ...options } = opts
  const state = sharedState ?? new EmulatorState(options)
  const app = Fastify({ logger: false })
  if (!sharedState) app.addHook('onClose', async () => state.close())
  await app.register(emulatorPlugin, { state })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ error: `${request.method} ${request.url.split('?')[0]} is not served by the TikTok emulator` })
  })
  try {
    await app.listen({ port, host })
  } catch (err) {
    await app.close().catch(() => undefined) // releases the state file
    throw err
  }
  const address = app.server.address() as AddressInfo
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host
  const url = `http://${urlHost}:${address.port}`
  if (log) for (const line of emulatorBanner(url, state.stateFile)) log(line)
  return {
    url,
    apiUrl: `${url}/open_api`,
    authUrl: `${url}${CONSENT_PATH}`,
    port: address.port,
    state,
    app,
    close: () => app.close()
  }
}
