/**
 * Issue 16 item 6: better matching under `recommended` — an Android device's advertising id as
 * AAID_SHA256, several emails or phones per person each in a row of its own — and nothing of it
 * under `segment`.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  buildMappingBody,
  compileMapping,
  isAndroidEvent,
  MAX_VALUES_PER_IDENTIFIER,
  membershipRows,
  PayloadValidationError,
  sampleAudienceEvent,
  sha256Hex,
  toChange,
  type ChangeContext,
  type MembershipChange,
  type NormalizationPolicy
} from '../../src/destination/index.js'

const MAID = '6D92078A-8246-4BA4-AE5B-76104861E7DC'
const settings = (normalization: NormalizationPolicy): ChangeContext['settings'] => ({
  mode: 'native',
  advertiserIds: [],
  normalization,
  defaultPhoneRegion: 'US'
})

function event(over: { traits?: Record<string, unknown>; device?: Record<string, unknown>; os?: Record<string, unknown> } = {}): any {
  const e = sampleAudienceEvent(true) as any
  if (over.traits) e.context.traits = over.traits
  e.context.device = { advertisingId: MAID, ...over.device }
  if (over.os) e.context.os = over.os
  return e
}

/** Maps and changes one event as routing does (several values only under `recommended`). */
function changeOf(e: any, policy: NormalizationPolicy, mapping: Record<string, unknown> = {}) {
  const compiled = compileMapping({ action: 'addToAudience', mapping })
  const payload = compiled.map(e, policy === 'recommended')
  return toChange(compiled, payload, { event: e, settings: settings(policy), audienceSettings: e.context.personas.audience_settings })
}
const membership = (c: ReturnType<typeof changeOf>): MembershipChange => {
  assert.equal(c.kind, 'membership', JSON.stringify(c))
  return c as MembershipChange
}

