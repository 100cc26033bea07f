/* eslint-disable */
/**
 * Generates test/golden/vectors.json by executing Segment's REAL published destination
 * (@segment/action-destinations 3.497.0 on @segment/actions-core 3.170.0) in-process.
 * Run by hand, never by `npm test`; the product does not depend on the reference:
 *
 *   cp -r /work/shared/bench-reference /tmp/bench-ref && (cd /tmp/bench-ref && npm install)
 *   REFERENCE_DIR=/tmp/bench-ref node test/golden/generate-reference.cjs
 *
 * Every request to business-api.tiktok.com is intercepted with nock and recorded; the recorded
 * bodies (and the error or multistatus the reference produced) become `expected` of each vector.
 * Vectors where this product differs on purpose (SPEC §2.2) carry `deliberateDifference` and
 * `ours` (our expected bodies/errors) beside the reference's, and are never "fixed" here.
 */
const path = require('path')
const fs = require('fs')
// Everything from the reference install, never from the product's node_modules (whose actions-core
// sits on a fast-uri release that breaks payload validation).
const refRequire = require('module').createRequire(path.join(process.env.REFERENCE_DIR || '/tmp/bench-ref', 'package.json'))
const nock = refRequire('nock')
const { createTestIntegration } = refRequire('@segment/actions-core')
const dest = refRequire('@segment/action-destinations/dist/destinations/tiktok-audiences').default
const refVersion = refRequire('@segment/action-destinations/package.json').version

const HOST = 'https://business-api.tiktok.com'
const ADV = '7000000000000000001'
const ADV2 = '7000000000000000002'
const ADV3 = '7000000000000000003'
const AUD = '7123456789012345678'
const AUD2 = '7123456789012345679'
const HEX = '584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777'
const HEX_PHONE = 'c775e7b757ede630cd0aa1113bd102661ab38829ca52a6422ab782862f268646'

let seq = 0
/** An Engage track event (Audience Entered/Exited), identifiers where Engage puts them. */
function track(member, ids = {}, extra = {}) {
  seq++
  const traits = {}
  if ('email' in ids) traits.email = ids.email
  if ('phone' in ids) traits.phone = ids.phone
  const context = { traits, personas: personas(extra.personas) }
  if ('advertisingId' in ids) context.device = { advertisingId: ids.advertisingId }
  if (extra.noPersonas) delete context.personas
  return {
    type: 'track',
    event: extra.event ?? (member ? 'Audience Entered' : 'Audience Exited'),
    messageId: `personas_golden_${seq}`,
    userId: `user_${seq}`,
    anonymousId: `anon_${seq}`,
    timestamp: '2024-05-06T09:30:22.829Z',
    properties: { audience_key: 'first_time_shopper', first_time_shopper: member, ...(extra.properties || {}) },
    context
  }
}
function personas(overrides = {}) {
  const p = {
    computation_class: 'audience',
    computation_id: 'aud_2g5VilffxpBYqelWk4K0yBzAuFl',
    computation_key: 'first_time_shopper',
    namespace: 'spa_rHVbZsJXToWAwcmbgpfo36',
    space_id: 'spa_rHVbZsJXToWAwcmbgpfo36',
    external_audience_id: AUD,
    audience_settings: { advertiserId: ADV },
    ...overrides
  }
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k]
  return p
}
function identify(member, email) {
  seq++
  return {
    type: 'identify',
    messageId: `personas_golden_${seq}`,
    userId: `user_${seq}`,
    anonymousId: `anon_${seq}`,
    timestamp: '2024-05-06T09:30:22.829Z',
    traits: { email, first_time_shopper: member },
    context: { personas: personas() }
  }
}

const FLAGS = [
  [true, true, true], [true, true, false], [true, false, true], [false, true, true],
  [true, false, false], [false, true, false], [false, false, true], [false, false, false]
]
const flagMapping = ([e, p, a]) => ({ send_email: e, send_phone: p, send_advertising_id: a })
const flagName = ([e, p, a]) => [e && 'email', p && 'phone', a && 'adid'].filter(Boolean).join('+') || 'none'
const full = { email: 'Jane.Doe+promo@Example.com', phone: '+15555550123', advertisingId: '6D92078A-8246-4BA4-AE5B-76104861E7DC' }

