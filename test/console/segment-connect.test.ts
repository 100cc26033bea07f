/**
 * The source's "Connect from Segment" panel in Debian's headless Chromium: the values it shows are
 * the ones that work — its Create Audience URL and extras create a connected audience, its shared
 * secret signs a webhook event that lands in the emulator; the secret is shown once only.
 */
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { emuMembers, waitFor } from '../helpers/emu-control.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'segment-connect-password'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({ name: 'segment-connect', password: PASSWORD })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

const valueOf = async (label: string) =>
  (
    await page
      .locator('.copyable', { has: page.locator('dt', { hasText: new RegExp(`^${label}$`) }) })
      .locator('code')
      .innerText()
  ).trim()

test('Connect from Segment: the shown URLs, extras and secret work end to end; the secret is shown once', { skip, timeout: 60_000 }, async () => {
  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Destinations' }).waitFor()
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click()
  await page.getByRole('heading', { name: 'Connect from Segment' }).first().waitFor()
  assert.match(await page.getByText('Shared Secret: not set').innerText(), /not signed/)
  await page.getByRole('button', { name: 'Generate shared secret' }).click()
  const secret = await valueOf('Shared Secret')
  assert.ok(secret.length >= 16)
  const createUrl = await valueOf('Create Audience URL')
  const webhookUrl = await valueOf('Webhook URL')
  const extras = await valueOf('Extras')
  assert.match(createUrl, /\/v1\/webhook\/audiences\?writeKey=/)

  // What Segment does with those values: Create Audience with the extras, then a signed event.
  const created = await fetch(createUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...JSON.parse(extras), audienceName: 'From the panel' })
  })
  assert.equal(created.status, 200, await created.clone().text())
  const { externalId } = (await created.json()) as { externalId: string }
  const event = audienceEvent({ userId: 'p1', email: 'p1@panel.example.com' }, 'from_the_panel', true, { externalAudienceId: externalId })
  const signature = createHmac('sha1', secret).update(JSON.stringify(event)).digest('hex')
  const sent = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-signature': signature },
    body: JSON.stringify(event)
  })
  assert.equal(sent.status, 200, await sent.clone().text())
  const ok = await waitFor(
    async () => ((await emuMembers(`${service.url}/emulator`, externalId)).EMAIL_SHA256 ?? []).includes(sha256('p1@panel.example.com')),
    15_000
  )
  assert.ok(ok, 'the signed event reached the audience created through the panel')

  // After a reload the secret is no longer shown, only that one is set.
  await page.reload()
  await page.getByRole('heading', { name: 'Connect from Segment' }).first().waitFor()
  await page.getByText('Shared Secret: set (signed requests required)').waitFor()
  assert.equal(await page.locator('dt', { hasText: /^Shared Secret$/ }).count(), 0)
  assert.ok(!(await page.locator('body').innerText()).includes(secret), 'the secret is not on the page any more')
})
