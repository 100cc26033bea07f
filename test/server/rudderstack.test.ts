/**
 * RudderStack's Node SDK (@rudderstack/rudder-sdk-node) pointed at the service, as
 * @segment/analytics-node already is (ingestion.test.ts): it posts `/v1/batch` with the write key
 * as HTTP Basic user; Engage-shaped enters and exits reach the TikTok audience.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Analytics from '@rudderstack/rudder-sdk-node'
import { emuAudiences, emuMembers, waitFor } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'

const WK = 'wk_rudder_test'
const AUD = 'rudder_aud'
const dir = mkdtempSync(join(tmpdir(), 'tta-rudder-'))
process.env.DATABASE_URL = `sqlite:${join(dir, 'db.sqlite')}`
process.env.ADMIN_PASSWORD = 'rudder-test-password'
process.env.SECRET_KEY = 'rudder-test-secret'
delete process.env.TIKTOK_API_URL
delete process.env.PUBLIC_URL
const { startService } = await import('../../src/server/serve.js')

let svc: Awaited<ReturnType<typeof startService>>
let audienceId: string

before(async () => {
  const config = join(dir, 'config.yaml')
  writeFileSync(
    config,
    `
sources:
  - { name: rudder, writeKey: ${WK} }
destinations:
  - name: tiktok
    source: rudder
    mode: native
    accessToken: emulator-access-token
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: ${AUD}, name: Rudder audience, advertiserId: "7000000000000000001" }
delivery: { windowMs: 50 }
`
  )
  svc = await startService({ port: 0, banner: false, config, emulator: true, dataDir: dir })
  audienceId = (await emuAudiences(`${svc.url}/emulator`)).find((a) => a.name === 'Rudder audience')!.audience_id
})
after(async () => {
  await svc?.close()
  rmSync(dir, { recursive: true, force: true })
})

test("RudderStack's Node SDK delivers Engage-shaped enters and exits", async () => {
  const client = new Analytics(WK, { dataPlaneUrl: svc.url, flushAt: 5, flushInterval: 200, logLevel: 'error' })
  const personas = { computation_class: 'audience', computation_key: AUD, computation_id: 'aud_rudder', namespace: 'spa_test' }
  const email = (i: number) => `r${i}@rudder.example.com`
  for (let i = 0; i < 6; i++) {
    client.track({
      userId: `r${i}`,
      event: 'Audience Entered',
      properties: { audience_key: AUD, [AUD]: true },
      context: { traits: { email: email(i) }, personas }
    })
  }
  await client.flush()
  client.track({ userId: 'r0', event: 'Audience Exited', properties: { audience_key: AUD, [AUD]: false }, context: { traits: { email: email(0) }, personas } })
  await client.flush()
  const want = [1, 2, 3, 4, 5].map((i) => sha256(email(i))).sort()
  let got: string[] = []
  const ok = await waitFor(async () => {
    got = ((await emuMembers(`${svc.url}/emulator`, audienceId)).EMAIL_SHA256 ?? []).slice().sort()
    return JSON.stringify(got) === JSON.stringify(want)
  }, 15_000)
  assert.ok(ok, `members: ${JSON.stringify(got)}`)
  const stored = await svc.ctx.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM events')
  assert.equal(Number(stored?.n), 7, 'each SDK call stored once')
})
