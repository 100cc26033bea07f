/**
 * The console's Warehouse syncs list in Debian's headless Chromium: each sync with its last run's
 * figures, and Run now — a run started there mirrors the table's new rows, and its figures appear.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { at } from '../../src/util/array.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason, type PgDatabase } from '../helpers/pg.js'
import { createCustomers, customerEmail, insertCustomers, warehouseConfig } from '../warehouse/helpers.js'

const PASSWORD = 'warehouse-console-password'
const pgSkip = await pgSkipReason()
const skip = browserSkip || pgSkip

let app: ConsoleService
let warehouse: PgDatabase
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  warehouse = await createPgDatabase()
  await createCustomers(warehouse, [1, 2, 3, 4])
  const config = warehouseConfig({ url: warehouse.url, query: 'SELECT email, phone FROM crm.customers WHERE active', every: '1h' })
  app = await startConsoleService({
    name: 'warehouse-console',
    password: PASSWORD,
    config,
    configFile: 'config.json',
    viewport: { width: 1400, height: 900 },
    timeoutMs: 15_000
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
  await dropAllPgDatabases()
})

test('Warehouse syncs: the last run with its figures; Run now mirrors the new rows and shows its run', { skip, timeout: 90_000 }, async () => {
  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Destinations' }).waitFor()
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sources' }).click()
  await page.getByRole('heading', { name: 'Warehouse syncs' }).waitFor()
  const row = page.locator('tr[data-sync="warehouse"]')
  const cells = async () => (await row.locator('td').allInnerTexts()).map((t) => t.trim())

  // The new sync ran at start: 4 rows read, 4 added.
  await row.getByText('succeeded').waitFor()
  let c = await cells()
  assert.equal(c[0], 'tiktok / vip_customers')
  assert.equal(c[1], '1h')
  assert.deepEqual(c.slice(3, 7), ['4', '4', '0', '0'], `rows read, added, removed, failed: ${c.join(' | ')}`)
  assert.match(at(c, 2), /\(schedule\)/)

  await insertCustomers(warehouse, [5, 6])
  await warehouse.query('UPDATE crm.customers SET active = false WHERE id = 1')
  await row.getByRole('button', { name: 'Run warehouse now' }).click()
  await row.getByText('(console)').waitFor()
  await row.getByText('succeeded').waitFor()
  c = await cells()
  assert.deepEqual(c.slice(3, 7), ['5', '2', '1', '0'], `after Run now: ${c.join(' | ')}`)
  assert.match(at(c, 7), /^\d+\.\d s$/)
  assert.equal(c[8], '—')

  const audience = (await emuAudiences(`${service.url}/emulator`)).find((a) => a.name === 'VIP customers')!
  assert.deepEqual(
    (await emuMembers(`${service.url}/emulator`, audience.audience_id)).EMAIL_SHA256,
    [2, 3, 4, 5, 6].map((i) => sha256(customerEmail(i))).sort()
  )

  // A failing run shows the database's message as its error.
  await warehouse.query('ALTER TABLE crm.customers RENAME COLUMN email TO mail')
  await warehouse.query('ALTER TABLE crm.customers RENAME COLUMN phone TO tel')
  await row.getByRole('button', { name: 'Run warehouse now' }).click()
  await row.getByText('failed', { exact: true }).waitFor()
  assert.match(at(await cells(), 8), /the query failed: column "email" does not exist/)
})
