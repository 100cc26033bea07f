/** The admin API reference (issue 20.7): OpenAPI at /api/openapi.json lists every /api route the service has. */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { RunningService } from '../../src/server/serve.js'
import { at } from '../../src/util/array.js'

let dir: string
let service: RunningService

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-openapi-'))
  process.env.DATABASE_URL = `sqlite:${join(dir, 'openapi.db')}`
  process.env.ADMIN_PASSWORD = 'openapi-test'
  process.env.SECRET_KEY = Buffer.alloc(32, 7).toString('base64')
  const { startService } = await import('../../src/server/serve.js')
  service = await startService({ port: 0, banner: false, dataDir: dir, emulator: true })
})
after(async () => {
  await service?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** Every route of the app as `METHOD /path/{param}`, read from Fastify's own route tree (HEAD is implied by GET). */
function routesOfApp(): string[] {
  const stack: string[] = []
  const out: string[] = []
  for (const line of service.app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^(.*?)── (.*) \(([A-Z, ]+)\)$/.exec(line)
    if (!m) continue
    const depth = Math.round(at(m, 1).length / 4)
    stack[depth] = at(m, 2)
    stack.length = depth + 1
    const path = stack.join('').replace(/:([A-Za-z_]+)/g, '{$1}')
    for (const method of at(m, 3).split(', ')) if (method !== 'HEAD') out.push(`${method} ${path}`)
  }
  return out
}

const basic = { authorization: `Basic ${Buffer.from('admin:openapi-test').toString('base64')}` }

test("GET /api/openapi.json: OpenAPI 3 of every /api route, with the admin API's authentication", async () => {
  assert.equal((await fetch(`${service.url}/api/openapi.json`)).status, 401)
  const r = await fetch(`${service.url}/api/openapi.json`, { headers: basic })
  assert.equal(r.status, 200)
  const doc = (await r.json()) as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, unknown> } }
  assert.match(doc.openapi, /^3\./)
  assert.deepEqual(doc.components.securitySchemes.basic, { type: 'http', scheme: 'basic' })
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
  const apiRoutes = routesOfApp().filter((r) => at(r.split(' '), 1).startsWith('/api/') && r !== 'GET /api/openapi.json')
  assert.ok(apiRoutes.length >= 30, `found ${apiRoutes.length} /api routes`)
  assert.deepEqual(
    apiRoutes.filter((r) => !documented.includes(r)),
    [],
    'every /api route is documented'
  )
  assert.deepEqual(
    documented.filter((r) => !at(r.split(' '), 1).startsWith('/api/')),
    [],
    'nothing but /api is listed'
  )
})

test('the reference carries the route schemas: parameters and bodies as validated', async () => {
  const doc = (await (await fetch(`${service.url}/api/openapi.json`, { headers: basic })).json()) as { paths: Record<string, Record<string, any>> }
  const delivery = doc.paths['/api/destinations/{id}/delivery']?.get
  assert.deepEqual(delivery.parameters.map((p: { in: string; name: string }) => `${p.in}:${p.name}`).sort(), [
    'path:id',
    'query:bucket',
    'query:from',
    'query:to'
  ])
  const connect = doc.paths['/api/destinations/{id}/audiences/{key}']?.put
  assert.ok(connect.requestBody.content['application/json'].schema.properties.advertiserId, 'PUT audience body documents advertiserId')
})