test('Android device: the advertising id goes as AAID_SHA256 under recommended, IDFA_SHA256 under segment', () => {
  const android = event({ device: { type: 'android' }, os: { name: 'Android' } })
  const rec = membership(changeOf(android, 'recommended'))
  assert.deepEqual(rec.idSchema, ['EMAIL_SHA256', 'PHONE_SHA256', 'AAID_SHA256'])
  assert.equal(rec.ids[2], sha256Hex(MAID))
  assert.equal(rec.quality.advertising_id.idType, 'AAID_SHA256')
  assert.equal(rec.quality.advertising_id.status, 'hashed', 'the status says how it was hashed, the id type is besides it')
  const seg = membership(changeOf(android, 'segment'))
  assert.deepEqual(seg.idSchema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
  assert.equal(seg.quality.advertising_id.idType, undefined)
})

test('iOS and unknown devices stay IDFA_SHA256; device.type wins over os.name', () => {
  for (const e of [event({ device: { type: 'ios' }, os: { name: 'iOS' } }), event(), event({ device: { type: 'ios' }, os: { name: 'Android' } })]) {
    const c = membership(changeOf(e, 'recommended'))
    assert.deepEqual(c.idSchema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'], JSON.stringify(e.context))
    assert.equal(c.quality.advertising_id.idType, undefined)
  }
  assert.equal(isAndroidEvent(event({ os: { name: ' android ' } })), true, 'os.name alone, any case')
  assert.equal(isAndroidEvent(event({ device: { type: 'Android' } })), true)
  assert.equal(isAndroidEvent(event({ device: { type: '' }, os: { name: 'Android' } })), true, 'an empty device.type says nothing')
  assert.equal(isAndroidEvent({}), false)
  assert.equal(isAndroidEvent(null), false)
})

test("an Android event without an advertising id keeps the IDFA column (its rows batch with everyone else's)", () => {
  const e = event({ device: { type: 'android' } })
  delete e.context.device.advertisingId
  const c = membership(changeOf(e, 'recommended'))
  assert.deepEqual(c.idSchema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
  assert.equal(c.ids[2], null)
  assert.equal(c.quality.advertising_id.idType, undefined)
})

test('several emails and phones: the first of each in the first row, every further value a row of its own', () => {
  const e = event({ traits: { email: ['Ann@Example.com', ' bob@example.com', 'ann@example.com', 'not-an-email'], phone: ['(415) 555-0101', '+14155550102'] } })
  const c = membership(changeOf(e, 'recommended'))
  const [ann, bob, p1, p2, maid] = [
    sha256Hex('ann@example.com'),
    sha256Hex('bob@example.com'),
    sha256Hex('+14155550101'),
    sha256Hex('+14155550102'),
    sha256Hex(MAID)
  ]
  assert.deepEqual(c.ids, [ann, p1, maid])
  // The repeat of ann@example.com (same hash) is sent once; the invalid one is counted, not sent.
  assert.deepEqual(c.moreIds, [
    [bob, null, null],
    [null, p2, null]
  ])
  assert.deepEqual(
    c.quality.email.more?.map((o) => o.status),
    ['repaired', 'rejected']
  )
  assert.equal(c.quality.email.more?.[1]?.drop, 'invalid')
  assert.equal(c.quality.phone.more?.length, 1)

  const rows = membershipRows(c)
  assert.equal(rows.length, 3)
  const body = buildMappingBody(rows)
  assert.deepEqual(body.id_schema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
  assert.deepEqual(
    body.batch_data.map((row) => row.map((cell) => ('id' in cell ? cell.id : null))),
    [
      [ann, p1, maid],
      [bob, null, null],
      [null, p2, null]
    ]
  )
})

test('the lead value is the first usable one; a mapping may point at an `emails` trait', () => {
  const e = event({ traits: { emails: ['bad', 'Carol@Example.com', 'dan@example.com'] } })
  const c = membership(changeOf(e, 'recommended', { email: { '@path': '$.context.traits.emails' } }))
  assert.equal(c.ids[0], sha256Hex('carol@example.com'))
  assert.deepEqual(c.moreIds, [[sha256Hex('dan@example.com'), null, null]])
  assert.equal(c.quality.email.status, 'hashed')
  assert.deepEqual(
    c.quality.email.more?.map((o) => o.drop),
    ['invalid', undefined]
  )
})

test('one value in an array, empty items and exact repeats make no further rows', () => {
  for (const email of [['ann@example.com'], [null, 'ann@example.com', ''], ['ann@example.com', 'ANN@example.com']]) {
    const c = membership(changeOf(event({ traits: { email } }), 'recommended'))
    assert.equal(c.ids[0], sha256Hex('ann@example.com'), JSON.stringify(email))
    assert.equal(c.moreIds, undefined, JSON.stringify(email))
    assert.equal(c.quality.email.more, undefined, JSON.stringify(email))
  }
})

test(`at most ${MAX_VALUES_PER_IDENTIFIER} values per identifier; the rest counted as too_many_values`, () => {
  const email = Array.from({ length: MAX_VALUES_PER_IDENTIFIER + 3 }, (_, i) => `p${i}@example.com`)
  const c = membership(changeOf(event({ traits: { email } }), 'recommended'))
  assert.equal(c.moreIds?.length, MAX_VALUES_PER_IDENTIFIER - 1)
  const last = c.quality.email.more!.at(-1)!
  assert.equal(last.drop, 'too_many_values')
  assert.equal(last.hash, null)
})

test('an item that is not a string fails the event with the item named; under segment an array fails as in Segment', () => {
  const compiled = compileMapping({ action: 'addToAudience' })
  assert.throws(
    () => compiled.map(event({ traits: { email: ['a@example.com', { x: 1 }] } }), true),
    (err: unknown) => {
      assert.ok(err instanceof PayloadValidationError)
      assert.equal(err.message, 'The value at /email/1 must be a string but it was an object.')
      return true
    }
  )
  const arrays = event({ traits: { email: ['a@example.com', 'b@example.com'], phone: ['+14155550101', '+14155550102'] } })
  const strict = compiled.mapBatch([arrays])[0]
  assert.ok(strict instanceof PayloadValidationError)
  assert.equal(strict.message, 'The value at /email must be a string but it was an array. The value at /phone must be a string but it was an array.')
  assert.deepEqual(compiled.mapBatch([arrays], false), [strict])
  // One-element arrays are coerced to their value under both (AJV's coerceTypes: 'array').
  const one = event({ traits: { email: ['a@example.com'] } })
  assert.equal(compiled.map(one).email, 'a@example.com')
  assert.equal(compiled.map(one, true).email, 'a@example.com')
})

test('an empty list of emails under recommended is no email, not a crash (the phone still matches)', () => {
  const e = event({ traits: { email: [], phone: '+14155550101' } })
  const c = membership(changeOf(e, 'recommended'))
  assert.deepEqual(c.ids, [null, sha256Hex('+14155550101'), sha256Hex(MAID)])
  assert.equal(c.quality.email.status, 'empty')
  assert.equal(c.quality.email.more, undefined)
})

test('processValues: an empty list is no value (mapping keeps [] from it today; the function must not rely on that)', async () => {
  const { processValues } = await import('../../src/destination/matching.js')
  const o = processValues('email', [], true, { policy: 'recommended', defaultPhoneRegion: 'US' })
  assert.equal(o.hash, null)
  assert.equal(o.status, 'empty')
})
