/** The compiled mapping fast path gives exactly what Segment's mapping-kit gives. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { compileFastMapping } from '../../src/destination/fast-mapping.js'
import { defaultMapping, tiktokAudiences } from '../../src/destination/definition.js'
import { sampleEvent } from '../../src/destination/samples.js'
import { mappingKit } from '../../src/destination/segment-libraries.js'

const mappings: Record<string, unknown>[] = [
  ...Object.values(tiktokAudiences.actions).map((a) => defaultMapping(a.fields) as Record<string, unknown>),
  { email: { '@path': 'context.traits.email' }, phone: { '@path': '$.properties.phone' }, literal: 'x', n: 0, f: false, nul: null },
  {
    a: { '@path': "$.properties['odd key']" },
    b: { '@path': 'properties.list[1]' },
    c: { '@path': 'properties.obj' },
    d: { '@path': '$.' },
    e: { '@path': 'x.$.y' }
  },
  { nested: { inner: { '@path': '$.userId' }, deeper: [{ '@path': '$.event' }, 3, { k: { '@path': '$.missing.path' } }] } },
  {
    c1: { '@if': { exists: 'literal', then: { '@path': '$.event' }, else: 'no' } },
    c2: { '@if': { exists: { '@path': '$.properties.zero' }, then: 'has zero' } }
  },
  {
    c3: { '@if': { exists: { '@path': '$.properties.nothing' }, then: 'yes', else: { '@path': '$.properties.flag' } } },
    c4: { '@if': { exists: { '@path': '$.properties.nothing' }, then: 'yes', else: '' } }
  },
  { m: { '@path': 'properties.zero.deeper' }, f: { '@path': 'properties.flag.deeper' }, s: { '@path': 'properties.empty.length' } }
]

const events: Record<string, unknown>[] = [
  {},
  ...(['addToAudience', 'removeFromAudience', 'syncAudience', 'addUser', 'createAudience'] as const).map(
    (a) => sampleEvent(a) as unknown as Record<string, unknown>
  ),
  {
    type: 'track',
    event: 'E',
    userId: 'u',
    properties: {
      zero: 0,
      flag: false,
      empty: '',
      nothing: null,
      list: ['a', 'b'],
      obj: { keep: 1, drop: undefined, arr: [1, undefined] },
      'odd key': 'v',
      phone: '+1'
    },
    context: { traits: { email: null } }
  },
  { type: 'identify', userId: 7, traits: { email: 'e@x.co' }, context: { traits: { email: '' }, device: null }, properties: null },
  { context: 'not an object', properties: [] }
]

test('compiled mappings give exactly what mapping-kit gives', () => {
  let compared = 0
  for (const m of mappings) {
    const fast = compileFastMapping(m)
    assert.ok(fast, `compiles: ${JSON.stringify(m)}`)
    for (const e of events) {
      assert.deepStrictEqual(fast(e), mappingKit.transform(m, e), `${JSON.stringify(m)} on ${JSON.stringify(e)}`)
      compared++
    }
  }
  assert.ok(compared > 60)
})

test('other directives are left to mapping-kit', () => {
  for (const m of [
    { a: { '@template': '{{userId}}' } },
    { a: { '@if': { blank: { '@path': '$.x' }, then: 1 } } },
    { a: { '@path': { '@path': '$.p' } } },
    { a: { '@case': { operator: 'lower', value: 'X' } } }
  ]) {
    assert.equal(compileFastMapping(m), null, JSON.stringify(m))
  }
})
