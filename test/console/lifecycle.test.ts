/**
 * Audience health and legacy → native migration in the console (Debian's headless Chromium): the
 * banner names an audience below 1,000 matched users and one expiring in 10 days, the Audiences tab
 * shows their recorded reads; a legacy destination's Settings previews the migration (dry run,
 * nothing changed) and migrates on confirmation.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { emuCreateAudience } from '../helpers/emu-control.js'
import { basic, until } from '../server/admin-service.js'

const PASSWORD = 'lifecycle-console-password'
const ADV = '7000000000000000001'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(service.url + path, {
    method,
    headers: { authorization: basic('admin', PASSWORD), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return r.json()
}

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'lifecycle-console',
    password: PASSWORD,
    env: { AUDIENCE_HEALTH_INTERVAL: '1s' },
    config: `
sources:
  - { name: engage, writeKey: wk_lifecycle_console }
destinations:
  - name: tiktok
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]
    audiences:
      - { key: small_one, name: Small one, advertiserId: "${ADV}" }
      - { key: expiring_one, name: Expiring one, advertiserId: "${ADV}" }
  - name: old-tiktok
    source: engage
    mode: legacy
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]
`
  })
  ;({ service, page } = app)
  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
})
after(async () => {
  await app?.close()
})

test('the health banner names the small and the expiring audience; the Audiences tab shows their recorded reads', { skip, timeout: 60_000 }, async () => {
  type Read = { audienceKey: string; externalAudienceId: string }
  const expiring = await until('expiring_one read', async () =>
    ((await api('GET', '/api/audience-health')).audiences as Read[]).find((a) => a.audienceKey === 'expiring_one')
  )
  const r = await fetch(`${service.url}/emulator/_emulator/audiences/${expiring.externalAudienceId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ coverNum: 4000, expiresAt: new Date(Date.now() + 10 * 86_400_000).toISOString() })
  })
  assert.equal(r.status, 200)
  await until(
    'expiring warning recorded',
    async () =>
      ((await api('GET', '/api/audience-health')).audiences as { audienceKey: string; warnings: { reason: string }[] }[])
        .find((a) => a.audienceKey === 'expiring_one')
        ?.warnings.map((w) => w.reason)
        .join() === 'expiring'
  )

  await page.goto(`${service.url}/destinations`)
  const banner = page.getByRole('region', { name: 'Audience health warnings' })
  await banner.getByText('2 audiences need attention').waitFor()
  await banner.getByRole('listitem').filter({ hasText: 'small_one (tiktok)' }).filter({ hasText: 'Fewer than 1,000 matched users' }).waitFor()
  await banner.getByRole('listitem').filter({ hasText: 'expiring_one (tiktok)' }).filter({ hasText: 'within 30 days' }).waitFor()

  await banner.getByRole('link', { name: 'expiring_one (tiktok)' }).click()
  await page.getByRole('heading', { name: 'Audiences' }).waitFor()
  const history = page.locator('details.health-history').filter({ hasText: '4,000 matched users' })
  await history.locator('summary').click()
  const table = page.getByRole('table', { name: 'Health history of Expiring one' })
  await table.getByRole('row').filter({ hasText: '4,000' }).filter({ hasText: 'expiring' }).first().waitFor()
  assert.ok((await table.getByRole('row').count()) >= 3, 'header and at least two reads')
})

test("a legacy destination's Settings previews the migration, changes nothing, then migrates", { skip, timeout: 60_000 }, async () => {
  const destinations = (await api('GET', '/api/destinations')) as { id: number; name: string; mode: string }[]
  const legacy = destinations.find((d) => d.name === 'old-tiktok')!
  const audienceId = await emuCreateAudience(`${service.url}/emulator/open_api`, 'Loyal members')
  for (const [action, trigger] of [
    ['addUser', 'event = "Audience Entered" and context.personas.computation_key = "loyal"'],
    ['removeUser', 'event = "Audience Exited" and context.personas.computation_key = "loyal"']
  ]) {
    await api('POST', `/api/destinations/${legacy.id}/mappings`, {
      action,
      trigger,
      enabled: true,
      mapping: { audience_id: audienceId, selected_advertiser_id: ADV }
    })
  }
  await page.goto(`${service.url}/destinations/${legacy.id}/settings`)
  const section = page.getByRole('region', { name: 'Migrate to native' })
  await section.getByRole('button', { name: 'Preview migration' }).click()
  const preview = page.getByRole('region', { name: 'Migration preview' })
  await preview.getByRole('row').filter({ hasText: 'loyal' }).filter({ hasText: audienceId }).waitFor()
  await preview.getByText('Add Users (Legacy) → Add to Audience').waitFor()
  assert.equal(((await api('GET', '/api/destinations')) as typeof destinations).find((d) => d.id === legacy.id)!.mode, 'legacy', 'the preview changed nothing')

  await preview.getByRole('button', { name: 'Migrate old-tiktok to native' }).click()
  await page.getByRole('region', { name: 'Migrate to native' }).waitFor({ state: 'detached' })
  assert.equal(((await api('GET', '/api/destinations')) as typeof destinations).find((d) => d.id === legacy.id)!.mode, 'native')
  const conns = await api('GET', `/api/destinations/${legacy.id}/audiences`)
  assert.deepEqual(
    conns.map((c: { audienceKey: string; externalAudienceId: string }) => [c.audienceKey, c.externalAudienceId]),
    [['loyal', audienceId]]
  )
})
