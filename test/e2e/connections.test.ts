/**
 * Audience connections through the pipeline (SPEC §2.4): auto-connect of audiences first seen in
 * traffic, and the Send Track / Send Identify toggles of a connection.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { runCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'

let emu: RunningEmulator
let dir: string
before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-conn-'))
})
after(async () => emu.close())
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' })
})

const env = () => ({ TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '' })
async function audiences() {
  return ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] }).audiences
}
async function emails(id: string): Promise<string[]> {
  return ((await (await fetch(`${emu.url}/_emulator/audiences/${id}/members`)).json()) as { members: Record<string, string[]> }).members.EMAIL_SHA256 ?? []
}
function write(name: string, text: string): string {
  const f = join(dir, name)
  writeFileSync(f, text)
  return f
}

test('auto-connect: each audience first seen in traffic gets its own TikTok audience, created once', async () => {
  const cfg = write(
    'auto.yaml',
    `
destinations:
  - name: tiktok
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["7000000000000000001"]
    autoConnectAudiences: true
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
delivery: { windowMs: 10 }
`
  )
  const events = []
  for (const key of ['vip_buyers', 'churn_risk']) {
    for (let i = 0; i < 5; i++) events.push(audienceEvent({ userId: `${key}${i}`, email: `${key}.${i}@example.com` }, key, true))
  }
  events.push(audienceEvent({ userId: 'vip_buyers0', email: 'vip_buyers.0@example.com' }, 'vip_buyers', false))
  const r = await runCli(['send', '--config', cfg, '--events', write('auto.ndjson', ndjson(events))], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.delivered, 11)
  const auds = await audiences()
  assert.deepEqual(auds.map((a) => a.name).sort(), ['churn_risk', 'vip_buyers'])
  const vip = auds.find((a) => a.name === 'vip_buyers')!
  assert.deepEqual(await emails(vip.audience_id), [1, 2, 3, 4].map((i) => sha256(`vip_buyers${i}@example.com`)).sort())
})

test('connections: Send Track off drops track calls, Send Identify on routes identify calls with the audience trait', async () => {
  const created = await fetch(`${emu.apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'access-token': 'emulator-access-token' },
    body: JSON.stringify({ advertiser_id: '7000000000000000001', action: 'create', custom_audience_name: 'identify only' })
  })
  const audienceId = ((await created.json()) as { data: { audience_id: string } }).data.audience_id
  const cfg = write(
    'toggles.yaml',
    `
destinations:
  - name: tiktok
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    mappings:
      - { name: Sync, action: syncAudience, trigger: 'type = "identify" or type = "track"', mapping: { email: { "@if": { exists: { "@path": "$.traits.email" }, then: { "@path": "$.traits.email" }, else: { "@path": "$.context.traits.email" } } }, send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: loyal, advertiserId: "7000000000000000001", externalAudienceId: "${audienceId}", sendTrack: false, sendIdentify: true }
delivery: { windowMs: 10 }
`
  )
  const identify = (user: string, member: boolean) => ({
    type: 'identify',
    userId: user,
    messageId: `id-${user}-${member}`,
    traits: { email: `${user}@example.com`, loyal: member },
    context: { personas: { computation_class: 'audience', computation_key: 'loyal', computation_id: 'aud_l', namespace: 'spa_1' } }
  })
  const events = [
    identify('ann', true),
    identify('bob', true),
    audienceEvent({ userId: 'cat', email: 'cat@example.com' }, 'loyal', true),
    identify('bob', false)
  ]
  const r = await runCli(['send', '--config', cfg, '--events', write('toggles.ndjson', ndjson(events))], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.filtered, 1, 'the track call was dropped by Send Track off')
  assert.deepEqual(await emails(audienceId), [sha256('ann@example.com')])
})

test("config: a native audience without an id uses the advertiser's audience of that name instead of creating a twin; allowDuplicate creates one", async () => {
  const created = await fetch(`${emu.apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'access-token': 'emulator-access-token' },
    body: JSON.stringify({ advertiser_id: '7000000000000000001', action: 'create', custom_audience_name: 'Repeat buyers' })
  })
  const existing = ((await created.json()) as { data: { audience_id: string } }).data.audience_id
  const cfg = (allowDuplicate: boolean) =>
    write(
      `dupes-${allowDuplicate}.yaml`,
      `
destinations:
  - name: tiktok-${allowDuplicate}
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["7000000000000000001"]
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: repeat_buyers, name: Repeat buyers, allowDuplicate: ${allowDuplicate} }
`
    )
  const events = write('dupes.ndjson', ndjson([audienceEvent({ userId: 'rb1', email: 'rb1@example.com' }, 'repeat_buyers', true)]))
  const reused = await runCli(['send', '--config', cfg(false), '--events', events], { env: env() })
  assert.equal(reused.code, 0, reused.stderr)
  assert.deepEqual(await emails(existing), [sha256('rb1@example.com')])
  assert.equal((await audiences()).filter((a) => a.name === 'Repeat buyers').length, 1)
  const twin = await runCli(['send', '--config', cfg(true), '--events', events], { env: env() })
  assert.equal(twin.code, 0, twin.stderr)
  assert.equal((await audiences()).filter((a) => a.name === 'Repeat buyers').length, 2)
})
