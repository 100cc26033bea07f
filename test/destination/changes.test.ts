import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  MESSAGES,
  buildCreateAudienceBody,
  buildMappingBody,
  compileMapping,
  groupMembershipChanges,
  resolveAudienceMembership,
  sampleAudienceEvent,
  sampleIdentifyEvent,
  sha256Hex,
  toChange,
  truncateAudienceName,
  type ChangeContext,
  type MembershipChange
} from '../../src/destination/index.js'
import { mappingBodyOf, mappingBodyOfItems, mappingBodyOfItemsInSlices } from '../../src/destination/request-bodies.js'
import { serializeIds } from '../../src/store/queue-format.js'

const native = { mode: 'native' as const, advertiserIds: [], normalization: 'segment' as const }
const ctxFor = (event: any, settings: ChangeContext['settings'] = native): ChangeContext => ({
  event,
  settings,
  audienceSettings: event.context?.personas?.audience_settings
})
function changeOf(action: string, event: any, mapping: Record<string, unknown> = {}, settings?: ChangeContext['settings']) {
  const compiled = compileMapping({ action, mapping })
  return toChange(compiled, compiled.map(event), ctxFor(event, settings))
}
function phoneOnly(member: boolean, phone = '+15555550100'): any {
  const e = sampleAudienceEvent(member) as any
  e.context.traits = { phone }
  delete e.context.device
  return e
}

test('membership resolution table (segment-semantics §2.4)', () => {
  const personas = (cls: string) => ({ computation_class: cls, computation_key: 'k' })
  const rows: Array<[unknown, boolean | undefined]> = [
    [{ type: 'track', properties: { k: true }, context: { personas: personas('audience') } }, true],
    [{ type: 'track', properties: { k: false }, context: { personas: personas('audience') } }, false],
    [{ type: 'identify', traits: { k: false }, context: { personas: personas('audience') } }, false],
    [{ type: 'identify', traits: { k: true }, context: { personas: personas('journey_step') } }, true],
    [{ type: 'track', properties: { k: 'true' }, context: { personas: personas('audience') } }, undefined],
    [{ type: 'track', properties: { k: true }, context: { personas: personas('trait') } }, undefined],
    [{ type: 'track', properties: { k: true } }, undefined],
    [{ type: 'identify', properties: { k: true }, context: { personas: personas('audience') } }, undefined],
    [{ type: 'page', properties: { k: true }, context: { personas: personas('audience') } }, undefined],
    [{ type: 'track', properties: { k: true }, context: { personas: { computation_class: 'audience', computation_key: '' } } }, undefined],
    [null, undefined]
  ]
  for (const [event, expected] of rows) assert.equal(resolveAudienceMembership(event), expected, JSON.stringify(event))
  assert.equal(resolveAudienceMembership(sampleIdentifyEvent(true)), true)
})

test('syncAudience validation order and messages', () => {
  const e = sampleAudienceEvent(true) as any
  const noSettings = structuredClone(e)
  delete noSettings.context.personas.audience_settings
  assert.deepEqual(changeOf('syncAudience', noSettings), { kind: 'error', code: 'PAYLOAD_VALIDATION_FAILED', message: MESSAGES.noAudienceSettings })
  const noAdvertiser = structuredClone(e)
  noAdvertiser.context.personas.audience_settings = {}
  assert.equal((changeOf('syncAudience', noAdvertiser) as any).message, 'Bad Request: Advertiser ID is required in audienceSettings.')
  const stringMember = structuredClone(e)
  stringMember.properties.first_time_shopper = 'true'
  assert.equal((changeOf('syncAudience', stringMember) as any).message, MESSAGES.membershipNotBoolean)
  const noAudience = structuredClone(e)
  delete noAudience.context.personas.external_audience_id
  assert.equal((changeOf('syncAudience', noAudience) as any).message, 'Missing required field: external_audience_id.')
  const allOff = { send_email: false, send_phone: false, send_advertising_id: false }
  assert.equal((changeOf('syncAudience', e, allOff) as any).message, MESSAGES.noSendFlag)
  const noValue = structuredClone(e)
  noValue.context.traits = {}
  delete noValue.context.device
  assert.equal((changeOf('syncAudience', noValue) as any).message, MESSAGES.noEnabledIdentifier)
  assert.equal((changeOf('syncAudience', sampleAudienceEvent(false)) as any).action, 'delete')
})

