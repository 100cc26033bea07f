/**
 * Deletion and consent end to end against the emulator: people added with `send` (a database
 * kept on disk), then `forget`, or a consent withdrawal, removes them from every audience they were
 * added to; the audit is recorded; the database holds hashes only.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, test } from 'node:test'
import Database from 'better-sqlite3'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { first } from '../../src/util/array.js'
import { refreshAudit } from '../../src/lifecycle/forget/index.js'
import { openStore } from '../../src/store/index.js'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, ndjson, sha256, type Person } from '../helpers/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const pgSkip = await pgSkipReason()
after(() => dropAllPgDatabases())

const ADV = '7000000000000000001'
let emu: RunningEmulator
let dir: string
let run = 0

before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-forget-'))
})
after(async () => emu.close())
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' })
  run++
})

const alice: Person = { userId: 'user-alice', email: 'Alice.Liddell+news@Example.com', phone: '(415) 555-0101' }
const bob: Person = { userId: 'user-bob', email: 'bob@example.com', phone: '(415) 555-0202' }
const aliceEmail = sha256('aliceliddell@example.com')
const alicePhone = sha256('+14155550101')
const bobEmail = sha256('bob@example.com')

const destination = (name: string, audiences: { key: string; name: string }[], extra = '') => `
  - name: ${name}
    source: engage
    mode: native
    accessToken: emulator-access-token
    batchSize: 100
${extra}
    mappings:
      - name: Add to Audience
        action: addToAudience
      - name: Remove from Audience
        action: removeFromAudience
    audiences:
${audiences.map((a) => `      - key: ${a.key}\n        name: ${a.name}\n        advertiserId: "${ADV}"`).join('\n')}`

const REMEMBER = '    rememberMembers: true'

/** Two destinations: `tiktok` with two audiences, `tiktok2` with one (with their `extra` settings). */
function config(extra1 = REMEMBER, extra2 = REMEMBER): string {
  const file = join(dir, `config-${run}.yaml`)
  writeFileSync(
    file,
    `
sources:
  - name: engage
    writeKey: wk_test
destinations:${destination(
      'tiktok',
      [
        { key: 'shoppers', name: 'Shoppers A' },
        { key: 'vips', name: 'VIPs A' }
      ],
      extra1
    )}${destination('tiktok2', [{ key: 'shoppers', name: 'Shoppers B' }], extra2)}
delivery:
  windowMs: 20
  retryBaseMs: 20
  retryMaxMs: 200
`
  )
  return file
}

const env = () => ({ TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '' })

async function send(cfg: string, db: string, events: unknown[]) {
  const file = join(dir, `events-${run}-${Math.random().toString(36).slice(2)}.ndjson`)
  writeFileSync(file, ndjson(events))
  const r = await runCli(['send', '--config', cfg, '--events', file, '--db', db], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  return r
}

/** Email hashes per emulator audience name. */
async function emailsByAudience(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const a of await emuAudiences(emu.url)) out[a.name] = ((await emuMembers(emu.url, a.audience_id)).EMAIL_SHA256 ?? []).sort()
  return out
}

async function phonesByAudience(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {}
  for (const a of await emuAudiences(emu.url)) out[a.name] = ((await emuMembers(emu.url, a.audience_id)).PHONE_SHA256 ?? []).sort()
  return out
}

const entered = (p: Person, key: string, extra: Record<string, unknown> = {}) => ({ ...audienceEvent(p, key, true), ...extra })