const vectors = []
const v = (x) => vectors.push(x)

// --- send_* combinations, native add (all 8) and sync (all 8) ---
for (const f of FLAGS) {
  v({ name: `addToAudience send ${flagName(f)}`, action: 'addToAudience', mapping: flagMapping(f), events: [track(true, full)] })
}
for (const f of FLAGS) {
  v({ name: `syncAudience send ${flagName(f)}`, action: 'syncAudience', mapping: flagMapping(f), events: [track(true, full)] })
}
// legacy add/remove with combinations and several advertisers
const legacySettings = { advertiser_ids: [ADV, ADV2, ADV3] }
const legacyMapping = (f) => ({ selected_advertiser_id: ADV2, audience_id: AUD2, ...flagMapping(f) })
v({ name: 'addUser legacy, three advertisers, all identifiers', action: 'addUser', settings: legacySettings, mapping: legacyMapping([true, true, true]), events: [track(true, full)] })
v({ name: 'removeUser legacy, three advertisers, email+adid', action: 'removeUser', settings: legacySettings, mapping: legacyMapping([true, false, true]), events: [track(false, full)] })
v({ name: 'addUser legacy, single advertiser, email only', action: 'addUser', settings: { advertiser_ids: [ADV] }, mapping: { selected_advertiser_id: ADV, audience_id: AUD2, ...flagMapping([true, false, false]) }, events: [track(true, full)] })
v({ name: 'removeUser legacy batch of three', action: 'removeUser', settings: legacySettings, mapping: legacyMapping([true, true, true]), events: [
  track(false, { email: 'a.b.c@example.com' }), track(false, { advertisingId: 'aaaa-bbbb' }), track(false, { email: 'x+y@z.io', phone: '0044 20 7183 8750' })
] })
v({ name: 'addUser legacy, all send flags false', action: 'addUser', settings: legacySettings, mapping: legacyMapping([false, false, false]), events: [track(true, full)] })
v({ name: 'addUser legacy, missing audience_id', action: 'addUser', settings: legacySettings, mapping: { selected_advertiser_id: ADV2 }, events: [track(true, full)], single: true })

// --- removeFromAudience ---
v({ name: 'removeFromAudience all identifiers', action: 'removeFromAudience', events: [track(false, full)] })
v({ name: 'removeFromAudience phone+adid only', action: 'removeFromAudience', mapping: flagMapping([false, true, true]), events: [track(false, full)] })

// --- pre-hashed ---
v({ name: 'addToAudience pre-hashed lower case', action: 'addToAudience', events: [track(true, { email: HEX, phone: HEX_PHONE, advertisingId: HEX })] })
v({ name: 'addToAudience pre-hashed upper case', action: 'addToAudience', events: [track(true, { email: HEX.toUpperCase(), phone: HEX_PHONE.toUpperCase(), advertisingId: HEX.toUpperCase() })] })
v({ name: 'syncAudience pre-hashed upper case', action: 'syncAudience', events: [track(true, { email: HEX.toUpperCase(), phone: HEX_PHONE.toUpperCase(), advertisingId: HEX.toUpperCase() })] })
v({ name: 'addUser legacy pre-hashed upper case', action: 'addUser', settings: legacySettings, mapping: legacyMapping([true, true, true]), events: [track(true, { email: HEX.toUpperCase(), phone: HEX_PHONE.toUpperCase() })] })
v({ name: 'addUser legacy, value containing 64 hex chars', action: 'addUser', settings: legacySettings, mapping: legacyMapping([true, false, false]), events: [track(true, { email: `${HEX}@example.com` })],
  deliberateDifference: 'SPEC §2.3 (pre-hashed = exactly 64 hex): the legacy reference tests an unanchored regex and sends this email in clear text; we hash it' })

// --- missing identifiers ---
v({ name: 'addToAudience email only present', action: 'addToAudience', events: [track(true, { email: 'testing@testing.com' })] })
v({ name: 'addToAudience advertising id only present', action: 'addToAudience', events: [track(true, { advertisingId: '4242' })] })
v({ name: 'syncAudience phone only present', action: 'syncAudience', events: [track(true, { phone: '1234567890' })] })
v({ name: 'addToAudience phone only present', action: 'addToAudience', events: [track(true, { phone: '1234567890' })],
  deliberateDifference: 'SPEC §2.2: phone-only users are sent, not dropped' })
