/**
 * Segment's own Webhook Audiences and Webhooks (Actions) destinations, run by Segment's runtime
 * (`@segment/actions-core` createTestIntegration, from the pinned reference install), as the
 * client of a running `serve`: Create Audience → Get Audience → signed single and batched sends →
 * exact members in the emulator; Audience Exited removes; forged or missing signatures refused.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { referenceInstall } from '../../bench/reference.js'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { startServe, type ServeProcess } from '../helpers/serve.js'

const SECRET = 'a-shared-secret-of-some-length'
const WRITE_KEY = 'wk_segment_webhooks'
const ADVERTISER = '7000000000000000001'

let emu: RunningEmulator
let serve: ServeProcess
let core: any
let webhookAudiences: any
let webhook: any

before(async () => {
  const refDir = await referenceInstall()
  const require = createRequire(join(refDir, 'package.json'))
  core = require('@segment/actions-core')
  webhookAudiences = require('@segment/action-destinations/dist/destinations/webhook-audiences').default
  webhook = require('@segment/action-destinations/dist/destinations/webhook').default
  emu = await startEmulator({ log: false })
  const dir = mkdtempSync(join(tmpdir(), 'tta-webhooks-'))
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - name: engage
    writeKey: ${WRITE_KEY}
    sharedSecret: ${SECRET}
  - name: unsigned
    writeKey: wk_unsigned
destinations:
  - name: tiktok
    source: engage
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["${ADVERTISER}"]
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
  - name: second
    source: unsigned
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["${ADVERTISER}"]
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
delivery: { windowMs: 10 }
`
  )
  serve = await startServe(['--config', config], {
    TIKTOK_API_URL: emu.apiUrl,
    DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
    ADMIN_PASSWORD: 'pw-webhooks-test'
  })
})
after(async () => {
  await serve?.stop()
  await emu?.close()
})

const settings = () => ({
  sharedSecret: SECRET,
  createAudienceUrl: `${serve.url}/v1/webhook/audiences?writeKey=${WRITE_KEY}`,
  getAudienceUrl: `${serve.url}/v1/webhook/audiences/get?writeKey=${WRITE_KEY}`
})
const extras = JSON.stringify({ destination: 'tiktok', advertiserId: ADVERTISER })

/** An Engage audience event as Segment's pipeline hands it to Webhook Audiences: its audience's id and extras stamped. */
function engage(email: string, member: boolean, externalId: string, key = 'vip_buyers') {
  const e = audienceEvent({ userId: email, email }, key, member, { externalAudienceId: externalId })
  ;(e.context as any).personas.audience_settings = { extras }
  return e
}

async function waitForMembers(audienceId: string, want: string[]): Promise<string[]> {
  const wanted = want.map(sha256).sort()
  let got: string[] = []
  for (let i = 0; i < 150; i++) {
    got = ((await emuMembers(emu.url, audienceId)).EMAIL_SHA256 ?? []).slice().sort()
    if (JSON.stringify(got) === JSON.stringify(wanted)) return got
    await new Promise((r) => setTimeout(r, 100))
  }
  assert.deepEqual(got, wanted, `members of ${audienceId}\n${serve.output().slice(-2000)}`)
  return got
}

test("Segment's Webhook Audiences: create → get → signed sends → exact members; exits remove", async () => {
  const t = core.createTestIntegration(webhookAudiences)
  const created = await t.createAudience({ settings: settings(), audienceName: 'VIP Buyers', audienceSettings: { extras } })
  const externalId = created.externalId as string
  const aud = (await emuAudiences(emu.url)).find((a) => a.audience_id === externalId)
  assert.equal(aud?.name, 'VIP Buyers')
  assert.equal(aud?.advertiser_id, ADVERTISER)
  // Created again (Segment retries, or a second space): the same audience, no twin.
  assert.equal((await t.createAudience({ settings: settings(), audienceName: 'VIP Buyers', audienceSettings: { extras } })).externalId, externalId)
  assert.equal((await emuAudiences(emu.url)).filter((a) => a.name === 'VIP Buyers').length, 1)
  assert.deepEqual(await t.getAudience({ settings: settings(), externalId, audienceSettings: { extras } }), { externalId })

  const url = `${serve.url}/v1/webhook?writeKey=${WRITE_KEY}`
  const mapping = { url, method: 'POST', data: { '@path': '$.' } }
  // Single send (perform): one event, extras merged into its body, signed before the merge.
  const single = await t.testAction('send', { event: engage('one@example.com', true, externalId), mapping, settings: settings(), useDefaultMappings: true })
  assert.equal(single[0].status, 200)
  assert.ok(single[0].options.headers.get('x-signature'))
  // Batched send (performBatch): a JSON array, signed over the first payload's data.
  const emails = ['two@example.com', 'three@example.com', 'four@example.com']
  const batch = await t.testBatchAction('send', {
    events: emails.map((e) => engage(e, true, externalId)),
    mapping,
    settings: settings(),
    useDefaultMappings: true
  })
  assert.equal(batch[0].status, 200)
  assert.ok(Array.isArray(JSON.parse(batch[0].options.body)), 'Segment sent the batch as one JSON array')
  await waitForMembers(externalId, ['one@example.com', ...emails])

  // Audience Exited removes.
  const exit = await t.testAction('send', { event: engage('three@example.com', false, externalId), mapping, settings: settings(), useDefaultMappings: true })
  assert.equal(exit[0].status, 200)
  await waitForMembers(externalId, ['one@example.com', 'two@example.com', 'four@example.com'])
})