test('forget by email removes the person from three audiences of two destinations, with an audit; the database keeps hashes only', async () => {
  const cfg = config()
  const dbFile = join(dir, `forget-${run}.db`)
  const db = `sqlite:${dbFile}`
  await send(cfg, db, [entered(alice, 'shoppers'), entered(alice, 'vips'), entered(bob, 'shoppers')])
  const both = [aliceEmail, bobEmail].sort()
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': both, 'VIPs A': [aliceEmail], 'Shoppers B': both })

  const r = await runCli(['forget', '--email', '  alice.liddell+other@EXAMPLE.com', '--db', db], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>
  assert.deepEqual(Object.keys(summary).sort(), ['audiences', 'audit', 'failed', 'removed'])
  assert.equal(summary.audiences, 3)
  assert.equal(summary.removed, 3)
  assert.equal(summary.failed, 0)
  const { audit } = summary
  assert.ok(audit !== undefined && Number.isInteger(audit) && audit > 0)
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': [bobEmail], 'VIPs A': [], 'Shoppers B': [bobEmail] })
  // Her phone went with her email (both were added for her userId).
  const phones = await phonesByAudience()
  for (const name of ['Shoppers A', 'VIPs A', 'Shoppers B']) assert.ok(phones[name]?.includes(alicePhone) === false, `${name} still has her phone`)
  assert.ok(phones['Shoppers A']?.includes(sha256('+14155550202')))

  const sqlite = new Database(dbFile, { readonly: true })
  try {
    const audit = sqlite.prepare('SELECT * FROM forget_audits WHERE id = ?').get(summary.audit) as {
      origin: string
      identifiers: string
      audiences: string
      finished_at: number | null
      requested_at: number
    }
    assert.equal(audit.origin, 'forget')
    assert.ok(audit.finished_at !== null && audit.finished_at >= audit.requested_at)
    assert.deepEqual(JSON.parse(audit.identifiers).identifiers, [{ type: 'EMAIL_SHA256', hash: aliceEmail }])
    const audiences = JSON.parse(audit.audiences) as {
      status: string
      removals: { type: string; hash: string }[]
      answer: { code: number; requestId: string | null } | null
    }[]
    assert.equal(audiences.length, 3)
    for (const a of audiences) {
      assert.equal(a.status, 'removed')
      assert.deepEqual(a.removals.map((x) => x.hash).sort(), [aliceEmail, alicePhone].sort())
      assert.equal(a.answer?.code, 0, 'TikTok answer recorded')
    }
    // Confirmed removals are no longer kept; Bob's adds still are.
    const kept = sqlite.prepare('SELECT hash FROM sent_identifiers').all() as { hash: string }[]
    assert.ok(!kept.some((k) => k.hash === aliceEmail || k.hash === alicePhone))
    assert.ok(kept.some((k) => k.hash === bobEmail))
  } finally {
    sqlite.close()
  }
  const bytes = readFileSync(dbFile).toString('latin1').toLowerCase()
  // (Event records keep the messageId, which Engage writes with the userId: not an identifier sent to TikTok.)
  for (const raw of ['alice.liddell', 'aliceliddell@example.com', 'bob@example.com', '555-0101', '4155550101'])
    assert.ok(!bytes.includes(raw), `raw "${raw}" found in the database file`)

  // Nobody named: exit 2 with the reason.
  const none = await runCli(['forget', '--email', 'not-an-email', '--db', db], { env: env() })
  assert.equal(none.code, 2)
  assert.match(none.stderr, /email: not a valid email address/)
})

test('forget by userId removes every identifier sent for that user', async () => {
  const db = `sqlite:${join(dir, `user-${run}.db`)}`
  await send(config(), db, [entered(alice, 'vips'), entered(bob, 'vips')])
  const r = await runCli(['forget', '--user-id', 'user-alice', '--db', db], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).audiences, 1)
  assert.deepEqual((await emailsByAudience())['VIPs A'], [bobEmail])
  assert.deepEqual((await phonesByAudience())['VIPs A'], [sha256('+14155550202')])
})

const consent = (advertising: unknown) => ({ consent: { categoryPreferences: { Advertising: advertising, Analytics: true } } })
function withConsent(event: Record<string, unknown>, prefs: Record<string, unknown> | undefined): Record<string, unknown> {
  const context = { ...(event.context as Record<string, unknown>), ...(prefs ?? {}) }
  return { ...event, context }
}

