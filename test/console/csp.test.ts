/**
 * The console under its Content-Security-Policy, in Debian's headless Chromium: every violation the
 * page reports (securitypolicyviolation events, "Refused to …" console messages) is recorded while
 * signing in, creating a destination and walking its tabs, opening the mapping editor and signing out
 * — none may occur. A deliberate inline script first proves that the policy is enforced and that the
 * recorder sees violations. After signing out, the old session cookie no longer opens the API.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import type { Page } from 'playwright-core'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'

const PASSWORD = 'csp-test-password'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page
const violations: string[] = []

before(async () => {
  if (skip) return
  app = await startConsoleService({ name: 'csp', password: PASSWORD })
  ;({ service, page } = app)
  await page.exposeFunction('reportCspViolation', (text: string) => violations.push(text))
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as unknown as { reportCspViolation(t: string): void }).reportCspViolation(
        `${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`
      )
    )
  })
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (err) => violations.push(`page error: ${err.message}`))
})

after(async () => {
  await app?.close()
})

test('the policy is enforced: an inline script is refused, and the refusal is recorded', { skip }, async () => {
  const response = await page.goto(`${service.url}/`)
  assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/)
  await page.evaluate(() => {
    const s = document.createElement('script')
    s.textContent = 'window.inlineRan = true'
    document.head.append(s)
  })
  await page.waitForFunction(() => true)
  for (let i = 0; i < 50 && violations.length === 0; i++) await page.waitForTimeout(20)
  assert.equal(await page.evaluate(() => (window as unknown as { inlineRan?: boolean }).inlineRan), undefined)
  assert.ok(
    violations.some((v) => /script-src/.test(v)),
    violations.join('\n')
  )
  violations.length = 0
})

test('no CSP violation while signing in, creating a destination, walking its tabs, mapping and signing out', { skip, timeout: 60_000 }, async () => {
  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Destinations' }).waitFor()
  await page.getByRole('button', { name: 'New Destination' }).click()
  await page.getByLabel('Destination name').fill('CSP check')
  await page.getByRole('radio', { name: 'Native' }).check()
  await page.getByRole('button', { name: 'Create Destination' }).click()
  await page.getByRole('heading', { name: 'CSP check' }).waitFor()
  await page.getByRole('switch', { name: 'Enable Destination' }).click()
  await page.locator('#enable-refusal').waitFor()
  for (const tab of ['Audiences', 'Event Delivery', 'Mappings']) {
    await page.getByRole('tab', { name: tab }).click()
    await page.getByRole('tab', { name: tab, selected: true }).waitFor()
  }
  await page.getByRole('button', { name: 'New Mapping' }).click()
  await page.getByRole('button', { name: 'Add to Audience' }).click()
  await page.getByRole('heading', { name: 'Add to Audience' }).waitFor()
  await page.getByRole('button', { name: 'Load Sample Event' }).click()
  await page.waitForFunction(() => (document.getElementById('test-event') as HTMLTextAreaElement).value.includes('Audience Entered'))

  const cookie = (await page.context().cookies()).find((c) => c.name === 'tta_session')
  assert.ok(cookie, 'signed in with a session cookie')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('Admin password').waitFor()
  assert.deepEqual(violations, [])
  // Signed out on the server too: the cookie the browser had no longer opens the API.
  assert.equal((await fetch(`${service.url}/api/stats`, { headers: { cookie: `tta_session=${cookie.value}` } })).status, 401)
})
