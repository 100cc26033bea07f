/**
 * Legacy → native migration against the built-in emulator: a legacy destination with 3 Add Users /
 * Remove Users pairs (keys from `context.personas.computation_key`, `properties.audience_key`, and
 * none: derived from the TikTok name). `migrate --dry-run` prints the plan and changes nothing; the
 * real run makes the destination native with the same TikTok audience ids; changes queued before it
 * still deliver, and events after it reach the same audiences. The admin route does the same.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import Database from 'better-sqlite3'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuCreateAudience, emuFaults, emuMembers } from '../helpers/emu-control.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { basic, until } from '../server/admin-service.js'

const PASSWORD = 'migrate-password'
const ADV = '7000000000000000001'
const WRITE_KEY = 'wk_migrate'
let dir: string
let dbUrl: string
let service: { url: string; close(): Promise<void> }

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(service.url + path, {
    method,
    headers: { authorization: basic('admin', PASSWORD), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await r.text()
  return { status: r.status, body: text ? JSON.parse(text) : null }
}
async function send(events: unknown[]): Promise<void> {
  const r = await fetch(`${service.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(WRITE_KEY, '') },
    body: JSON.stringify({ batch: events })
  })
  assert.equal(r.status, 200, await r.text())
}
const emu = () => `${service.url}/emulator`
const emailsIn = async (audienceId: string) => (await emuMembers(emu(), audienceId)).EMAIL_SHA256 ?? []
const destinationNamed = async (name: string) =>
  ((await api('GET', '/api/destinations')).body as { id: number; name: string; mode: string }[]).find((d) => d.name === name)!

/** A legacy Add Users / Remove Users pair for one TikTok audience. */
async function addPair(destId: number, audienceId: string, enter: string, exit: string, label: string): Promise<void> {
  for (const [action, trigger] of [
    ['addUser', enter],
    ['removeUser', exit]
  ]) {
    const r = await api('POST', `/api/destinations/${destId}/mappings`, {
      action,
      name: `${action === 'addUser' ? 'Add Users' : 'Remove Users'} ${label}`,
      trigger,
      enabled: true,
      mapping: { audience_id: audienceId, selected_advertiser_id: ADV, send_phone: false }
    })
    assert.equal(r.status, 201, JSON.stringify(r.body))
  }
}

function lapsedEvent(userId: string, entered: boolean) {
  const e = audienceEvent({ userId, email: `${userId}@example.com` }, 'lapsed_buyers', entered) as any
  e.event = entered ? 'Lapsed Entered' : 'Lapsed Exited'
  delete e.properties.audience_key
  return e
}

let ids: { vip: string; winter: string; lapsed: string }

/**
 * What a migration could change, read from the database file: every configuration row, the config
 * version, and which packs wait in which partitions (their retry bookkeeping moves on its own while
 * TikTok fails, so it is left out).
 */
