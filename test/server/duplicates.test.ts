/**
 * No accidental duplicates (SPEC §5.10): connecting an audience whose name the advertiser already
 * has in TikTok offers that audience instead of creating a twin (admin API: 409 naming it; the
 * config file and auto-connect use it); a twin is created only when asked for (`allowDuplicate`).
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { ADV, EMULATOR_TOKEN, startTestService, type TestService } from './admin-service.js'
import { emuAudiences, emuCreateAudience } from '../helpers/emu-control.js'

let s: TestService
let destId: number
before(async () => {
  s = await startTestService()
  const d = await s.api('POST', '/api/destinations', { name: 'dupes', mode: 'native', source: 'engage' })
  destId = d.body.id
  assert.equal((await s.api('POST', `/api/destinations/${destId}/token`, { accessToken: EMULATOR_TOKEN })).status, 200)
})
after(async () => s?.close())

const named = async (name: string) => (await emuAudiences(`${s.url}/emulator`)).filter((a) => a.name === name)

test('connecting an audience whose name the advertiser has: 409 naming it, then "use existing" or an explicit twin', async () => {
  const existing = await emuCreateAudience(`${s.url}/emulator/open_api`, 'Loyal customers', ADV)
  const put = (body: object) => s.api('PUT', `/api/destinations/${destId}/audiences/loyal_customers`, { name: 'Loyal customers', advertiserId: ADV, ...body })
  const refused = await put({})
  assert.equal(refused.status, 409, JSON.stringify(refused.body))
  assert.equal(refused.body.duplicateOf, existing)
  assert.match(refused.body.error, new RegExp(`already has an audience named "Loyal customers" \\(${existing}\\)`))
  assert.equal((await named('Loyal customers')).length, 1, 'nothing created')

  const used = await put({ externalAudienceId: existing })
  assert.equal(used.status, 201)
  assert.equal(used.body.externalAudienceId, existing)
  assert.equal(used.body.created, false)

  const twin = await s.api('PUT', `/api/destinations/${destId}/audiences/loyal_twin`, { name: 'Loyal customers', advertiserId: ADV, allowDuplicate: true })
  assert.equal(twin.status, 201)
  assert.notEqual(twin.body.externalAudienceId, existing)
  assert.equal((await named('Loyal customers')).length, 2, 'the twin was asked for')
})

test("auto-connect uses the advertiser's audience of the same name", async () => {
  const existing = await emuCreateAudience(`${s.url}/emulator/open_api`, 'auto_named', ADV)
  assert.equal((await s.api('PATCH', `/api/destinations/${destId}`, { autoConnectAudiences: true, enabled: true })).status, 200)
  await s.send([
    {
      type: 'track',
      event: 'Audience Entered',
      userId: 'u1',
      messageId: 'dupe-auto-1',
      properties: { audience_key: 'auto_named', auto_named: true },
      context: {
        traits: { email: 'u1@example.com' },
        personas: { computation_class: 'audience', computation_key: 'auto_named', computation_id: 'a1', namespace: 'spa' }
      }
    }
  ])
  const conn = await s.api('GET', `/api/destinations/${destId}/audiences/auto_named`)
  assert.equal(conn.status, 200)
  assert.equal(conn.body.externalAudienceId, existing)
  assert.equal((await named('auto_named')).length, 1)
})
