/**
 * Multi-advertiser fan-out from the config file and the CLI (README "One audience, several
 * advertisers"): `audiences[].advertiserIds` creates a TikTok audience per advertiser (or uses the
 * ids of `externalAudienceIds`), `send` delivers every change to each, `connections` shows them.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { first } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'

const A = '7000000000000000001'
const B = '7000000000000000002'
let emu: RunningEmulator
let dir: string
before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-fanout-'))
})
after(async () => emu.close())
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' })
})

const env = () => ({ TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '' })
const write = (name: string, text: string): string => {
  const f = join(dir, name)
  writeFileSync(f, text)
  return f
}
const config = (audience: string) => `
destinations:
  - name: tiktok
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["${A}", "${B}"]
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - ${audience}
delivery: { windowMs: 10 }
`
const emails = async (id: string) => ((await emuMembers(emu.url, id)).EMAIL_SHA256 ?? []).sort()
const hashes = (...users: string[]) => users.map((u) => sha256(`${u}@example.com`)).sort()
const person = (u: string) => ({ userId: u, email: `${u}@example.com` })
interface Listed {
  connections: {
    destination: string
    key: string
    advertiserIds: string[]
    targets: { advertiserId: string; externalAudienceId: string | null; state: string }[]
  }[]
}

test('config advertiserIds: an audience per advertiser, every change delivered to each, shown by `connections`; back to one advertiser on the same database', async () => {
  const db = `sqlite:${join(dir, 'fanout.db')}`
  const events = write(
    'fanout.ndjson',
    ndjson([
      audienceEvent(person('ann'), 'vip', true),
      audienceEvent(person('bob'), 'vip', true),
      audienceEvent(person('cat'), 'vip', true),
      audienceEvent(person('bob'), 'vip', false)
    ])
  )
  const cfg = write('fanout.yaml', config(`{ key: vip, name: VIP, advertiserIds: ["${A}", "${B}"] }`))
  const r = await runCli(['send', '--config', cfg, '--db', db, '--events', events], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.delivered, 4)
  const vip = (await emuAudiences(emu.url)).filter((a) => a.name === 'VIP')
  assert.deepEqual(vip.map((a) => a.advertiser_id).sort(), [A, B])
  for (const a of vip) assert.deepEqual(await emails(a.audience_id), hashes('ann', 'cat'), `advertiser ${a.advertiser_id}`)

  const listed = await runCli(['connections', '--db', db], { env: env() })
  assert.equal(listed.code, 0, listed.stderr)
  const out = JSON.parse(listed.stdout.trim().split('\n').pop()!) as Listed
  assert.equal(out.connections.length, 1)
  assert.deepEqual(first(out.connections).advertiserIds, [A, B])
  assert.deepEqual(
    first(out.connections).targets.map((t) => [t.advertiserId, t.externalAudienceId, t.state]),
    [A, B].map((adv) => [adv, vip.find((a) => a.advertiser_id === adv)!.audience_id, 'connected'])
  )

  // Applying again (same database) creates nothing; the old single-advertiser shape drops B.
  const single = write('single.yaml', config(`{ key: vip, name: VIP, advertiserId: "${A}" }`))
  const again = await runCli(['send', '--config', single, '--db', db, '--events', write('one.ndjson', ndjson([audienceEvent(person('dan'), 'vip', true)]))], {
    env: env()
  })
  assert.equal(again.code, 0, again.stderr)
  assert.equal((await emuAudiences(emu.url)).filter((a) => a.name === 'VIP').length, 2)
  const aId = vip.find((a) => a.advertiser_id === A)!.audience_id
  const bId = vip.find((a) => a.advertiser_id === B)!.audience_id
  assert.deepEqual(await emails(aId), hashes('ann', 'cat', 'dan'))
  assert.deepEqual(await emails(bId), hashes('ann', 'cat'))
  const after = JSON.parse((await runCli(['connections', '--db', db, '--destination', 'tiktok'], { env: env() })).stdout.trim()) as Listed
  assert.deepEqual(
    first(after.connections).targets.map((t) => [t.advertiserId, t.externalAudienceId]),
    [[A, aId]]
  )
})

test('config externalAudienceIds: the id given for an advertiser is used, the other advertiser gets one created; a foreign id is a problem for that advertiser only', async () => {
  const created = await fetch(`${emu.apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'access-token': 'emulator-access-token' },
    body: JSON.stringify({ advertiser_id: B, action: 'create', custom_audience_name: 'Kept for B' })
  })
  const kept = ((await created.json()) as { data: { audience_id: string } }).data.audience_id
  const events = write('given.ndjson', ndjson([audienceEvent(person('eve'), 'given', true)]))
  const cfg = write('given.yaml', config(`{ key: given, name: Given, advertiserIds: ["${A}", "${B}"], externalAudienceIds: { "${B}": "${kept}" } }`))
  const r = await runCli(['send', '--config', cfg, '--events', events], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  const forA = (await emuAudiences(emu.url)).find((a) => a.name === 'Given')!
  assert.equal(forA.advertiser_id, A)
  assert.deepEqual(await emails(forA.audience_id), hashes('eve'))
  assert.deepEqual(await emails(kept), hashes('eve'))

  // A's audience id given for B: B is refused (and its changes fail with the reason), A still gets them.
  const foreign = write(
    'foreign.yaml',
    config(`{ key: given, name: Given, advertiserIds: ["${A}", "${B}"], externalAudienceIds: { "${B}": "${forA.audience_id}" } }`)
  )
  const bad = await runCli(['send', '--config', foreign, '--events', write('f.ndjson', ndjson([audienceEvent(person('fay'), 'given', true)]))], { env: env() })
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, new RegExp(`audiences\\[0\\]: cannot verify audience ${forA.audience_id} for advertiser ${B}`))
  assert.match(bad.stderr, new RegExp(`advertiser ${B} has no TikTok audience for audience "given"`))
  assert.deepEqual(await emails(forA.audience_id), hashes('eve', 'fay'))
})

test('config: advertiserId and advertiserIds that disagree, or an id for an advertiser not listed, are problems naming the field', async () => {
  const cfg = write('bad.yaml', config(`{ key: odd, advertiserId: "${B}", advertiserIds: ["${A}", "${B}"] }`))
  const r = await runCli(['send', '--config', cfg, '--events', write('none.ndjson', '')], { env: env() })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /audiences\[0\]\.advertiserId: "7000000000000000002" must be the first of advertiserIds/)
  const stray = write('stray.yaml', config(`{ key: odd, advertiserIds: ["${A}"], externalAudienceIds: { "${B}": "1" } }`))
  const s = await runCli(['send', '--config', stray, '--events', write('none.ndjson', '')], { env: env() })
  assert.equal(s.code, 1)
  assert.match(s.stderr, /audiences\[0\]\.externalAudienceIds\.7000000000000000002: not one of the connection's advertisers/)
})
