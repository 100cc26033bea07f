/**
 * Event samples are shown, never run (issue 17 item 6): an event whose fields carry markup fails at
 * routing, and Event Delivery shows its kept sample as text in Debian's headless Chromium — no
 * element made of it, no script of it run.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { audienceEvent } from '../helpers/events.js'
import { browserSkip, signIn } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'markup-console-password'
const skip = browserSkip
let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'markup',
    password: PASSWORD,
    config: `
sources:
  - { name: engage, writeKey: wk_markup }
destinations:
  - name: tiktok
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["7000000000000000001"]
    mappings:
      - { name: Add, action: addToAudience }
    audiences:
      - { key: markup, name: Markup }
`
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

test('a failed event carrying markup is shown as text in Event Delivery, nothing of it runs', { skip, timeout: 60_000 }, async () => {
  const MARKUP = '<img src=x onerror="window.__tta_xss=1"><script>window.__tta_xss=2</script>'
  // No usable identifier: it fails at routing and its (redacted) sample is kept.
  const event = audienceEvent({ userId: 'markup-user', email: 'not-an-email' }, 'markup', true) as any
  event.properties.note = MARKUP
  event.context.traits.name = MARKUP
  const sent = await fetch(`${service.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('wk_markup:').toString('base64')}` },
    body: JSON.stringify(event)
  })
  assert.equal(sent.status, 200)

  await signIn(page, service.url, PASSWORD)
  await page.getByRole('link', { name: 'tiktok', exact: true }).click()
  await page.getByRole('tab', { name: 'Event Delivery' }).click()
  const group = page.locator('.error-groups details').first()
  await group.locator('summary').click({ timeout: 20_000 })
  const youSent = group.getByRole('region', { name: 'You Sent' })
  await youSent.waitFor()
  assert.ok((await youSent.innerText()).includes('<script>window.__tta_xss=2</script>'), 'the markup is shown as text')
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'no element was made of the sample')
  assert.equal(await page.evaluate(() => (window as unknown as { __tta_xss?: number }).__tta_xss), undefined, 'nothing of the sample ran')
})
