import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import {
  ACTION_KEYS,
  compileMapping,
  renderActionsMarkdown,
  runDynamicField,
  sampleEvent,
  tiktokAudiences,
  type DynamicFieldClient
} from '../../src/destination/index.js'

test('six actions with Segment titles and default triggers', () => {
  const triggers = Object.fromEntries(ACTION_KEYS.map((k) => [k, [tiktokAudiences.actions[k].title, tiktokAudiences.actions[k].defaultSubscription]]))
  assert.deepEqual(triggers, {
    syncAudience: ['Sync Audience [Beta]', 'type = "track"'],
    addToAudience: ['Add to Audience', 'event = "Audience Entered"'],
    removeFromAudience: ['Remove from Audience', 'event = "Audience Exited"'],
    addUser: ['Add Users (Legacy)', 'event = "Audience Entered"'],
    removeUser: ['Remove Users (Legacy)', 'event = "Audience Exited"'],
    createAudience: ['Create Audience (Legacy)', 'event = "Create Audience"']
  })
  assert.equal(tiktokAudiences.slug, 'actions-tiktok-audiences')
})

test('fields, hidden flags and defaults as the reference', () => {
  const hidden = Object.fromEntries(
    ACTION_KEYS.map((k) => [
      k,
      Object.entries(tiktokAudiences.actions[k].fields)
        .filter(([, f]) => f.hidden)
        .map(([key]) => key)
    ])
  )
  assert.deepEqual(hidden, {
    syncAudience: ['event_name', 'enable_batching', 'external_audience_id', 'batch_keys'],
    addToAudience: ['event_name', 'enable_batching', 'external_audience_id'],
    removeFromAudience: ['event_name', 'enable_batching', 'external_audience_id'],
    addUser: ['event_name', 'enable_batching'],
    removeUser: ['event_name', 'enable_batching'],
    createAudience: []
  })
  const add = tiktokAudiences.actions.addUser.fields
  assert.deepEqual(Object.keys(add), [
    'selected_advertiser_id',
    'audience_id',
    'email',
    'phone',
    'advertising_id',
    'send_email',
    'send_phone',
    'send_advertising_id',
    'event_name',
    'enable_batching'
  ])
  assert.deepEqual(add.email?.default, {
    '@if': { exists: { '@path': '$.context.traits.email' }, then: { '@path': '$.context.traits.email' }, else: { '@path': '$.properties.email' } }
  })
  assert.deepEqual(add.advertising_id?.default, { '@path': '$.context.device.advertisingId' })
  assert.equal(add.selected_advertiser_id?.dynamic, true)
  assert.equal(add.audience_id?.required, true)
  assert.deepEqual(tiktokAudiences.actions.syncAudience.fields.batch_keys?.default, ['send_email', 'send_phone', 'send_advertising_id'])
  assert.deepEqual(Object.keys(tiktokAudiences.actions.createAudience.fields), ['selected_advertiser_id', 'custom_audience_name'])
})

test("presets: Audience Entered/Exited plus the reference's entity and journey presets", () => {
  assert.deepEqual(
    tiktokAudiences.presets.map((p) => [p.name, p.partnerAction, p.subscribe ?? p.eventSlug]),
    [
      ['Audience Entered', 'addToAudience', 'event = "Audience Entered"'],
      ['Audience Exited', 'removeFromAudience', 'event = "Audience Exited"'],
      ['Entities Audience Entered', 'addToAudience', 'warehouse_audience_entered_track'],
      ['Entities Audience Exited', 'removeFromAudience', 'warehouse_audience_exited_track'],
      ['Associated Entity Added', 'addToAudience', 'warehouse_entity_added_track'],
      ['Associated Entity Removed', 'removeFromAudience', 'warehouse_entity_removed_track'],
      ['Journeys Step Entered', 'addToAudience', 'journeys_step_entered_track']
    ]
  )
})

test('every action compiles with its defaults and its sample event matches its default trigger', () => {
  for (const key of ACTION_KEYS) {
    const compiled = compileMapping({ action: key })
    assert.equal(compiled.matches(sampleEvent(key)), true, key)
  }
})

test('docs/ACTIONS.md is up to date (run: node --import tsx scripts/gen-docs.ts)', () => {
  const committed = readFileSync(new URL('../../docs/ACTIONS.md', import.meta.url), 'utf8')
  assert.equal(committed, renderActionsMarkdown())
  assert.ok(!/\| `external_audience_id` \|/.test(committed), 'hidden fields must not get a table row')
})

function client(overrides: Partial<DynamicFieldClient> = {}): DynamicFieldClient & { pages: number[] } {
  const pages: number[] = []
  return {
    pages,
    advertiserInfo: async (ids) => ({ code: 0, message: 'OK', data: { list: ids.map((id) => ({ advertiser_id: id, name: `Adv ${id}` })) } }),
    listAudiences: async (_adv, page, size) => {
      pages.push(page)
      assert.equal(size, 100)
      return { code: 0, message: 'OK', data: { list: [{ audience_id: `a${page}`, name: `Audience ${page}` }], page_info: { total_page: 3 } } }
    },
    ...overrides
  }
}

test('dynamic fields: advertisers, paged audiences, Segment messages', async () => {
  const c = client()
  assert.deepEqual(await runDynamicField('addUser', 'selected_advertiser_id', c, { settings: { advertiser_ids: ['1'] }, payload: {} }), {
    choices: [{ label: 'Adv 1', value: '1' }]
  })
  assert.deepEqual((await runDynamicField('addUser', 'selected_advertiser_id', c, { settings: { advertiser_ids: [] }, payload: {} })).error, {
    message: 'Sign in via OAuth on the settings page to load advertisers.',
    code: 'NOT_LOGGED_IN'
  })
  const failing = client({ advertiserInfo: async () => ({ code: 40001, message: 'No permission' }) })
  assert.deepEqual(await runDynamicField('createAudience', 'selected_advertiser_id', failing, { settings: { advertiser_ids: ['7'] }, payload: {} }), {
    choices: [{ label: '7', value: '7' }],
    error: { message: 'No permission', code: '40001' }
  })
  const audiences = await runDynamicField('removeUser', 'audience_id', c, { settings: {}, payload: { selected_advertiser_id: '1' } })
  assert.deepEqual(
    audiences.choices.map((x) => x.value),
    ['a1', 'a2', 'a3']
  )
  assert.deepEqual(c.pages, [1, 2, 3])
  assert.equal((await runDynamicField('addUser', 'audience_id', c, { settings: {}, payload: {} })).error?.code, 'FIELD_NOT_SELECTED')
  const thrown = client({
    listAudiences: async () => {
      throw new Error('socket hang up')
    }
  })
  assert.deepEqual((await runDynamicField('addUser', 'audience_id', thrown, { settings: {}, payload: { selected_advertiser_id: '1' } })).error, {
    message: 'socket hang up',
    code: 'FETCH_AUDIENCE_ERROR'
  })
  assert.equal((await runDynamicField('addToAudience', 'email', c, { settings: {}, payload: {} })).error?.code, '404')
})
