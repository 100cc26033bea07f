/**
 * Serves the built web console (dist/console) at `/`: hashed assets with long caching, and
 * index.html for every other GET a browser navigates to (SPA fallback), so a reload of
 * `/destinations/3/mappings` works. Routes of the API, OAuth, ingestion and emulator are untouched;
 * unknown paths under them keep their own 404s.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { RETRY_AFTER_SECONDS } from './retry-later.js'

const HTML = 'text/html; charset=utf-8'
const CONTENT_TYPES: Record<string, string> = {
  '.html': HTML,
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2'
}

/** Paths owned by other parts of the service: never answered with the console page. */
const SERVICE_PREFIXES = ['/api', '/oauth', '/v1', '/emulator', '/session', '/healthz', '/metrics']

/**
 * dist/console beside the compiled server (dist/server), or from the sources (src/server) under tsx.
 * Only a built console has `assets/` (src/console holds the unbuilt index.html).
 */
export function consoleDir(): string | undefined {
  const here = fileURLToPath(new URL('.', import.meta.url))
  return [join(here, '..', 'console'), join(here, '..', '..', 'dist', 'console')].find(
    (d) => existsSync(join(d, 'index.html')) && existsSync(join(d, 'assets'))
  )
}

/**
 * The console's Content-Security-Policy: its own scripts, styles and API only — the built page has
 * no inline script or style (React sets style properties through the DOM, which CSP allows) — and
 * it may not be framed, change its base URL or load plugins.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join('; ')

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Console not built</title></head><body><main>
<h1>The console is not built</h1><p>Run <code>npm run build</code> (or <code>npm install</code>, which builds it) and restart the service.
The API under <code>/api</code> works without it.</p></main></body></html>`

export const consolePlugin: FastifyPluginAsync = async (app) => {
  const dir = consoleDir()

  const sendIndex = async (reply: FastifyReply) => {
    reply.header('content-security-policy', CONSOLE_CSP).header('x-frame-options', 'DENY')
    if (!dir) return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).type(HTML).send(NOT_BUILT)
    // index.html names the current hashed assets: never cache it.
    return reply
      .type(HTML)
      .header('cache-control', 'no-cache')
      .send(await readFile(join(dir, 'index.html')))
  }

  app.get('/', async (_request, reply) => sendIndex(reply))

  app.get<{ Params: { '*': string } }>('/assets/*', async (request, reply) => {
    if (!dir) return reply.code(404).send({ error: 'the console is not built' })
    const assets = join(dir, 'assets')
    const file = normalize(join(assets, request.params['*']))
    if (!file.startsWith(assets + sep) || !existsSync(file)) return reply.code(404).send({ error: 'no such console asset' })
    return reply
      .header('content-security-policy', CONSOLE_CSP)
      .type(CONTENT_TYPES[extname(file)] ?? 'application/octet-stream')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(await readFile(file))
  })

  // SPA fallback: the console's own paths (e.g. /destinations/3/settings) are client-side routes.
  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0] ?? request.url
    const ownedElsewhere = SERVICE_PREFIXES.some((p) => path === p || path.startsWith(p + '/'))
    if ((request.method === 'GET' || request.method === 'HEAD') && !ownedElsewhere && !extname(path)) return sendIndex(reply)
    return reply.code(404).send({ error: `no route ${request.method} ${path}` })
  })
}
// Not encapsulated (what fastify-plugin does): the 404 fallback must apply to the root.
;(consolePlugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