test('add/remove actions: fixed direction, advertisers and audience id per flow', () => {
  const enter = sampleAudienceEvent(true)
  const add = changeOf('addToAudience', enter) as MembershipChange
  assert.equal(add.action, 'add')
  assert.deepEqual(add.advertiserIds, ['7000000000000000001'])
  assert.equal(add.audienceId, '7123456789012345678')
  // The trigger decides, not the membership: an exit mapped to addToAudience is still an add.
  assert.equal((changeOf('addToAudience', sampleAudienceEvent(false)) as MembershipChange).action, 'add')
  assert.equal((changeOf('removeFromAudience', enter) as MembershipChange).action, 'delete')
  const legacySettings = { mode: 'legacy' as const, advertiserIds: ['1', '2'], normalization: 'segment' as const }
  const legacy = changeOf('removeUser', enter, { selected_advertiser_id: '2', audience_id: '99' }, legacySettings) as MembershipChange
  assert.deepEqual(legacy.advertiserIds, ['1', '2'])
  assert.equal(legacy.audienceId, '99')
  assert.equal(legacy.action, 'delete')
  const noAdvertisers = changeOf('addUser', enter, { selected_advertiser_id: '2', audience_id: '99' }, { ...legacySettings, advertiserIds: [] })
  assert.equal(noAdvertisers.kind, 'error')
})