test('consent withdrawn: the person leaves every audience of that destination only, and no add is sent for them', async () => {
  // tiktok2 records its adds without rememberMembers: its consent category needs them.
  const cfg = config(REMEMBER, '    consentCategory: Advertising')
  const db = `sqlite:${join(dir, `consent-${run}.db`)}`
  await send(cfg, db, [entered(alice, 'shoppers'), entered(alice, 'vips'), entered(bob, 'shoppers')])
  // A consent update for Alice (no audience, only her userId) withdraws Advertising.
  const update = { type: 'track', event: 'Segment Consent Preference Updated', userId: 'user-alice', messageId: 'consent-1', context: consent(false) }
  const r = await send(cfg, db, [update])
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>
  assert.equal(summary.failed, 0)
  // tiktok has no consentCategory: untouched. tiktok2 requires Advertising: Alice is gone.
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': [aliceEmail, bobEmail].sort(), 'VIPs A': [aliceEmail], 'Shoppers B': [bobEmail] })

  // An add with the category false is never sent (and removes, as any withdrawal); true, missing key or no consent object add.
  const carol: Person = { userId: 'user-carol', email: 'carol@example.com' }
  const dave: Person = { userId: 'user-dave', email: 'dave@example.com' }
  const erin: Person = { userId: 'user-erin', email: 'erin@example.com' }
  const frank: Person = { userId: 'user-frank', email: 'frank@example.com' }
  await send(cfg, db, [
    withConsent(entered(carol, 'shoppers'), consent(false)),
    withConsent(entered(dave, 'shoppers'), consent(true)),
    withConsent(entered(erin, 'shoppers'), { consent: { categoryPreferences: { Analytics: false } } }),
    withConsent(entered(frank, 'shoppers'), undefined)
  ])
  const shoppersB = (await emailsByAudience())['Shoppers B']
  assert.ok(shoppersB)
  assert.ok(!shoppersB.includes(sha256('carol@example.com')), 'an event with Advertising: false added Carol')
  for (const p of ['dave', 'erin', 'frank']) assert.ok(shoppersB.includes(sha256(`${p}@example.com`)), `${p} (consent not withdrawn) was not added`)
  // The destination without a consent category added Carol as usual.
  assert.ok((await emailsByAudience())['Shoppers A']?.includes(sha256('carol@example.com')))

  const sqlite = new Database(join(dir, `consent-${run}.db`), { readonly: true })
  try {
    const audits = sqlite.prepare("SELECT audiences, destination_id FROM forget_audits WHERE origin = 'consent' ORDER BY id").all() as {
      audiences: string
      destination_id: number
    }[]
    assert.ok(audits.length >= 1)
    assert.equal(JSON.parse(first(audits).audiences).length, 1)
  } finally {
    sqlite.close()
  }
})

test('a consent withdrawal where both destinations require the category: the person leaves all three audiences, one audit per destination', async () => {
  const CONSENT = '    consentCategory: Advertising'
  const cfg = config(CONSENT, CONSENT)
  const dbFile = join(dir, `consent-all-${run}.db`)
  await send(cfg, `sqlite:${dbFile}`, [entered(alice, 'shoppers'), entered(alice, 'vips'), entered(bob, 'shoppers')])
  const both = [aliceEmail, bobEmail].sort()
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': both, 'VIPs A': [aliceEmail], 'Shoppers B': both })
  const update = { type: 'track', event: 'Segment Consent Preference Updated', userId: 'user-alice', messageId: 'consent-all-1', context: consent(false) }
  const r = await send(cfg, `sqlite:${dbFile}`, [update])
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).failed, 0)
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': [bobEmail], 'VIPs A': [], 'Shoppers B': [bobEmail] })
  for (const [name, phones] of Object.entries(await phonesByAudience())) assert.ok(!phones.includes(alicePhone), `${name} still has her phone`)

  const sqlite = new Database(dbFile, { readonly: true })
  try {
    const audits = sqlite
      .prepare("SELECT audiences, destination_id, identifiers, finished_at FROM forget_audits WHERE origin = 'consent' ORDER BY id")
      .all() as { audiences: string; destination_id: number; identifiers: string; finished_at: number | null }[]
    assert.equal(audits.length, 2, 'one audit per destination whose consent was withdrawn')
    assert.equal(new Set(audits.map((a) => a.destination_id)).size, 2)
    const audiences = audits.flatMap((a) => JSON.parse(a.audiences) as { status: string; audienceId: string; removals: { hash: string }[] }[])
    assert.equal(audiences.length, 3)
    assert.equal(new Set(audiences.map((a) => a.audienceId)).size, 3)
    for (const a of audiences) assert.deepEqual(a.removals.map((x) => x.hash).sort(), [aliceEmail, alicePhone].sort())
    for (const a of audits) assert.deepEqual(JSON.parse(a.identifiers).userHashes, [sha256('user-alice')])
  } finally {
    sqlite.close()
  }
  // Read back as the console and the admin API read it: every removal settled with TikTok's answer.
  const store = await openStore(`sqlite:${dbFile}`)
  try {
    const ids = (await store.db.all<{ id: number }>("SELECT id FROM forget_audits WHERE origin = 'consent' ORDER BY id")).map((a) => Number(a.id))
    for (const id of ids) {
      const audit = (await refreshAudit(store, id))!
      assert.ok(audit.finishedAt !== null, `consent audit ${id} settled`)
      for (const a of audit.audiences) assert.deepEqual([a.status, a.answer?.code], ['removed', 0])
    }
  } finally {
    await store.close()
  }
})

