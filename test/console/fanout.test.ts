/**
 * Multi-advertiser fan-out in the console (Debian's headless Chromium): the Add Destination panel
 * connects one audience for two advertisers, the Audiences tab shows each advertiser's TikTok
 * audience id and state, and an Audience Entered event reaches both audiences; each advertiser's
 * audience health shows beside it and in the banner.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { at } from '../../src/util/array.js'
import { browserSkip as skip, signIn } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, sha256 } from '../helpers/events.js'

const PASSWORD = 'fanout-console-password'
const WRITE_KEY = 'wk_fanout_console'
const ADV = '7000000000000000001'
const ADV2 = '7000000000000000002'

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'fanout-console',
    password: PASSWORD,
    timeoutMs: 15_000,
    env: { AUDIENCE_HEALTH_INTERVAL: '1s' },
    config: `
sources:
  - { name: engage, writeKey: ${WRITE_KEY} }
destinations:
  - name: fanout
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}", "${ADV2}"]
    mappings:
      - { name: Add to Audience, action: addToAudience }
delivery:
  windowMs: 20
`
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

test('Add Destination for two advertisers creates an audience for each, shows both ids, and delivers to both', { skip, timeout: 90_000 }, async () => {
  await signIn(page, service.url, PASSWORD)
  await page.getByRole('link', { name: 'fanout', exact: true }).click()
  await page.getByRole('tab', { name: 'Audiences' }).click()
  await page.getByLabel('Audience key (computation_key)').fill('big_spenders')
  await page.getByRole('button', { name: 'Add Destination to this audience' }).click()
  const panel = page.getByRole('dialog', { name: /Add Destination/ })
  await panel.getByLabel('Advertiser ID').selectOption(ADV)
  const group = panel.getByRole('group', { name: 'Also send to these advertisers' })
  // The first advertiser is not offered again.
  assert.equal(await group.getByRole('checkbox').count(), 1)
  await group.getByRole('checkbox', { name: new RegExp(ADV2) }).check()
  await panel.getByLabel('TikTok audience name').fill('Big spenders')
  await panel.getByRole('button', { name: 'Save Settings' }).click()
  await panel.waitFor({ state: 'detached' })

  const list = page.getByRole('list', { name: 'TikTok audiences of Big spenders by advertiser' })
  await list.waitFor()
  const items = await list.getByRole('listitem').allTextContents()
  const inTikTok = (await emuAudiences(`${service.url}/emulator`)).filter((a) => a.name === 'Big spenders')
  assert.equal(inTikTok.length, 2, JSON.stringify(inTikTok))
  const idOf = (adv: string) => inTikTok.find((a) => a.advertiser_id === adv)!.audience_id
  assert.notEqual(idOf(ADV), idOf(ADV2))
  assert.equal(items.length, 2)
  assert.match(at(items, 0), new RegExp(`Advertiser ${ADV}: ${idOf(ADV)} Connected`))
  assert.match(at(items, 1), new RegExp(`Advertiser ${ADV2}: ${idOf(ADV2)} Connected`))

  // Edit Settings keeps both advertisers ticked.
  await page.getByRole('button', { name: 'Edit settings of Big spenders' }).click()
  const edit = page.getByRole('dialog', { name: /Edit Settings/ })
  assert.equal(await edit.getByRole('checkbox', { name: new RegExp(ADV2) }).isChecked(), true)
  await edit.getByRole('button', { name: 'Cancel' }).click()

  const r = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify({ batch: [audienceEvent({ userId: 'ivy', email: 'ivy@example.com' }, 'big_spenders', true)] })
  })
  assert.equal(r.status, 200)
  const want = [sha256('ivy@example.com')]
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((res) => setTimeout(res, 100))) {
    const got = await Promise.all([ADV, ADV2].map(async (a) => (await emuMembers(`${service.url}/emulator`, idOf(a))).EMAIL_SHA256 ?? []))
    if (got.every((m) => JSON.stringify(m) === JSON.stringify(want))) return
  }
  assert.fail("the member did not reach both advertisers' audiences")
})

test("each advertiser's audience health: its size and warning in the Audiences tab and the banner", { skip, timeout: 60_000 }, async () => {
  const inTikTok = (await emuAudiences(`${service.url}/emulator`)).filter((a) => a.name === 'Big spenders')
  const second = inTikTok.find((a) => a.advertiser_id === ADV2)!.audience_id
  const r = await fetch(`${service.url}/emulator/_emulator/audiences/${second}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ coverNum: 4000, expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString() })
  })
  assert.equal(r.status, 200)
  const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }
  type Read = { advertiserId: string; warnings: { reason: string }[] }
  for (const until = Date.now() + 15_000; ; await new Promise((res) => setTimeout(res, 200))) {
    const reads = ((await (await fetch(`${service.url}/api/audience-health`, { headers: auth })).json()) as { audiences: Read[] }).audiences
    if (
      reads
        .find((x) => x.advertiserId === ADV2)
        ?.warnings.map((w) => w.reason)
        .join() === 'expiring'
    )
      break
    assert.ok(Date.now() < until, `advertiser ${ADV2} read as expiring: ${JSON.stringify(reads)}`)
  }

  await page.reload()
  const banner = page.getByRole('region', { name: 'Audience health warnings' })
  await banner.getByText('2 audiences need attention').waitFor()
  await banner
    .getByRole('listitem')
    .filter({ hasText: `big_spenders (fanout), advertiser ${ADV}:` })
    .filter({ hasText: 'Fewer than 1,000 matched users' })
    .waitFor()
  await banner
    .getByRole('listitem')
    .filter({ hasText: `big_spenders (fanout), advertiser ${ADV2}:` })
    .filter({ hasText: 'within 30 days' })
    .waitFor()

  await page.getByRole('tab', { name: 'Audiences' }).click()
  const list = page.getByRole('list', { name: 'TikTok audiences of Big spenders by advertiser' })
  const item = (adv: string) => list.getByRole('listitem').filter({ hasText: `Advertiser ${adv}:` })
  await item(ADV2).filter({ hasText: '4,000 matched users' }).getByRole('note').filter({ hasText: 'within 30 days' }).waitFor()
  await item(ADV)
    .filter({ hasText: /· \d+ matched users/ })
    .getByRole('note')
    .filter({ hasText: 'Fewer than 1,000 matched users' })
    .waitFor()
  assert.equal(await item(ADV).getByRole('note').filter({ hasText: 'within 30 days' }).count(), 0)
})