async function databaseState(): Promise<Record<string, unknown[]>> {
  const db = new Database(dbUrl.slice('sqlite:'.length), { readonly: true })
  try {
    const out: Record<string, unknown[]> = {}
    for (const t of ['destinations', 'mappings', 'connections', 'connection_targets']) out[t] = db.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()
    out.configVersion = db.prepare("SELECT value FROM meta WHERE key = 'config_version'").all()
    out.partitions = db.prepare('SELECT id, key, destination_id FROM partitions ORDER BY id').all()
    out.packs = db.prepare('SELECT id, partition_id FROM queue_packs ORDER BY id').all()
    return out
  } finally {
    db.close()
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-migrate-'))
  dbUrl = `sqlite:${join(dir, 'db.sqlite')}`
  process.env.DATABASE_URL = dbUrl
  process.env.ADMIN_PASSWORD = PASSWORD
  delete process.env.TIKTOK_APP_ID
  delete process.env.TIKTOK_API_URL
  const config = join(dir, 'config.yaml')
  const legacy = (name: string) => `
  - name: ${name}
    source: engage
    mode: legacy
    enabled: true
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}"]`
  writeFileSync(
    config,
    `
sources:
  - { name: engage, writeKey: ${WRITE_KEY} }
destinations:${legacy('legacy')}${legacy('legacy2')}
delivery: { windowMs: 20, retryBaseMs: 50, retryMaxMs: 200 }
`
  )
  const { startService } = await import('../../src/server/serve.js')
  service = await startService({ port: 0, banner: false, config, dataDir: dir })
  for (const d of (await api('GET', '/api/destinations')).body)
    if (d.name !== 'legacy' && d.name !== 'legacy2') await api('DELETE', `/api/destinations/${d.id}`)
  const api_ = `${emu()}/open_api`
  ids = {
    vip: await emuCreateAudience(api_, 'VIP'),
    winter: await emuCreateAudience(api_, 'Winter sale'),
    lapsed: await emuCreateAudience(api_, 'Lapsed buyers')
  }
  const d = await destinationNamed('legacy')
  await addPair(
    d.id,
    ids.vip,
    'event = "Audience Entered" and context.personas.computation_key = "vip"',
    'event = "Audience Exited" and context.personas.computation_key = "vip"',
    'VIP'
  )
  await addPair(
    d.id,
    ids.winter,
    'event = "Audience Entered" and properties.audience_key = "winter"',
    'event = "Audience Exited" and properties.audience_key = "winter"',
    'Winter'
  )
  await addPair(d.id, ids.lapsed, 'event = "Lapsed Entered"', 'event = "Lapsed Exited"', 'Lapsed')
})
after(async () => {
  await service?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test(
  'migrate --dry-run prints the plan and changes nothing; the real run keeps the TikTok audience ids and loses nothing queued',
  { timeout: 120_000 },
  async () => {
    // Legacy delivery first: one member in VIP; then a change that TikTok cannot take yet stays queued.
    await send([audienceEvent({ userId: 'u1', email: 'u1@example.com' }, 'vip', true)])
    await until('u1 in VIP (legacy)', async () => (await emailsIn(ids.vip)).includes(sha256('u1@example.com')))
    await emuFaults(emu(), [{ path: '/segment/mapping/', httpStatus: 503, count: 100000 }])
    await send([
      audienceEvent({ userId: 'q1', email: 'q1@example.com' }, 'winter', true),
      audienceEvent({ userId: 'u1', email: 'u1@example.com' }, 'vip', false)
    ])
    const d = await destinationNamed('legacy')
    const before = (await api('GET', `/api/destinations/${d.id}/mappings`)).body
    const stateBefore = await databaseState()
    const audiencesBefore = await emuAudiences(emu())

    const dry = await runCli(['migrate', '--destination', 'legacy', '--dry-run', '--db', dbUrl])
    assert.equal(dry.code, 0, dry.stderr)
    const plan = JSON.parse(dry.stdout.trim().split('\n').pop()!)
    assert.equal(plan.dryRun, true)
    const summary = (cs: any[]) => cs.map(({ key, name, advertiserId, externalAudienceId }) => ({ key, name, advertiserId, externalAudienceId }))
    assert.deepEqual(summary(plan.connections), [
      { key: 'vip', name: 'VIP', advertiserId: ADV, externalAudienceId: ids.vip },
      { key: 'winter', name: 'Winter sale', advertiserId: ADV, externalAudienceId: ids.winter },
      { key: 'lapsed_buyers', name: 'Lapsed buyers', advertiserId: ADV, externalAudienceId: ids.lapsed }
    ])
    assert.deepEqual(
      plan.connections.map((c: any) => [c.enterEvent, c.exitEvent]),
      [
        ['Audience Entered', 'Audience Exited'],
        ['Audience Entered', 'Audience Exited'],
        ['Lapsed Entered', 'Lapsed Exited']
      ]
    )
    assert.equal(plan.mappings.remove.length, 6)
    assert.deepEqual(
      plan.mappings.add.map((m: any) => m.name),
      [
        'Add to Audience (vip)',
        'Remove from Audience (vip)',
        'Add to Audience (winter)',
        'Remove from Audience (winter)',
        'Add to Audience (lapsed_buyers)',
        'Remove from Audience (lapsed_buyers)'
      ]
    )
    assert.match(dry.stderr, /key "lapsed_buyers" comes from its TikTok name "Lapsed buyers"/)
    assert.equal((await destinationNamed('legacy')).mode, 'legacy', 'dry run: still legacy')
    assert.deepEqual((await api('GET', `/api/destinations/${d.id}/mappings`)).body, before, 'dry run: mappings unchanged')
    assert.deepEqual((await api('GET', `/api/destinations/${d.id}/audiences`)).body, [], 'dry run: no connection')
    assert.deepEqual(await databaseState(), stateBefore, 'dry run: no row of the configuration or the queue changed')
    assert.deepEqual(await emuAudiences(emu()), audiencesBefore, 'dry run: no TikTok audience created')

    const real = await runCli(['migrate', '--destination', 'legacy', '--db', dbUrl])
    assert.equal(real.code, 0, real.stderr)
    const done = JSON.parse(real.stdout.trim().split('\n').pop()!)
    assert.equal(done.dryRun, false)
    assert.deepEqual(summary(done.connections), summary(plan.connections))
    assert.equal((await destinationNamed('legacy')).mode, 'native')
    const mappings = (await api('GET', `/api/destinations/${d.id}/mappings`)).body as {
      name: string
      action: string
      trigger: string
      mapping: Record<string, unknown>
    }[]
    assert.deepEqual(mappings.map((m) => m.action).sort(), [
      'addToAudience',
      'addToAudience',
      'addToAudience',
      'removeFromAudience',
      'removeFromAudience',
      'removeFromAudience'
    ])
    assert.ok(
      mappings.every((m) => m.mapping.send_phone === false && !('audience_id' in m.mapping)),
      'identifier fields carried over, audience fields gone'
    )
    const conns = (await api('GET', `/api/destinations/${d.id}/audiences`)).body as { audienceKey: string; externalAudienceId: string }[]
    assert.deepEqual(
      conns.map((c) => [c.audienceKey, c.externalAudienceId]),
      [
        ['vip', ids.vip],
        ['winter', ids.winter],
        ['lapsed_buyers', ids.lapsed]
      ]
    )

    // What was queued under legacy is delivered once TikTok takes it again.
    await emuFaults(emu(), [])
    await until(
      'queued legacy changes delivered',
      async () => (await emailsIn(ids.winter)).includes(sha256('q1@example.com')) && !(await emailsIn(ids.vip)).includes(sha256('u1@example.com')),
      20_000
    )

    // Native from now on: events reach the same TikTok audiences.
    await send([
      audienceEvent({ userId: 'n1', email: 'n1@example.com' }, 'vip', true),
      audienceEvent({ userId: 'n2', email: 'n2@example.com' }, 'winter', true),
      lapsedEvent('n3', true)
    ])
    await until(
      'native events in the same audiences',
      async () =>
        (await emailsIn(ids.vip)).includes(sha256('n1@example.com')) &&
        (await emailsIn(ids.winter)).includes(sha256('n2@example.com')) &&
        (await emailsIn(ids.lapsed)).includes(sha256('n3@example.com')),
      20_000
    )
    await send([lapsedEvent('n3', false)])
    await until('exit event removes', async () => !(await emailsIn(ids.lapsed)).includes(sha256('n3@example.com')), 20_000)

    const again = await runCli(['migrate', '--destination', 'legacy', '--db', dbUrl])
    assert.equal(again.code, 2)
    assert.match(again.stderr, /already native: nothing to migrate/)
    const unknown = await runCli(['migrate', '--destination', 'nope', '--dry-run', '--db', dbUrl])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /no destination named "nope"/)
  }
)

test('POST /api/destinations/{id}/migrate: dry run, refusals naming the problem, then the migration', { timeout: 60_000 }, async () => {
  const d = await destinationNamed('legacy2')
  assert.equal((await api('POST', `/api/destinations/${d.id}/migrate`, { dryRun: 'yes' })).status, 400)
  const none = await api('POST', `/api/destinations/${d.id}/migrate`, { dryRun: true })
  assert.equal(none.status, 409)
  assert.match(none.body.error, /no Add Users \/ Remove Users mappings/)

  const computed = await api('POST', `/api/destinations/${d.id}/mappings`, {
    action: 'addUser',
    name: 'Computed',
    enabled: true,
    mapping: { audience_id: { '@path': '$.properties.tiktok_audience' }, selected_advertiser_id: ADV }
  })
  assert.equal(computed.status, 201, JSON.stringify(computed.body))
  const refused = await api('POST', `/api/destinations/${d.id}/migrate`, { dryRun: true })
  assert.equal(refused.status, 400)
  assert.match(refused.body.error, /mapping "Computed": audience_id must be a TikTok id written in the mapping/)
  await api('DELETE', `/api/mappings/${computed.body.id}`)

  const foreign = await api('POST', `/api/destinations/${d.id}/mappings`, {
    action: 'addUser',
    name: 'Foreign',
    enabled: true,
    mapping: { audience_id: '123456789', selected_advertiser_id: ADV }
  })
  const notOwned = await api('POST', `/api/destinations/${d.id}/migrate`, {})
  assert.equal(notOwned.status, 400)
  assert.match(notOwned.body.error, /123456789/)
  assert.equal((await destinationNamed('legacy2')).mode, 'legacy')
  await api('DELETE', `/api/mappings/${foreign.body.id}`)

  await addPair(
    d.id,
    ids.vip,
    'event = "Audience Entered" and context.personas.computation_key = "vip"',
    'event = "Audience Exited" and context.personas.computation_key = "vip"',
    'VIP'
  )
  const dry = await api('POST', `/api/destinations/${d.id}/migrate`, { dryRun: true })
  assert.equal(dry.status, 200, JSON.stringify(dry.body))
  assert.equal(dry.body.dryRun, true)
  assert.deepEqual(
    dry.body.mappings.add.map((m: any) => m.name),
    ['Add to Audience', 'Remove from Audience']
  )
  assert.equal((await destinationNamed('legacy2')).mode, 'legacy')
  const real = await api('POST', `/api/destinations/${d.id}/migrate`, { dryRun: false })
  assert.equal(real.status, 200)
  assert.equal((await destinationNamed('legacy2')).mode, 'native')
  assert.deepEqual(
    real.body.connections.map((c: any) => [c.key, c.externalAudienceId]),
    [['vip', ids.vip]]
  )
})
