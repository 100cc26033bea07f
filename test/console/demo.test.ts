/**
 * The demo destination in the console (Debian's headless Chromium, fresh database, built-in
 * emulator): its notice says it auto-connects until the user has a destination of their own, then
 * that it stopped; its Event Delivery counts the other destination's audience as filtered; its
 * "Remove demo destination" button deletes it. Role and label selectors only.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { audienceEvent } from '../helpers/events.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'console-demo-password'
const DEMO = 'TikTok Audiences (emulator)'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({ name: 'console-demo', password: PASSWORD })
  ;({ service, page } = app)
})

after(async () => {
  await app?.close()
})

const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' }
async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${service.url}${path}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await res.text()
  assert.ok(res.status < 300, `${method} ${path} answered ${res.status}: ${text}`)
  return (text ? JSON.parse(text) : null) as T
}

test(
  'demo destination: notice while it auto-connects, notice once it stopped, filtered in Event Delivery, Remove demo destination',
  { skip, timeout: 60_000 },
  async () => {
    try {
      await page.goto(`${service.url}/`)
      await page.getByLabel('Admin password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Destinations' }).waitFor()
      await page.getByRole('link', { name: DEMO, exact: true }).click()
      await page.getByRole('heading', { name: DEMO }).waitFor()
      await page.getByRole('status').filter({ hasText: 'until you add a destination of your own' }).waitFor()

      // A destination of the user's own, with its audience, and one of its events.
      const mine = await api<{ id: number }>('POST', '/api/destinations', { name: 'Mine', source: 'default' })
      await api('POST', `/api/destinations/${mine.id}/token`, { accessToken: 'emulator-access-token' })
      await api('POST', `/api/destinations/${mine.id}/mappings`, { action: 'addToAudience', enabled: true })
      await api('PATCH', `/api/destinations/${mine.id}`, { enabled: true })
      await api('PUT', `/api/destinations/${mine.id}/audiences/vip`, { name: 'VIP', advertiserId: '7000000000000000001' })
      const [source] = await api<{ writeKey: string }[]>('GET', '/api/sources')
      assert.ok(source)
      const posted = await fetch(`${service.url}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${source.writeKey}:`).toString('base64')}` },
        body: JSON.stringify({ batch: [audienceEvent({ userId: 'v1', email: 'v1@example.com' }, 'vip', true)] })
      })
      assert.equal(posted.status, 200)

      await page.reload()
      await page.getByRole('status').filter({ hasText: 'no longer connects audiences by itself' }).waitFor()
      await page.getByRole('tab', { name: 'Event Delivery' }).click()
      await page.getByTestId('filtered-count').filter({ hasText: /^1$/ }).waitFor()
      await page.getByRole('list', { name: 'Filtered events by reason' }).filter({ hasText: 'not connected to this destination' }).waitFor()

      await page.getByRole('button', { name: 'Remove demo destination' }).click()
      await page.getByRole('button', { name: 'Remove', exact: true }).click()
      await page.getByRole('heading', { name: 'Destinations' }).waitFor()
      await page.getByRole('link', { name: 'Mine' }).waitFor()
      assert.equal(await page.getByRole('link', { name: DEMO, exact: true }).count(), 0)
      const left = await api<{ name: string }[]>('GET', '/api/destinations')
      assert.deepEqual(
        left.map((d) => d.name),
        ['Mine']
      )
    } catch (err) {
      console.error(
        `console test failed at ${page.url()}; the page shows:\n${(
          await page
            .locator('body')
            .innerText()
            .catch(() => '')
        ).slice(0, 3000)}`
      )
      throw err
    }
  }
)