v({ name: 'addToAudience batch with a phone-only user', action: 'addToAudience', events: [track(true, { email: 'one@example.com' }), track(true, { phone: '+15555550100' }), track(true, { advertisingId: 'abc-def' })],
  deliberateDifference: 'SPEC §2.2: phone-only users are sent, not dropped' })
v({ name: 'removeFromAudience no identifiers at all', action: 'removeFromAudience', events: [track(false, {})] })
v({ name: 'syncAudience no identifiers at all', action: 'syncAudience', events: [track(true, {})] })
v({ name: 'addToAudience identifiers from properties', action: 'addToAudience', events: [
  { ...track(true, {}), properties: { audience_key: 'first_time_shopper', first_time_shopper: true, email: 'prop@example.com', phone: '+15555550111' } }
] })

// --- email / phone / mobile id edge cases (segment policy) ---
const emails = ['Jane.Doe+tag@Gmail.com', 'a.b.c+x+y@sub.example.co.uk', 'UPPER@EXAMPLE.COM', ' padded@example.com ', 'ünïcødé.Üser@exämple.de', 'no-at-sign', 'first.last@do.main']
emails.forEach((email, i) => v({ name: `syncAudience email edge ${i + 1}: ${JSON.stringify(email)}`, action: 'syncAudience', mapping: flagMapping([true, false, false]), events: [track(true, { email })] }))
const phones = ['+1 (555) 555-5555', '0044 20 7183 8750', '(415) 555-0123', ' +15555550123', '1234567890']
phones.forEach((phone, i) => v({ name: `syncAudience phone edge ${i + 1}: ${JSON.stringify(phone)}`, action: 'syncAudience', mapping: flagMapping([false, true, false]), events: [track(true, { phone })] }))
const adids = ['6d92078a-8246-4ba4-ae5b-76104861e7dc', ' 6D92078A-8246-4BA4-AE5B-76104861E7DC ']
adids.forEach((advertisingId, i) => v({ name: `addToAudience mobile id edge ${i + 1}`, action: 'addToAudience', mapping: flagMapping([false, false, true]), events: [track(true, { advertisingId })] }))
v({ name: 'syncAudience whitespace-only email beside a phone', action: 'syncAudience', events: [track(true, { email: '   ', phone: '+15555550123' })],
  deliberateDifference: 'SPEC §2.3 (empty values are skipped): the reference sends {"id":""} for a whitespace-only value; we send {}' })

// --- identify vs track; journey steps ---
v({ name: 'syncAudience identify enter', action: 'syncAudience', mapping: { email: { '@path': '$.traits.email' } }, events: [identify(true, 'identify.user@example.com')] })
v({ name: 'syncAudience identify exit', action: 'syncAudience', mapping: { email: { '@path': '$.traits.email' } }, events: [identify(false, 'identify.user@example.com')] })
v({ name: 'syncAudience journey_step enter', action: 'syncAudience', events: [track(true, { email: 'journey@example.com' }, { event: 'Journey Step Entered', personas: { computation_class: 'journey_step', computation_key: 'first_time_shopper' } })] })
v({ name: 'syncAudience trait computation has no membership', action: 'syncAudience', events: [track(true, { email: 'trait@example.com' }, { personas: { computation_class: 'trait' } })] })
v({ name: 'syncAudience membership as string "true"', action: 'syncAudience', events: [track('true', { email: 'string@example.com' })] })

// --- batches mixing adds and removes (distinct users) ---
v({ name: 'syncAudience batch mixing adds and removes', action: 'syncAudience', events: [
  track(true, { email: 'add1@example.com', phone: '+15555550001' }), track(false, { email: 'del1@example.com' }), track(true, { advertisingId: 'ADID-3' }), track(false, { phone: '+15555550004' })
] })
v({ name: 'syncAudience batch with one invalid event', action: 'syncAudience', events: [
  track(true, { email: 'ok@example.com' }), track(true, { email: 'noaud@example.com' }, { personas: { external_audience_id: undefined } }), track(false, { email: 'bye@example.com' })
] })

