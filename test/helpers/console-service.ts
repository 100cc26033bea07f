/**
 * The console tests' set-up, once: an in-process `serve` on a fresh SQLite data folder with the
 * built-in emulator, signed in by password, and a Chromium page on it (browser.ts).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, signIn } from './browser.js'

export interface ConsoleServiceOptions {
  /** Names the temporary data folder (tta-<name>-…). */
  name: string
  password: string
  /** A config file's text (YAML or JSON), written into the data folder and passed to serve. */
  config?: string
  /** Its file name (default config.yaml). */
  configFile?: string
  /** Environment for the service, set before it starts and removed by close(). */
  env?: Record<string, string>
  viewport?: { width: number; height: number }
  /** The page's default timeout (default 10 s). */
  timeoutMs?: number
  /** Sign in before returning (the page then shows Destinations). */
  signIn?: boolean
  /** No browser (API-only tests of the console's routes). */
  noBrowser?: boolean
}

export interface ConsoleService {
  dir: string
  url: string
  service: { url: string; close(): Promise<void> }
  browser: Browser
  page: Page
  close(): Promise<void>
}

export async function startConsoleService(opts: ConsoleServiceOptions): Promise<ConsoleService> {
  const dir = mkdtempSync(join(tmpdir(), `tta-${opts.name}-`))
  process.env.DATABASE_URL = `sqlite:${join(dir, 'console.db')}`
  process.env.ADMIN_PASSWORD = opts.password
  delete process.env.TIKTOK_APP_ID
  delete process.env.TIKTOK_API_URL
  for (const [k, v] of Object.entries(opts.env ?? {})) process.env[k] = v
  let config: string | undefined
  if (opts.config !== undefined) writeFileSync((config = join(dir, opts.configFile ?? 'config.yaml')), opts.config)
  const { startService } = await import('../../src/server/serve.js')
  const { consoleDir } = await import('../../src/server/console.js')
  assert.ok(consoleDir(), 'the console is not built: run `npm run build` (npm install does it)')
  const service = await startService({ port: 0, banner: false, dataDir: dir, ...(config ? { config } : {}) })
  // Declared before close() (which may run before the launch), assigned after it.
  // eslint-disable-next-line prefer-const
  let browser: Browser | undefined
  const close = async () => {
    await browser?.close()
    await service.close()
    for (const k of Object.keys(opts.env ?? {})) delete process.env[k]
    rmSync(dir, { recursive: true, force: true })
  }
  if (opts.noBrowser) return { dir, url: service.url, service, browser: undefined as never, page: undefined as never, close }
  browser = await launchBrowser()
  const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 900 } })
  page.setDefaultTimeout(opts.timeoutMs ?? 10_000)
  page.on('pageerror', (err) => console.error(`console page error (${opts.name}):`, err.message))
  if (opts.signIn) await signIn(page, service.url, opts.password)
  return { dir, url: service.url, service, browser, page, close }
}
