/**
 * Debian's Chromium for the console's browser tests (never a browser download): where it is, the
 * skip reason when it is missing locally (in CI a missing Chromium fails the run), and a launch
 * with the flags these machines need (NOTES.md).
 */
import { existsSync } from 'node:fs'
import type { Browser, Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && process.env.CI === 'true')
  throw new Error(`Chromium is required in CI for the console tests: ${CHROMIUM} is missing (apt-get install chromium)`)

/** `{ skip }` for node:test: false when Chromium is here. */
export const browserSkip: string | false = haveChromium
  ? false
  : `no Chromium at ${CHROMIUM} (apt-get install chromium); the console browser tests are skipped locally`

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core')
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']
  })
}

/** Signs in to the console at `url` with the admin password; resolves on the Destinations page. */
export async function signIn(page: Page, url: string, password: string): Promise<void> {
  await page.goto(`${url}/`)
  await page.getByLabel('Admin password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Destinations' }).waitFor()
}
