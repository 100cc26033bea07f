/**
 * Hostile bodies to every admin API route that takes one (issue 17 item 1), enumerated from the
 * service's own OpenAPI document so a new route is covered the day it is added: invalid JSON, wrong
 * types, nesting far past any real body, a huge string, `__proto__` / `constructor` keys. Each is
 * answered 4xx with a message (never 5xx), nothing is polluted, and the service still works.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startTestService, type TestService } from '../server/admin-service.js'

let s: TestService
let id = 1
before(async () => {
  s = await startTestService()
  // A destination that exists, so bodies reach the handlers and not only a 404.
  id = (await s.api<{ id: number }>('POST', '/api/destinations', { name: 'hostile', mode: 'native', source: 'engage' })).body.id
})
after(async () => s?.close())

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n)
const deepObject = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)
const BODIES: [string, string][] = [
  ['invalid JSON', '{"name": '],
  ['a JSON string', '"text"'],
  ['an array', '[1, 2, 3]'],
  ['null', 'null'],
  ['wrong types', '{"name": 42, "enabled": "yes", "mapping": [], "advertiserId": {}, "events": 7}'],
  ['nesting 10,000 deep', `{"name": "x", "mapping": ${deep(10_000)}}`],
  ['nesting 100,000 deep', `{"mapping": ${deep(100_000)}}`],
  [
    'objects nested 10,000 deep where an object is expected',
    `{"name": "d", "trigger": "type = \\"track\\"", "mapping": ${deepObject(10_000)}, "event": ${deepObject(10_000)}}`
  ],
  ['a 2 MB string', JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) })],
  ['__proto__ keys', '{"name": "p", "__proto__": {"polluted": 1}, "mapping": {"__proto__": {"polluted": 1}}}'],
  ['constructor keys', '{"name": "c", "constructor": {"prototype": {"polluted": 1}}, "mapping": {"constructor": {"prototype": {"polluted": 1}}}}']
]

test('every admin route with a body answers hostile bodies with 4xx and a message, never 5xx', async () => {
  const doc = (await s.api<{ paths: Record<string, Record<string, { requestBody?: unknown }>> }>('GET', '/api/openapi.json')).body
  const routes: { method: string; path: string }[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const method of Object.keys(methods)) {
      if (['post', 'put', 'patch'].includes(method))
        routes.push({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, (p) => (/id/i.test(p) ? String(id) : 'x')) })
    }
  }
  assert.ok(routes.length >= 10, `routes with a body: ${routes.length}`)
  const auth = { authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}`, 'content-type': 'application/json' }
  const fiveHundreds: string[] = []
  for (const r of routes) {
    for (const [what, body] of BODIES) {
      const res = await fetch(`${s.url}${r.path}`, { method: r.method, headers: auth, body })
      const text = await res.text()
      if (res.status >= 500) fiveHundreds.push(`${r.method} ${r.path} (${what}): ${res.status} ${text.slice(0, 160)}`)
      else if (res.status >= 400)
        assert.match(text, /"error"\s*:\s*"[^"]+/, `${r.method} ${r.path} (${what}) answered ${res.status} without a message: ${text.slice(0, 160)}`)
    }
  }
  assert.deepEqual(fiveHundreds, [])
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched')
  assert.equal((await s.api('GET', '/api/stats')).status, 200)
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200)
})
