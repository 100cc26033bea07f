/**
 * The admin API's reference, generated from the route schemas (@fastify/swagger): OpenAPI 3 JSON
 * at `GET /api/openapi.json` (admin auth, like the rest of `/api`), so scripts need not guess routes. Only `/api` routes are listed;
 * ingestion, OAuth and the emulator are documented in the README and INTERFACE.md.
 */
import swagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'

export const OPENAPI_PATH = '/api/openapi.json'

/** Registers the generator; call before any route is added (it collects them as they are). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // src/server and dist/server are both two levels below package.json.
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tiktok-audiences admin API',
        version,
        description:
          "The console's admin API. Authenticate with HTTP Basic `admin:<ADMIN_PASSWORD>` (or a console session with its CSRF token for writes). Bad input is a 400 naming the field; unknown ids are 404."
      },
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
      security: [{ basic: [] }]
    },
    transform: ({ schema, url }) => {
      const listed = url.startsWith('/api/') && url !== OPENAPI_PATH
      return { schema: listed ? schema : { ...(schema ?? {}), hide: true }, url }
    }
  })
}

/** `GET /api/openapi.json`, inside the admin API (same authentication as every `/api` route). */
export function openApiRoute(admin: FastifyInstance): void {
  admin.get(OPENAPI_PATH.slice('/api'.length), { schema: { hide: true } }, async () => admin.swagger())
}