// --- audience settings errors ---
v({ name: 'addToAudience without audience_settings', action: 'addToAudience', events: [track(true, full, { personas: { audience_settings: undefined } })] })
v({ name: 'syncAudience without audience_settings', action: 'syncAudience', events: [track(true, full, { personas: { audience_settings: undefined } })] })
v({ name: 'syncAudience audience_settings without advertiserId', action: 'syncAudience', events: [track(true, full, { personas: { audience_settings: {} } })] })
v({ name: 'syncAudience without external_audience_id', action: 'syncAudience', events: [track(true, full, { personas: { external_audience_id: undefined } })] })
v({ name: 'addToAudience without external_audience_id', action: 'addToAudience', events: [track(true, full, { personas: { external_audience_id: undefined } })],
  deliberateDifference: 'SPEC §2.2 validation: the reference sends audience_ids [null]; we reject the event with the syncAudience message' })

// --- createAudience ---
v({ name: 'createAudience legacy', action: 'createAudience', settings: legacySettings, mapping: { selected_advertiser_id: ADV2, custom_audience_name: { '@path': '$.properties.audience_name' } }, single: true,
  events: [{ type: 'track', event: 'Create Audience', messageId: 'create-1', userId: 'u1', timestamp: '2024-05-06T09:30:22.829Z', properties: { audience_name: 'First time shoppers' } }] })
v({ name: 'createAudience legacy, name over 70 characters', action: 'createAudience', settings: legacySettings, mapping: { selected_advertiser_id: ADV, custom_audience_name: 'A very long audience name that goes well beyond the seventy characters TikTok keeps' }, single: true,
  events: [{ type: 'track', event: 'Create Audience', messageId: 'create-2', userId: 'u1', timestamp: '2024-05-06T09:30:22.829Z', properties: {} }],
  deliberateDifference: 'SPEC §2.4: names over 70 characters cut to 67 + "..." before sending (TikTok does the same on its side)' })

async function runVector(vec) {
  const requests = []
  nock(HOST).persist().post(/.*/).reply(200, function (uri, body) {
    requests.push({ path: uri, body: typeof body === 'string' ? JSON.parse(body) : body })
    return uri.includes('/segment/audience/')
      ? { code: 0, message: 'OK', request_id: 'golden', data: { audience_id: '7999999999999999999' } }
      : { code: 0, message: 'OK', request_id: 'golden', data: {} }
  })
  const t = createTestIntegration(dest)
  const out = { requests: [] }
  try {
    if (vec.single) {
      await t.testAction(vec.action, { event: vec.events[0], settings: vec.settings || {}, mapping: vec.mapping || {}, useDefaultMappings: true })
    } else {
      await t.testBatchAction(vec.action, { events: vec.events, settings: vec.settings || {}, mapping: vec.mapping || {}, useDefaultMappings: true })
      const ms = t.results?.[0]?.multistatus
      if (Array.isArray(ms)) {
        out.multistatus = ms.map((r) => (r.errormessage ? { status: r.status, error: r.errormessage } : { status: r.status }))
      }
    }
  } catch (err) {
    out.error = err.message
  } finally {
    nock.cleanAll()
  }
  out.requests = requests.map((r) => ({ path: r.path, body: r.body }))
  return out
}

;(async () => {
  nock.disableNetConnect()
  const today = new Date().toISOString().slice(0, 10)
  const result = []
  for (const vec of vectors) {
    const expected = await runVector(vec)
    const record = {
      name: vec.name,
      source: `Segment @segment/action-destinations ${refVersion}, executed by test/golden/generate-reference.cjs on ${today}`,
      action: vec.action,
      invocation: vec.single ? 'testAction' : 'testBatchAction',
      settings: vec.settings || {},
      mapping: vec.mapping || {},
      policy: 'segment',
      events: vec.events,
      expected
    }
    if (vec.deliberateDifference) record.deliberateDifference = vec.deliberateDifference
    result.push(record)
  }
  const file = path.join(__dirname, 'vectors.json')
  // Keep hand-written `ours` of deliberate differences across regenerations.
  if (fs.existsSync(file)) {
    const old = JSON.parse(fs.readFileSync(file, 'utf8'))
    for (const r of result) {
      const prev = old.find((o) => o.name === r.name)
      if (prev && prev.ours && r.deliberateDifference) r.ours = prev.ours
    }
  }
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n')
  console.log(`${result.length} vectors written to ${file}`)
})()
