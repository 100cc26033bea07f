/**
 * "Forget a person" in the console (Debian's headless Chromium) and `POST /api/forget`: a person
 * added to two audiences leaves both, the answer names them, and the audit lists the removal.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Page } from 'playwright-core'
import { first } from '../../src/util/array.js'
import { browserSkip } from '../helpers/browser.js'
import { startConsoleService, type ConsoleService } from '../helpers/console-service.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, sha256 } from '../helpers/events.js'

const PASSWORD = 'forget-console-password'
const WRITE_KEY = 'wk_forget_console'
const skip = browserSkip

let app: ConsoleService
let service: { url: string; close(): Promise<void> }
let page: Page

before(async () => {
  if (skip) return
  app = await startConsoleService({
    name: 'forget-console',
    password: PASSWORD,
    timeoutMs: 20_000,
    config: `
sources:
  - { name: engage, writeKey: ${WRITE_KEY} }
destinations:
  - name: tiktok
    source: engage
    mode: native
    enabled: true
    accessToken: emulator-access-token
    rememberMembers: true
    mappings:
      - { name: Add to Audience, action: addToAudience }
    audiences:
      - { key: shoppers, name: Forget shoppers, advertiserId: "7000000000000000001" }
      - { key: vips, name: Forget VIPs, advertiserId: "7000000000000000001" }
delivery:
  windowMs: 20
`
  })
  ;({ service, page } = app)
})
after(async () => {
  await app?.close()
})

const emu = () => `${service.url}/emulator`

async function track(events: unknown[]): Promise<void> {
  const r = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}` },
    body: JSON.stringify({ batch: events })
  })
  assert.equal(r.status, 200)
}

/** Email hashes of each emulator audience by name, once `ready` holds (or the last read after 15 s). */
async function emailsWhen(ready: (m: Record<string, string[]>) => boolean): Promise<Record<string, string[]>> {
  let m: Record<string, string[]> = {}
  for (const until = Date.now() + 15_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
    m = {}
    for (const a of await emuAudiences(emu())) m[a.name] = (await emuMembers(emu(), a.audience_id)).EMAIL_SHA256 ?? []
    if (ready(m)) break
  }
  return m
}

test('Forget a person on the Destinations page removes them from both audiences and lists the audit', { skip, timeout: 90_000 }, async () => {
  const zoe = sha256('zoe@example.com')
  const yan = sha256('yan@example.com')
  await track([
    audienceEvent({ userId: 'zoe', email: 'zoe@example.com' }, 'shoppers', true),
    audienceEvent({ userId: 'zoe', email: 'zoe@example.com' }, 'vips', true),
    audienceEvent({ userId: 'yan', email: 'yan@example.com' }, 'vips', true)
  ])
  const added = await emailsWhen((m) => m['Forget shoppers']?.includes(zoe) === true && m['Forget VIPs']?.length === 2)
  assert.ok(added['Forget shoppers']?.includes(zoe) && added['Forget VIPs']?.includes(zoe), JSON.stringify(added))

  await page.goto(`${service.url}/`)
  await page.getByLabel('Admin password').fill(PASSWORD)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('heading', { name: 'Forget a person' }).waitFor()
  await page.getByLabel('Email').fill('Zoe@Example.com ')
  await page.getByRole('button', { name: 'Forget this person' }).click()
  const status = page.getByRole('status').filter({ hasText: /Audit #\d+/ })
  await status.waitFor()
  const text = await status.textContent()
  assert.match(text ?? '', /tiktok audience \d+: removed; tiktok audience \d+: removed/)
  await page.getByRole('table', { name: 'Recent removals' }).getByRole('cell', { name: 'Forget', exact: true }).waitFor()
  const after = await emailsWhen(() => true)
  assert.deepEqual(after['Forget shoppers'], [])
  assert.deepEqual(after['Forget VIPs'], [yan])
})

test('POST /api/forget: 400 naming the problem for no identifier and for an unknown field; the audit by id', { skip, timeout: 30_000 }, async () => {
  const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`, 'content-type': 'application/json' }
  const empty = await fetch(`${service.url}/api/forget`, { method: 'POST', headers: auth, body: '{}' })
  assert.equal(empty.status, 400)
  assert.match(((await empty.json()) as { error: string }).error, /at least one of email, phone, advertising_id, userId/)
  const typo = await fetch(`${service.url}/api/forget`, { method: 'POST', headers: auth, body: JSON.stringify({ mail: 'a@b.co' }) })
  assert.equal(typo.status, 400)
  assert.match(((await typo.json()) as { error: string }).error, /"mail" is not a known field/)
  const r = await fetch(`${service.url}/api/forget`, { method: 'POST', headers: auth, body: JSON.stringify({ userId: 'yan' }) })
  assert.equal(r.status, 200)
  const answer = (await r.json()) as { audiences: { destination: string; audienceId: string; status: string }[]; audit: number }
  assert.equal(answer.audiences.length, 1)
  assert.deepEqual(
    Object.keys(first(answer.audiences))
      .filter((k) => ['destination', 'audienceId', 'status'].includes(k))
      .sort(),
    ['audienceId', 'destination', 'status']
  )
  assert.equal(first(answer.audiences).status, 'removed')
  const audit = (await (await fetch(`${service.url}/api/forget/audits/${answer.audit}`, { headers: auth })).json()) as {
    identifiers: unknown[]
    userHashes: string[]
    audiences: { answer: { code: number } }[]
  }
  assert.deepEqual(audit.userHashes, [sha256('yan')])
  assert.equal(first(audit.audiences).answer.code, 0)
  assert.equal((await fetch(`${service.url}/api/forget/audits/999999`, { headers: auth })).status, 404)
})