test("Segment's Webhooks (Actions): signed sends accepted; forged or missing signature refused, nothing stored", async () => {
  const wa = core.createTestIntegration(webhookAudiences)
  const { externalId } = await wa.createAudience({ settings: settings(), audienceName: 'Churn risk', audienceSettings: { extras } })
  const t = core.createTestIntegration(webhook)
  const url = `${serve.url}/v1/webhook?writeKey=${WRITE_KEY}`
  const event = audienceEvent({ userId: 'w1', email: 'w1@example.com' }, 'churn_risk', true, { externalAudienceId: externalId })
  const ok = await t.testAction('send', {
    event,
    mapping: { url, method: 'POST', data: { '@path': '$.' } },
    settings: { sharedSecret: SECRET },
    useDefaultMappings: true
  })
  assert.equal(ok[0].status, 200)
  await waitForMembers(externalId, ['w1@example.com'])

  // Signed with another secret: Segment's runtime surfaces our 401.
  const forged = audienceEvent({ userId: 'w2', email: 'w2@example.com' }, 'churn_risk', true, { externalAudienceId: externalId })
  await assert.rejects(
    t.testAction('send', {
      event: forged,
      mapping: { url, method: 'POST', data: { '@path': '$.' } },
      settings: { sharedSecret: 'not-the-secret-at-all' },
      useDefaultMappings: true
    }),
    (err: any) => err.response?.status === 401 || /401|Unauthorized/i.test(String(err.message))
  )
  // No secret at all (no X-Signature).
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(forged) })
  assert.equal(r.status, 401)
  assert.match(((await r.json()) as { error: string }).error, /X-Signature/)
  await new Promise((res) => setTimeout(res, 500))
  assert.deepEqual(((await emuMembers(emu.url, externalId)).EMAIL_SHA256 ?? []).sort(), [sha256('w1@example.com')])
})

test('Create / Get Audience refusals name what is missing', async () => {
  const post = async (path: string, body: unknown, key = WRITE_KEY) => {
    const r = await fetch(`${serve.url}${path}?writeKey=${key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body)
    })
    return { status: r.status, error: ((await r.json()) as { error?: string }).error ?? '' }
  }
  let r = await post('/v1/webhook/audiences', { audienceName: 'X', destination: 'nope', advertiserId: ADVERTISER })
  assert.equal(r.status, 400)
  assert.match(r.error, /no native destination named "nope".*"tiktok"/)
  r = await post('/v1/webhook/audiences', { audienceName: 'X', destination: 'tiktok', advertiserId: '123' })
  assert.equal(r.status, 400)
  assert.match(r.error, /advertiser 123 is not one destination "tiktok" may use; these are: 7000000000000000001/)
  r = await post('/v1/webhook/audiences', { destination: 'tiktok' })
  assert.equal(r.status, 400)
  assert.match(r.error, /"audienceName" is required/)
  r = await post('/v1/webhook/audiences/get', { externalId: '999' })
  assert.equal(r.status, 404)
  assert.match(r.error, /no audience with externalId 999/)
  r = await post('/v1/webhook/audiences', { audienceName: 'X' }, 'wk_nope')
  assert.equal(r.status, 401)
  // An unknown audience id on an event: refused, naming it.
  const body = audienceEvent({ userId: 'u', email: 'u@example.com' }, 'k', true, { externalAudienceId: '424242' })
  const res = await fetch(`${serve.url}/v1/webhook?writeKey=wk_unsigned`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([body])
  })
  assert.equal(res.status, 400)
  assert.match(((await res.json()) as { error: string }).error, /\[0\]: context\.personas\.external_audience_id 424242 is not an audience connected/)
  // Nested far deeper than any event: refused before the signature is computed over it (no stack overflow).
  const deep = '['.repeat(20_000) + '"x"' + ']'.repeat(20_000)
  const text = JSON.stringify({ ...body, properties: { deep: 0 } }).replace('"deep":0', `"deep":${deep}`)
  const nested = await fetch(`${serve.url}/v1/webhook?writeKey=${WRITE_KEY}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': 'ab' },
    body: text
  })
  assert.equal(nested.status, 400)
  assert.match(((await nested.json()) as { error: string }).error, /nested more than 64 levels/)
})

test("the reference pins in bench/reference-pins are shared/bench-reference's, when that folder is beside the repository", () => {
  const shared = join(import.meta.dirname, '../../../shared/bench-reference/package.json')
  if (!existsSync(shared)) return
  assert.equal(readFileSync(join(import.meta.dirname, '../../bench/reference-pins/package.json'), 'utf8'), readFileSync(shared, 'utf8'))
})
