import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError, PayloadValidationError, compileMapping, compileTrigger, sampleEvent } from '../../src/destination/index.js'

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${err}`)
    return err
  }
  assert.fail('no error thrown')
}

test('unknown action lists the six valid keys', () => {
  const err = configError(() => compileMapping({ action: 'addUsers' }))
  assert.equal(err.field, 'action')
  for (const k of ['createAudience', 'addUser', 'removeUser', 'addToAudience', 'removeFromAudience', 'syncAudience']) {
    assert.ok(err.message.includes(k), err.message)
  }
})

test('invalid FQL is a clear config error naming the problem', () => {
  const cases: Array<[string, RegExp]> = [
    ['event = ', /expected a value/],
    ['', /empty/],
    ['event = "Audience Entered', /unterminated string/],
    ['foo = "x"', /unknown field "foo"/],
    ['event == "x"', /expected a value/],
    ['properties = 1', /needs a path/],
    ['event = "a" and', /expected a condition/],
    ['((event = "a"))', /nested parentheses/],
    ['match(event, "abc")', /starts or ends with \*/],
    ['event = "a" event = "b"', /unexpected/]
  ]
  for (const [fql, message] of cases) {
    const err = configError(() => compileMapping({ action: 'addToAudience', trigger: fql }))
    assert.equal(err.field, 'trigger')
    assert.match(err.message, message, fql)
  }
})

test('valid FQL compiles and matches like Segment', () => {
  const t = compileTrigger('type = "track" and (event = "Audience Entered" or event = "Audience Exited")')
  assert.equal(t.matches({ type: 'track', event: 'Audience Exited' }), true)
  assert.equal(t.matches({ type: 'identify', event: 'Audience Exited' }), false)
  assert.equal(compileTrigger('properties.first_time_shopper = true').matches({ properties: { first_time_shopper: 'true' } }), false)
  assert.equal(compileTrigger('!match(event, "Test*")').matches({ event: 'Audience Entered' }), true)
  assert.equal(
    compileTrigger('context.personas.computation_class = "journey_step"').matches({ context: { personas: { computation_class: 'journey_step' } } }),
    true
  )
  assert.deepEqual(compileTrigger('event = "a"').warnings, [])
  assert.equal(compileTrigger('event = "a" and event = "b" or event = "c"').warnings.length, 1)
})

test('invalid directives name the field', () => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ email: { '@path': 5 } }, 'email', /should be a string/],
    [{ phone: { '@nope': '$.x' } }, 'phone', /invalid directive: @nope/],
    [{ email: { '@if': { then: 1 } } }, 'email', /"exists" key or a "blank" key/],
    [{ advertising_id: { '@path': '$.a', other: 1 } }, 'advertising_id', /one @-prefixed key/]
  ]
  for (const [mapping, field, message] of cases) {
    const err = configError(() => compileMapping({ action: 'syncAudience', mapping }))
    assert.equal(err.field, field)
    assert.deepEqual(err.path, ['mapping', field])
    assert.match(err.message, message)
  }
  assert.equal(configError(() => compileMapping({ action: 'addUser', mapping: { emial: 'x' } })).field, 'emial')
})

test('defaults are shallow-merged under the user keys', () => {
  const c = compileMapping({ action: 'addToAudience', mapping: { email: { '@path': '$.traits.email' }, send_phone: false } })
  assert.equal(c.trigger, 'event = "Audience Entered"')
  assert.deepEqual(c.mapping.email, { '@path': '$.traits.email' })
  assert.equal(c.mapping.send_phone, false)
  assert.deepEqual(c.mapping.external_audience_id, { '@path': '$.context.personas.external_audience_id' })
})

test('payload validation: required, coercion, unknown keys stripped, Segment messages', () => {
  const c = compileMapping({ action: 'addUser', mapping: { selected_advertiser_id: '1' } })
  assert.throws(
    () => c.map(sampleEvent('addUser')),
    (err: unknown) => {
      assert.ok(err instanceof PayloadValidationError)
      assert.equal(err.message, "The root value is missing the required field 'audience_id'.")
      return true
    }
  )
  const blank = compileMapping({ action: 'addUser', mapping: { selected_advertiser_id: '1', audience_id: '' } })
  assert.throws(() => blank.map(sampleEvent('addUser')), /missing the required field 'audience_id'/)

  const coerced = compileMapping({
    action: 'syncAudience',
    mapping: { send_email: 'false', phone: 5551234, advertising_id: ['only'], batch_keys: 'send_email' }
  }).map(sampleEvent('syncAudience'))
  assert.equal(coerced.send_email, false)
  assert.equal(coerced.phone, '5551234')
  assert.equal(coerced.advertising_id, 'only')
  assert.deepEqual(coerced.batch_keys, ['send_email'])

  const bad = compileMapping({ action: 'syncAudience', mapping: { email: { '@path': '$.context.traits' }, send_phone: 'yes' } })
  assert.throws(
    () => bad.map(sampleEvent('syncAudience')),
    // In the action's field order (syncAudience lists the send_* flags first).
    { message: 'The value at /send_phone must be a boolean but it was a string. The value at /email must be a string but it was an object.' }
  )
  const stripped = compileMapping({
    action: 'createAudience',
    mapping: { selected_advertiser_id: '1', custom_audience_name: 'n', __segment_internal_sync_mode: 'add' }
  }).map({})
  assert.deepEqual(stripped, { selected_advertiser_id: '1', custom_audience_name: 'n' })
})
