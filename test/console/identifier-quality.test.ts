/**
 * The identifier-quality report of live traffic in Event Delivery (Debian's headless Chromium): per
 * identifier, the changes routed to the destination counted as hashed, pre-hashed, repaired,
 * rejected, empty or not sent, and the `recommended` policy's choices (Android id as AAID, several
 * values) — what `tiktok-audiences report` counts for a file.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { browserSkip as skip, signIn } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { sha256 } from '../helpers/events.js'
import { basic, until } from '../server/admin-service.js'

const PASSWORD = 'quality-console-password'
const WRITE_KEY = 'wk_quality_console'
const ADV = '7000000000000000001'

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'quality-console',
    password: PASSWORD,
    timeoutMs: 15_000,
    config: `
sources:
  - { name: engage, writeKey: ${WRITE_KEY} }
destinations:
  - name: quality
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]
    mappings:
      - { name: Add to Audience, action: addToAudience }
    audiences:
      - { key: shoppers, name: Quality shoppers, advertiserId: "${ADV}" }
delivery:
  windowMs: 20
`
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

const entered = (userId: string, traits: Record<string, unknown>, context: Record<string, unknown> = {}) => ({
  type: 'track',
  event: 'Audience Entered',
  userId,
  messageId: `quality-${userId}`,
  properties: { audience_key: 'shoppers', shoppers: true },
  context: { traits, personas: { computation_class: 'audience', computation_key: 'shoppers', computation_id: 'aud_q', space_id: 'spa_q' }, ...context }
})

test('Event Delivery shows the identifier-quality report: statuses per identifier and the matching choices', { skip, timeout: 60_000 }, async () => {
  const r = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(WRITE_KEY, '') },
    body: JSON.stringify({
      batch: [
        entered('u1', { email: 'one@example.com', phone: '+1 415 555 0101' }),
        entered('u2', { email: sha256('two@example.com'), phone: '12' }),
        entered('u3', { email: ' three@example.com' }, { device: { type: 'android', advertisingId: '38400000-8cf0-11bd-b23e-10b96e40000d' } }),
        entered('u4', { email: ['four@example.com', 'alt4@example.org'] })
      ]
    })
  })
  assert.equal(r.status, 200)
  const dest = (
    (await (await fetch(`${service.url}/api/destinations`, { headers: { authorization: basic('admin', PASSWORD) } })).json()) as { id: number; name: string }[]
  ).find((d) => d.name === 'quality')!
  type Report = { identifiers: { identifier: string; counts: Record<string, number> }[] }
  const report = await until(
    '4 changes counted',
    async () => {
      const q = (await (
        await fetch(`${service.url}/api/destinations/${dest.id}/identifier-quality`, { headers: { authorization: basic('admin', PASSWORD) } })
      ).json()) as Report
      return Object.values(q.identifiers[0]?.counts ?? {}).reduce((a, b) => a + b, 0) >= 4 ? q : undefined
    },
    15_000
  )
  const counts = Object.fromEntries(report.identifiers.map((i) => [i.identifier, i.counts]))
  assert.deepEqual(counts.email, { hashed: 2, prehashed: 1, repaired: 1, multiple: 1 })
  assert.deepEqual(counts.phone, { repaired: 1, rejected: 1, empty: 2 })
  assert.deepEqual(counts.advertising_id, { hashed: 1, aaid: 1, empty: 3 })

  await signIn(page, service.url, PASSWORD)
  await page.getByRole('link', { name: 'quality', exact: true }).click()
  await page.getByRole('tab', { name: 'Event Delivery' }).click()
  const table = page.getByRole('table', { name: 'Identifier quality' })
  const cells = async (label: string) =>
    await table
      .getByRole('row', { name: new RegExp(`^${label}`) })
      .getByRole('cell')
      .allTextContents()
  await table.waitFor()
  // Hashed, Pre-hashed, Repaired, Rejected, Empty, Not sent, Android (AAID), Several values.
  assert.deepEqual(await cells('Email'), ['2', '1', '1', '0', '0', '0', '0', '1'])
  assert.deepEqual(await cells('Phone'), ['0', '0', '1', '1', '2', '0', '0', '0'])
  assert.deepEqual(await cells('Advertising ID'), ['1', '0', '0', '0', '3', '0', '1', '0'])
})