test("fan-out: forget and a consent withdrawal remove the person from every advertiser's audience of the connection", async () => {
  const ADV2 = '7000000000000000002'
  const cfg = join(dir, `fanout-${run}.yaml`)
  writeFileSync(
    cfg,
    `
sources:
  - { name: engage, writeKey: wk_test }
destinations:
  - name: fan
    source: engage
    mode: native
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}", "${ADV2}"]
    consentCategory: Advertising
    mappings:
      - { name: Add to Audience, action: addToAudience }
    audiences:
      - { key: shoppers, name: Fan shoppers, advertiserIds: ["${ADV}", "${ADV2}"] }
delivery: { windowMs: 20, retryBaseMs: 20, retryMaxMs: 200 }
`
  )
  const dbFile = join(dir, `fanout-${run}.db`)
  const db = `sqlite:${dbFile}`
  /** Email hashes per advertiser's audience (both audiences have the same name). */
  const byAdvertiser = async () => {
    const out: Record<string, string[]> = {}
    for (const a of await emuAudiences(emu.url)) out[a.advertiser_id] = ((await emuMembers(emu.url, a.audience_id)).EMAIL_SHA256 ?? []).sort()
    return out
  }
  await send(cfg, db, [entered(alice, 'shoppers'), entered(bob, 'shoppers')])
  const both = [aliceEmail, bobEmail].sort()
  assert.deepEqual(await byAdvertiser(), { [ADV]: both, [ADV2]: both })

  const r = await runCli(['forget', '--email', 'aliceliddell@example.com', '--db', db], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>
  assert.deepEqual([summary.audiences, summary.removed, summary.failed], [2, 2, 0])
  assert.deepEqual(await byAdvertiser(), { [ADV]: [bobEmail], [ADV2]: [bobEmail] })
  const sqlite = new Database(dbFile, { readonly: true })
  try {
    const audit = sqlite.prepare('SELECT audiences FROM forget_audits WHERE id = ?').get(summary.audit) as { audiences: string }
    assert.deepEqual((JSON.parse(audit.audiences) as { advertiserIds: string[] }[]).map((a) => a.advertiserIds).sort(), [[ADV], [ADV2]])
  } finally {
    sqlite.close()
  }

  await send(cfg, db, [{ type: 'identify', userId: 'user-bob', messageId: 'consent-fan-bob', context: consent(false) }])
  assert.deepEqual(await byAdvertiser(), { [ADV]: [], [ADV2]: [] })
})

test('a destination without rememberMembers records nothing: forget says it cannot search it', async () => {
  const dbFile = join(dir, `off-${run}.db`)
  await send(config('', REMEMBER), `sqlite:${dbFile}`, [entered(alice, 'vips'), entered(alice, 'shoppers')])
  const r = await runCli(['forget', '--email', 'aliceliddell@example.com', '--db', `sqlite:${dbFile}`], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).audiences, 1, 'only tiktok2 (Shoppers B) was recorded')
  assert.match(r.stderr, /destination "tiktok" does not record its members \(rememberMembers is off\)/)
  const m = await emailsByAudience()
  assert.deepEqual(m['Shoppers B'], [])
  assert.deepEqual(m['VIPs A'], [aliceEmail])
})

test('on PostgreSQL: forget by email and a consent withdrawal remove the person, audits recorded', { skip: pgSkip }, async () => {
  const pgdb = await createPgDatabase()
  const cfg = config(REMEMBER, '    consentCategory: Advertising')
  await send(cfg, pgdb.url, [entered(alice, 'shoppers'), entered(alice, 'vips'), entered(bob, 'shoppers')])
  await send(cfg, pgdb.url, [{ type: 'identify', userId: 'user-bob', messageId: 'consent-bob', context: consent(false) }])
  assert.deepEqual((await emailsByAudience())['Shoppers B'], [aliceEmail])
  const r = await runCli(['forget', '--email', 'aliceliddell@example.com', '--db', pgdb.url], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), { audiences: 3, removed: 3, failed: 0, audit: 2 })
  assert.deepEqual(await emailsByAudience(), { 'Shoppers A': [bobEmail], 'VIPs A': [], 'Shoppers B': [] })
  const audits = await pgdb.query<{ origin: string }>('SELECT origin FROM forget_audits ORDER BY id')
  assert.deepEqual(
    audits.map((a) => a.origin),
    ['consent', 'forget']
  )
})