test('id_schema order and {} slots follow the send_* flags', () => {
  const e = sampleAudienceEvent(true) as any
  e.context.traits = { email: 'a@b.co' }
  const c = changeOf('addToAudience', e, { send_advertising_id: true, send_phone: true }) as MembershipChange
  assert.deepEqual(c.idSchema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
  assert.deepEqual(
    c.ids.map((x) => x !== null),
    [true, false, true]
  )
  const d = changeOf('addToAudience', e, { send_phone: false }) as MembershipChange
  assert.deepEqual(d.idSchema, ['EMAIL_SHA256', 'IDFA_SHA256'])
  assert.deepEqual(c.quality.phone.status, 'empty')
})

test('deliberate difference (SPEC §2.2): phone-only users are sent, not dropped', () => {
  for (const action of ['addToAudience', 'removeFromAudience']) {
    const change = changeOf(action, phoneOnly(true)) as MembershipChange
    assert.equal(change.kind, 'membership')
    assert.deepEqual(change.ids, [null, sha256Hex('+15555550100'), null])
  }
  const legacy = changeOf(
    'addUser',
    phoneOnly(true),
    { selected_advertiser_id: '1', audience_id: '9' },
    {
      mode: 'legacy',
      advertiserIds: ['1'],
      normalization: 'segment'
    }
  ) as MembershipChange
  assert.equal(legacy.kind, 'membership')
})

test('deliberate difference (SPEC §2.2): add and delete of the same user stay in input order', () => {
  const add = changeOf('addToAudience', phoneOnly(true, '+15555550001')) as MembershipChange
  const del = changeOf('removeFromAudience', phoneOnly(false, '+15555550001')) as MembershipChange
  const other = changeOf('addToAudience', phoneOnly(true, '+15555550002')) as MembershipChange
  // add(u1), delete(u1), add(u1), add(u2): the second add of u1 must not join the first request,
  // or the delete would be applied last and u1 would end up removed.
  const groups = groupMembershipChanges([add, del, add, other])
  assert.deepEqual(
    groups.map((g) => g.map((c) => c.action)),
    [['add'], ['delete'], ['add', 'add']]
  )
  assert.equal(groups[2]?.[1], other)
  // Distinct users still share requests (what the reference sends, as two requests).
  const grouped = groupMembershipChanges([add, changeOf('removeFromAudience', phoneOnly(false, '+15555550003')) as MembershipChange, other])
  assert.deepEqual(
    grouped.map((g) => g.length),
    [2, 1]
  )
})

test('recommended policy rejects unusable identifiers and reports them', () => {
  const e = sampleAudienceEvent(true) as any
  e.context.traits = { email: 'not-an-email' }
  delete e.context.device
  const change = changeOf('syncAudience', e, {}, { ...native, normalization: 'recommended', defaultPhoneRegion: 'US' })
  assert.equal(change.kind, 'error')
  assert.match((change as any).message, /^At least one enabled identifier .* \(rejected email: not a valid email address\)$/)
  assert.equal((change as any).quality.email.status, 'rejected')
})

test('request bodies: key order, rows, create body and name truncation', () => {
  const c = changeOf('addToAudience', sampleAudienceEvent(true), { send_phone: false }) as MembershipChange
  const body = buildMappingBody([c, { ...c, ids: [null, null] }])
  assert.deepEqual(Object.keys(body), ['advertiser_ids', 'action', 'id_schema', 'batch_data'])
  assert.deepEqual(body.batch_data[1], [{}, {}])
  assert.deepEqual(body.batch_data[0]?.[0], { id: c.ids[0], audience_ids: ['7123456789012345678'] })
  assert.throws(() => buildMappingBody([c, { ...c, action: 'delete' }]), /must share/)
  const long = 'x'.repeat(71)
  assert.equal(truncateAudienceName(long), `${'x'.repeat(67)}...`)
  assert.equal(truncateAudienceName('x'.repeat(70)), 'x'.repeat(70))
  const create = changeOf('createAudience', { type: 'track' }, { selected_advertiser_id: '1', custom_audience_name: long })
  assert.equal(
    JSON.stringify(buildCreateAudienceBody(create as any)),
    JSON.stringify({ custom_audience_name: `${'x'.repeat(67)}...`, advertiser_id: '1', action: 'create' })
  )
})

test('a mapping body written as text is byte for byte the serialised body', () => {
  const request = {
    action: 'delete' as const,
    advertiserIds: ['7000000000000000001', '7000000000000000002'],
    audienceId: '123"quoted',
    idSchema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'] as MembershipChange['idSchema']
  }
  const rows: (string | null)[][] = [[sha256Hex('a'), null, sha256Hex('b')], [null, null, null], [sha256Hex('c'), sha256Hex('d'), 'not\\hex"but escaped'], []]
  assert.deepEqual(mappingBodyOfItems(request, rows.map(serializeIds)), Buffer.from(JSON.stringify(mappingBodyOf(request, rows))))
  assert.deepEqual(mappingBodyOfItems(request, []), Buffer.from(JSON.stringify(mappingBodyOf(request, []))))
})

test('a mapping body written from the rows as queued (JSON items) is byte for byte the serialised body (UTF-8)', () => {
  const request = {
    action: 'add' as const,
    advertiserIds: ['7000000000000000001'],
    audienceId: '9"9',
    idSchema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'] as MembershipChange['idSchema']
  }
  const pick = (k: number): string | null => {
    switch (k % 7) {
      case 0:
        return null
      case 1:
        return ''
      case 2:
        return 'with "quote", comma and \\ backslash'
      case 3:
        return 'null'
      case 4:
        return '\u2028 line,"x"'
      default:
        return sha256Hex(String(k))
    }
  }
  const rows: (string | null)[][] = [[], [null, null, null], [sha256Hex('a'), null, sha256Hex('b')]]
  for (let r = 0; r < 300; r++) rows.push([pick(r * 3), pick(r * 5 + 1), pick(r * 11 + 2)])
  assert.deepEqual(mappingBodyOfItems(request, rows.map(serializeIds)), Buffer.from(JSON.stringify(mappingBodyOf(request, rows))))
  assert.deepEqual(mappingBodyOfItems(request, []), Buffer.from(JSON.stringify(mappingBodyOf(request, []))))
})

test('a mapping body written in slices, pausing between them, is the same body', async () => {
  const request = {
    action: 'add' as const,
    advertiserIds: ['7000000000000000001'],
    audienceId: '9"9',
    idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] as MembershipChange['idSchema']
  }
  const rows: (string | null)[][] = []
  for (let r = 0; r < 25; r++) rows.push([r % 4 === 0 ? null : sha256Hex(`e${r}`), r % 3 === 0 ? 'é "x"' : sha256Hex(`p${r}`)])
  const whole = Buffer.from(JSON.stringify(mappingBodyOf(request, rows)))
  for (const slice of [1, 7, 25, 100]) {
    let pauses = 0
    const body = await mappingBodyOfItemsInSlices(request, rows.map(serializeIds), slice, async () => void pauses++)
    assert.deepEqual(body, whole, `slices of ${slice}`)
    assert.equal(pauses, Math.ceil(rows.length / slice) - 1)
  }
  assert.deepEqual(
    await mappingBodyOfItemsInSlices(request, [], 10, async () => assert.fail('no pause for no rows')),
    Buffer.from(JSON.stringify(mappingBodyOf(request, [])))
  )
})
