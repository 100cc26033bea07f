/**
 * Console states that agree with each other and with what happened (issue 20.6), in Debian's
 * headless Chromium against the built-in emulator: a refused Enable is the only message; events
 * received are told apart from deliveries (one per destination); Event Delivery says why changes
 * were retried and "Retrying now" means now; dead letters use one verb (Replay); a paused
 * destination reads Paused; the favicon comes from the console build.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { audienceEvent } from '../helpers/events.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'console-states-password'
const WRITE_KEY = 'wk_console_states'
const ADV = '7000000000000000001'
const skip = browserSkip

const destination = (name: string) => `
  - name: ${name}
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]
    mappings:
      - name: Add to Audience
        action: addToAudience
      - name: Remove from Audience
        action: removeFromAudience
    audiences:
      - key: vip_customers
        name: VIP customers (${name})
        advertiserId: "${ADV}"`

const CONFIG = `
sources:
  - name: engage
    writeKey: ${WRITE_KEY}
destinations:${destination('first')}${destination('second')}
  - name: unauthenticated
    source: engage
    mode: native
    enabled: false
delivery:
  windowMs: 20
  retryBaseMs: 50
  retryMaxMs: 200
`

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page
let ids: Record<string, number>

const basic = () => ({ authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` })
const getJson = async <T>(path: string): Promise<T> => (await (await fetch(`${service.url}${path}`, { headers: basic() })).json()) as T

async function faults(rules: unknown[]): Promise<void> {
  const r = await fetch(`${service.url}/emulator/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules })
  })
  assert.equal(r.status, 200)
}

async function sendEvent(userId: string): Promise<void> {
  const r = await fetch(`${service.url}/v1/track`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify(audienceEvent({ userId, email: `${userId}@example.com` }, 'vip_customers', true))
  })
  assert.equal(r.status, 200, await r.text())
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

type Delivery = {
  totals: { delivered: number; failed: number; retrying: number }
  retried: { errorCode: string; retries: number; then: Record<string, number> }[]
}
const delivery = (name: string) => getJson<Delivery>(`/api/destinations/${ids[name]}/delivery?bucket=5m&from=${Date.now() - 3600_000}`)

before(async () => {
  if (skip) return
  app = await startConsoleService({ name: 'console-states', password: PASSWORD, config: CONFIG, signIn: true })
  ;({ service, page } = app)
  ids = Object.fromEntries((await getJson<{ id: number; name: string }[]>('/api/destinations')).map((d) => [d.name, d.id]))
})

after(async () => {
  await app?.close()
})

test('the favicon is an SVG of the console build, served by the service itself', { skip }, async () => {
  const href = await page.locator('link[rel="icon"]').getAttribute('href')
  assert.ok(href && href.startsWith('/assets/') && href.endsWith('.svg'), `favicon href: ${href}`)
  const r = await page.request.get(`${service.url}${href}`)
  assert.equal(r.status(), 200)
  assert.match(r.headers()['content-type'] ?? '', /^image\/svg\+xml/)
  assert.match(await r.text(), /^<svg /)
})

test('enabling before authenticating shows the refusal and nothing else, also after Save Changes', { skip }, async () => {
  await page.goto(`${service.url}/destinations/${ids.unauthenticated}/settings`)
  await page.getByRole('heading', { name: 'unauthenticated' }).waitFor()
  await page.getByRole('switch', { name: 'Enable Destination' }).click()
  await page.locator('#enable-refusal').filter({ hasText: /\S/ }).waitFor()
  const saved = page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().endsWith(`/api/destinations/${ids.unauthenticated}`))
  await page.getByRole('button', { name: 'Save Changes' }).click()
  assert.equal((await saved).status(), 409, 'the save asked to enable, and was refused')
  await page.locator('#enable-refusal').filter({ hasText: /\S/ }).waitFor()
  assert.equal(await page.getByText('Changes saved').count(), 0, 'no "Changes saved." beside the refusal')
  assert.equal(await page.getByRole('switch', { name: 'Enable Destination' }).getAttribute('aria-checked'), 'false')
  assert.equal((await getJson<{ enabled: boolean }>(`/api/destinations/${ids.unauthenticated}`)).enabled, false)
})

test('the top bar tells events received apart from deliveries (one per destination)', { skip }, async () => {
  await sendEvent('both-1')
  await until('two deliveries', async () => (await getJson<{ delivered: number }>('/api/stats')).delivered === 2)
  const bar = page.getByLabel('Service totals')
  await bar.filter({ hasText: /Events received 1\b/ }).waitFor()
  await bar.filter({ hasText: /Deliveries \(one per destination\): 2 delivered/ }).waitFor()
})

test('Event Delivery says why changes were retried and what came of it; Retrying means now', { skip }, async () => {
  const off = await fetch(`${service.url}/api/destinations/${ids.second}`, {
    method: 'PATCH',
    headers: { ...basic(), 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: false })
  })
  assert.equal(off.status, 200)
  await faults([{ path: '/segment/mapping/', code: 40100, count: 3 }])
  await sendEvent('retried-1')
  await until('the retried change delivered', async () => (await delivery('first')).totals.delivered === 2)
  const report = await delivery('first')
  assert.deepEqual(
    report.retried.map((r) => [r.errorCode, r.retries, r.then.delivered]),
    [['40100', 3, 1]]
  )
  assert.equal(report.totals.retrying, 0, 'nothing is retrying now')

  await page.goto(`${service.url}/destinations/${ids.first}/delivery`)
  const retried = page.getByRole('list', { name: 'Retried changes by reason' }).getByRole('listitem')
  await retried.filter({ hasText: /^40100 .* ×3 .*then delivered/ }).waitFor()
  assert.equal(await page.getByText('No errors in this period.').count(), 0)
  assert.equal(await page.getByTestId('retrying-count').innerText(), '0')
  await page.getByText('Retrying now', { exact: true }).waitFor()
})

test('dead letters: one verb set (Replay, Replay all, Replayed, Cannot be replayed)', { skip }, async () => {
  await faults([{ path: '/segment/mapping/', code: 40002, count: 1 }])
  await sendEvent('dead-1')
  await until('a dead letter', async () => (await delivery('first')).totals.failed === 1)
  await page.goto(`${service.url}/destinations/${ids.first}/delivery`)
  await page.getByRole('button', { name: 'Replay all' }).waitFor()
  await page.getByText(/1 dead letter\(s\): changes that failed permanently/).waitFor()
  await page.getByRole('button', { name: /^Replay dead letter \d+$/ }).click()
  await page
    .getByRole('status')
    .filter({ hasText: /^Replayed 1 dead letter\(s\)\.$/ })
    .waitFor()
  const text = await page.locator('main').innerText()
  assert.doesNotMatch(text, /could not be replayed|not replayable|change\(s\) failed/)
})

test('a paused destination reads Paused, not "Connected to TikTok"', { skip }, async () => {
  await faults([{ path: '/segment/mapping/', code: 40105, count: 1 }])
  await sendEvent('paused-1')
  await until('the destination paused', async () => (await getJson<{ status: string }>(`/api/destinations/${ids.first}`)).status === 'paused')
  await page.goto(`${service.url}/destinations/${ids.first}/settings`)
  await page.getByRole('heading', { name: 'first' }).waitFor()
  const status = page.getByTestId('connection-status')
  await status.filter({ hasText: /^Paused/ }).waitFor()
  assert.doesNotMatch(await status.innerText(), /Connected to TikTok/)
  await page.locator('.pill', { hasText: 'Paused' }).waitFor()
  await page
    .getByText(/Reauthorize in the destination's Settings tab/)
    .first()
    .waitFor()
})
