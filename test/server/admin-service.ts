/**
 * The service started in-process for admin API tests: a temporary SQLite database, the built-in
 * emulator at /emulator, short delivery windows, and real HTTP clients (fetch) against it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startService, type RunningService } from '../../src/server/serve.js'

export const PASSWORD = 'test-admin-password'
export const WRITE_KEY = 'wk_admin_tests'
export const ADV = '7000000000000000001'
export const ADV2 = '7000000000000000002'
export const EMULATOR_TOKEN = 'emulator-access-token'

export interface Answer<T = any> {
  status: number
  body: T
  headers: Headers
}

export interface TestService {
  url: string
  service: RunningService
  api<T = any>(method: string, path: string, body?: unknown, opts?: { auth?: string | false }): Promise<Answer<T>>
  emulator<T = any>(method: string, path: string, body?: unknown): Promise<T>
  send(events: unknown[]): Promise<void>
  close(): Promise<void>
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** `keepDemo`: keep the demo destination seeded on first start (tests of the demo itself). */
export async function startTestService(opts: { keepDemo?: boolean } = {}): Promise<TestService> {
  const dir = mkdtempSync(join(tmpdir(), 'tta-admin-'))
  // ADMIN_TEST_DATABASE_URL runs these tests on another database (e.g. a fresh PostgreSQL one).
  process.env.DATABASE_URL = process.env.ADMIN_TEST_DATABASE_URL || `sqlite:${join(dir, 'db.sqlite')}`
  process.env.ADMIN_PASSWORD = PASSWORD
  delete process.env.TIKTOK_APP_ID
  delete process.env.TIKTOK_API_URL
  delete process.env.PUBLIC_URL
  const config = join(dir, 'config.yaml')
  writeFileSync(config, `sources:\n  - name: engage\n    writeKey: ${WRITE_KEY}\ndelivery:\n  windowMs: 20\n  retryBaseMs: 20\n  retryMaxMs: 100\n`)
  const service = await startService({ port: 0, banner: false, config, dataDir: dir })
  const url = service.url

  async function api<T>(method: string, path: string, body?: unknown, opts: { auth?: string | false } = {}): Promise<Answer<T>> {
    const headers: Record<string, string> = {}
    if (opts.auth !== false) headers.authorization = opts.auth ?? basic('admin', PASSWORD)
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), redirect: 'manual' })
    const text = await res.text()
    let parsed: unknown
    try {
      parsed = text ? JSON.parse(text) : null
    } catch {
      parsed = text
    }
    return { status: res.status, body: parsed as T, headers: res.headers }
  }

  const t: TestService = {
    url,
    service,
    api,
    async emulator(method, path, body) {
      const res = await fetch(`${url}/emulator/_emulator${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body)
      })
      return res.json()
    },
    async send(events) {
      const res = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: { authorization: basic(WRITE_KEY, ''), 'content-type': 'application/json' },
        body: JSON.stringify({ batch: events })
      })
      if (res.status !== 200) throw new Error(`/v1/batch answered ${res.status}: ${await res.text()}`)
    },
    async close() {
      await service.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  // The emulator demo destination seeded on first start listens to the same source: remove it so
  // that only what a test sets up receives events.
  if (!opts.keepDemo) for (const d of (await api<{ id: number }[]>('GET', '/api/destinations')).body) await api('DELETE', `/api/destinations/${d.id}`)
  return t
}

/** Polls `check` until it returns a truthy value (returned), or fails after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T>, timeoutMs = 8000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await check()
    if (last) return last as NonNullable<T>
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export { basic }
