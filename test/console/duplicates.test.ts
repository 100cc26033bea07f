/**
 * No accidental twins, in the console (Debian's headless Chromium): connecting an audience whose
 * name the advertiser already has in TikTok offers "Use existing audience" instead of creating one.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { emuAudiences, emuCreateAudience } from '../helpers/emu-control.js'
import { audienceEvent } from '../helpers/events.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'duplicates-console-password'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'dupes-console',
    password: PASSWORD,
    config: `
sources:
  - { name: engage, writeKey: wk_dupes_console }
destinations:
  - name: tiktok
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["7000000000000000001"]
`
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

test('Add Destination for an audience whose name TikTok already has: "Use existing audience" connects that one', { skip, timeout: 60_000 }, async () => {
  const existing = await emuCreateAudience(`${service.url}/emulator/open_api`, 'Winter sale')
  // The audience is seen in traffic (Engage names it), so the Audiences tab lists it.
  const event = audienceEvent({ userId: 'w1', email: 'w1@example.com' }, 'winter_sale', true)
  ;(event.context as any).personas.computation_name = 'Winter sale'
  const sent = await fetch(`${service.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('wk_dupes_console:').toString('base64')}` },
    body: JSON.stringify(event)
  })
  assert.equal(sent.status, 200)

  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('link', { name: 'tiktok', exact: true }).click()
  await page.getByRole('tab', { name: 'Audiences' }).click()
  await page.getByRole('button', { name: /Add Destination to Winter sale/ }).click()
  const panel = page.getByRole('dialog', { name: /Add Destination/ })
  await panel.getByRole('button', { name: 'Save Settings' }).click()
  await panel.getByRole('alert').filter({ hasText: 'already has an audience named "Winter sale"' }).waitFor()
  assert.equal((await emuAudiences(`${service.url}/emulator`)).filter((a) => a.name === 'Winter sale').length, 1, 'no twin created')
  await panel.getByRole('button', { name: `Use existing audience ${existing}` }).click()
  await panel.waitFor({ state: 'detached' })
  await page.getByText(existing).first().waitFor()
  assert.equal((await emuAudiences(`${service.url}/emulator`)).filter((a) => a.name === 'Winter sale').length, 1)
})
