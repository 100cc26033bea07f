/**
 * `tiktok-audiences send` end to end: a config and an NDJSON file of Engage events in, hashed
 * members in the emulator's audiences out (checked through its control API).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, test } from 'node:test'
import Database from 'better-sqlite3'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { at, first } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256, type Person } from '../helpers/events.js'

const ADV = '7000000000000000001'
const ADV2 = '7000000000000000002'
let emu: RunningEmulator
let dir: string

before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-send-'))
})
after(async () => emu.close())
beforeEach(async () => {
  await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' })
})

const people = (n: number, from = 0): Person[] =>
  Array.from({ length: n }, (_, k) => {
    const i = from + k
    return {
      userId: `u${i}`,
      email: ` Person.${i}+promo@Example.COM `,
      phone: `(415) 555-${String(1000 + i)}`,
      advertisingId: `6D92078A-8246-4BA4-AE5B-${String(i).padStart(12, '0')}`
    }
  })

/** What TikTok should hold for these people under the `recommended` policy. */
const recommendedHashes = (ps: Person[]) => ({
  EMAIL_SHA256: ps
    .map((p) =>
      sha256(
        p
          .email!.trim()
          .replace(/\+.*@/, '@')
          .replace(/\.(?=.*@)/g, '')
          .toLowerCase()
      )
    )
    .sort(),
  PHONE_SHA256: ps.map((p) => sha256(`+1${p.phone!.replace(/\D/g, '')}`)).sort(),
  IDFA_SHA256: ps.map((p) => sha256(p.advertisingId!)).sort()
})

function write(name: string, text: string): string {
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

function nativeConfig(extra: { batchSize?: number; destinations?: string; delivery?: string } = {}): string {
  return `
sources:
  - name: engage
    writeKey: wk_test
destinations:
  - name: tiktok
    source: engage
    mode: native
    normalization: recommended
    defaultPhoneRegion: US
    accessToken: \${TEST_TIKTOK_TOKEN}
    batchSize: ${extra.batchSize ?? 10}
    mappings:
      - name: Add to Audience
        action: addToAudience
      - name: Remove from Audience
        action: removeFromAudience
    audiences:
      - key: first_time_shopper
        name: First time shopper
        advertiserId: "${ADV}"
${extra.destinations ?? ''}
delivery:
  windowMs: 20
  retryBaseMs: 20
  retryMaxMs: 200
${extra.delivery ?? ''}
`
}

const env = () => ({ TIKTOK_API_URL: emu.apiUrl, TEST_TIKTOK_TOKEN: 'emulator-access-token', DATABASE_URL: '' })

async function audiences(): Promise<{ audience_id: string; name: string; advertiser_id: string; total: number }[]> {
  return (
    (await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as {
      audiences: { audience_id: string; name: string; advertiser_id: string; total: number }[]
    }
  ).audiences
}
async function members(id: string): Promise<Record<string, string[]>> {
  return ((await (await fetch(`${emu.url}/_emulator/audiences/${id}/members`)).json()) as { members: Record<string, string[]> }).members
}
async function mappingRequests(): Promise<
  { body: { action: string; id_schema: string[]; advertiser_ids: string[]; batch_data: { id?: string }[][] }; code: number | null; httpStatus: number }[]
> {
  const r = (await (await fetch(`${emu.url}/_emulator/requests?path=/segment/mapping/`)).json()) as { requests: never[] }
  return r.requests
}
async function setFaults(rules: unknown[]): Promise<void> {
  const r = await fetch(`${emu.url}/_emulator/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rules }) })
  assert.equal(r.status, 200)
}

test('native: audience created on apply, members added and removed through several batches', async () => {
  const ps = people(35)
  const events = [...ps.map((p) => audienceEvent(p, 'first_time_shopper', true)), ...ps.slice(0, 5).map((p) => audienceEvent(p, 'first_time_shopper', false))]
  const dbFile = join(dir, 'native.db')
  const r = await runCli(
    ['send', '--config', write('native.yaml', nativeConfig()), '--db', `sqlite:${dbFile}`, '--events', write('native.ndjson', ndjson(events))],
    { env: env() }
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.received, 40)
  assert.equal(r.summary?.delivered, 40)
  assert.equal(r.summary?.failed, 0)

  const [aud] = await audiences()
  assert.ok(aud, 'the audience was created')
  assert.equal(aud.name, 'First time shopper')
  assert.equal(aud.advertiser_id, ADV)
  const m = await members(aud.audience_id)
  const expected = recommendedHashes(ps.slice(5))
  assert.deepEqual(m.EMAIL_SHA256, expected.EMAIL_SHA256)
  assert.deepEqual(m.PHONE_SHA256, expected.PHONE_SHA256)
  assert.deepEqual(m.IDFA_SHA256, expected.IDFA_SHA256)

  const reqs = await mappingRequests()
  // 35 enters and 5 exits routed together: the 5 enter+exit pairs collapse to their last state,
  // so 30 adds go in 3 full batches and the 5 deletes in one.
  assert.deepEqual(
    reqs.map((q) => `${q.body.action}:${q.body.batch_data.length}`),
    ['add:10', 'add:10', 'add:10', 'delete:5']
  )
  for (const q of reqs) {
    assert.ok(q.body.batch_data.length <= 10, 'batchSize respected')
    assert.deepEqual(q.body.id_schema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
    assert.deepEqual(q.body.advertiser_ids, [ADV])
  }
  assert.equal(
    r.summary?.requests,
    reqs.length + 2,
    'requests counts mapping calls, the audience list read for a same-name audience (no twin) and the creation'
  )

  // Event Delivery's sample of a request is the body as sent, cut to its first 3 rows.
  const db = new Database(dbFile, { readonly: true })
  try {
    const stored = db.prepare("SELECT row_count AS n, request_sample AS sample FROM requests WHERE kind = 'mapping' ORDER BY id LIMIT 1").get() as {
      n: number
      sample: string
    }
    const sample = JSON.parse(stored.sample) as { method: string; url: string; body: (typeof reqs)[0]['body'] & { batch_data_more_rows?: number } }
    assert.equal(stored.n, 10)
    assert.equal(sample.method, 'POST')
    assert.match(sample.url, /\/segment\/mapping\/$/)
    assert.deepEqual(
      { ...sample.body, batch_data_more_rows: undefined },
      { ...first(reqs).body, batch_data: first(reqs).body.batch_data.slice(0, 3), batch_data_more_rows: undefined }
    )
    assert.equal(sample.body.batch_data_more_rows, 7)
  } finally {
    db.close()
  }
})

test('native: applying the same config twice reuses the audience (idempotent)', async () => {
  const db = `sqlite:${join(dir, 'idempotent.db')}`
  const cfg = write('idem.yaml', nativeConfig())
  const first = await runCli(
    ['send', '--config', cfg, '--db', db, '--events', write('idem1.ndjson', ndjson([audienceEvent(at(people(1), 0), 'first_time_shopper', true)]))],
    { env: env() }
  )
  assert.equal(first.code, 0, first.stderr)
  const second = await runCli(
    ['send', '--config', cfg, '--db', db, '--events', write('idem2.ndjson', ndjson([audienceEvent(at(people(1, 1), 0), 'first_time_shopper', true)]))],
    { env: env() }
  )
  assert.equal(second.code, 0, second.stderr)
  const auds = await audiences()
  assert.equal(auds.length, 1)
  assert.equal(at(auds, 0).total, 6, 'two people × three id types in the one audience')
})

test('legacy: Add/Remove Users mappings with several advertisers and the segment policy', async () => {
  const created = await fetch(`${emu.apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'access-token': 'emulator-access-token' },
    body: JSON.stringify({ advertiser_id: ADV, action: 'create', custom_audience_name: 'legacy list' })
  })
  const audienceId = ((await created.json()) as { data: { audience_id: string } }).data.audience_id
  const cfg = `
destinations:
  - name: legacy
    mode: legacy
    normalization: segment
    accessToken: emulator-access-token
    advertiserIds: ["${ADV}", "${ADV2}"]
    batchSize: 4
    mappings:
      - name: Add Users
        action: addUser
        mapping: { selected_advertiser_id: "${ADV}", audience_id: "${audienceId}", send_phone: false }
      - name: Remove Users
        action: removeUser
        mapping: { selected_advertiser_id: "${ADV}", audience_id: "${audienceId}", send_phone: false }
delivery: { windowMs: 20 }
`
  const ps: Person[] = Array.from({ length: 9 }, (_, i) => ({ userId: `l${i}`, email: `Legacy.User${i}+x@Example.com`, advertisingId: `maid-${i}` }))
  const events = [...ps.map((p) => audienceEvent(p, 'legacy_list', true)), audienceEvent(at(ps, 8), 'legacy_list', false)]
  const r = await runCli(['send', '--config', write('legacy.yaml', cfg), '--events', write('legacy.ndjson', ndjson(events))], { env: env() })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.delivered, 10)
  const m = await members(audienceId)
  // segment policy: +tag and local-part dots dropped, lowercased, no trim; mobile ids as given.
  assert.deepEqual(
    m.EMAIL_SHA256,
    ps
      .slice(0, 8)
      .map((_, i) => sha256(`legacyuser${i}@example.com`))
      .sort()
  )
  assert.deepEqual(
    m.IDFA_SHA256,
    ps
      .slice(0, 8)
      .map((p) => sha256(p.advertisingId!))
      .sort()
  )
  assert.deepEqual(m.PHONE_SHA256 ?? [], [])
  const reqs = await mappingRequests()
  assert.ok(reqs.length >= 3)
  for (const q of reqs) {
    assert.deepEqual(q.body.advertiser_ids, [ADV, ADV2], 'legacy sends settings.advertiser_ids, as Segment does')
    assert.deepEqual(q.body.id_schema, ['EMAIL_SHA256', 'IDFA_SHA256'])
  }
})

test('faults: throttling (40100), server errors (50000) and a 504 with an HTML body are retried; every event delivered once', async () => {
  await setFaults([
    { path: '/segment/mapping/', code: 40100, count: 2 },
    { path: '/segment/mapping/', code: 50000, count: 2 },
    { path: '/segment/mapping/', httpStatus: 504, count: 2 }
  ])
  const ps = people(30)
  const r = await runCli(
    [
      'send',
      '--config',
      write('faults.yaml', nativeConfig()),
      '--events',
      write('faults.ndjson', ndjson(ps.map((p) => audienceEvent(p, 'first_time_shopper', true))))
    ],
    { env: env() }
  )
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.delivered, 30)
  assert.equal(r.summary?.failed, 0)
  const reqs = await mappingRequests()
  const failedReqs = reqs.filter((q) => q.code !== 0)
  assert.equal(failedReqs.length, 6, 'each injected fault was hit once')
  assert.ok(failedReqs.some((q) => q.httpStatus === 504))
  // Exactly once: among requests TikTok accepted, every email hash appears once.
  const accepted = reqs.filter((q) => q.code === 0).flatMap((q) => q.body.batch_data.map((row) => first(row).id))
  assert.equal(accepted.length, 30)
  assert.equal(new Set(accepted).size, 30)
  const aud = first(await audiences())
  assert.deepEqual((await members(aud.audience_id)).EMAIL_SHA256, recommendedHashes(ps).EMAIL_SHA256)
})

test('delivery.timeoutMs: a TikTok answering slower than it is a timeout, retried; faster is fine', async () => {
  for (const { latencyMs, timeoutMs, slow } of [
    { latencyMs: 1500, timeoutMs: 300, slow: true },
    { latencyMs: 200, timeoutMs: 1000, slow: false }
  ]) {
    await fetch(`${emu.url}/_emulator/reset`, { method: 'POST' })
    await setFaults([{ path: '/segment/mapping/', latencyMs, count: 1 }])
    const ps = people(5)
    const dbFile = join(dir, `timeout${timeoutMs}.db`)
    const cfg = write(`timeout${timeoutMs}.yaml`, nativeConfig({ delivery: `  timeoutMs: ${timeoutMs}` }))
    const events = write(`timeout${timeoutMs}.ndjson`, ndjson(ps.map((p) => audienceEvent(p, 'first_time_shopper', true))))
    const r = await runCli(['send', '--config', cfg, '--db', `sqlite:${dbFile}`, '--events', events], { env: env() })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.summary?.delivered, 5)
    assert.equal(r.summary?.failed, 0)
    const db = new Database(dbFile, { readonly: true })
    const exchanges = db.prepare(`SELECT outcome, message, duration_ms AS ms FROM requests WHERE kind = 'mapping' ORDER BY id`).all() as {
      outcome: string
      message: string | null
      ms: number
    }[]
    db.close()
    const what = `latency ${latencyMs} ms, timeoutMs ${timeoutMs}: ${JSON.stringify(exchanges)}`
    if (slow) {
      assert.equal(exchanges.length, 2, what)
      const [timedOut, retried] = exchanges
      assert.ok(timedOut && retried, what)
      assert.equal(timedOut.outcome, 'retry', what)
      assert.match(timedOut.message ?? '', /timeout/i, what)
      assert.ok(timedOut.ms < latencyMs, `given up after about ${timeoutMs} ms, not when TikTok answered: ${what}`)
      assert.equal(retried.outcome, 'delivered', what)
    } else {
      assert.deepEqual(
        exchanges.map((e) => e.outcome),
        ['delivered'],
        what
      )
    }
    const aud = first(await audiences())
    assert.deepEqual((await members(aud.audience_id)).EMAIL_SHA256, recommendedHashes(ps).EMAIL_SHA256)
  }
})

for (const code of [40001, 40002]) {
  test(`faults: TikTok ${code} fails the batch with TikTok's message, the rest is delivered, send exits 1`, async () => {
    await setFaults([{ path: '/segment/mapping/', code, count: 1 }])
    const ps = people(25)
    const r = await runCli(
      [
        'send',
        '--config',
        write(`perm${code}.yaml`, nativeConfig()),
        '--events',
        write(`perm${code}.ndjson`, ndjson(ps.map((p) => audienceEvent(p, 'first_time_shopper', true))))
      ],
      { env: env() }
    )
    assert.equal(r.code, 1)
    assert.equal(r.summary?.failed, 10, 'the first batch of 10 was dead-lettered')
    assert.equal(r.summary?.delivered, 15)
    assert.match(r.stderr, new RegExp(`failed ×10: .*TikTok ${code}: `))
    const reqs = await mappingRequests()
    assert.equal(reqs.filter((q) => q.code === code).length, 1, 'a permanent error is not retried')
  })
}

test('bad input: each problem is named, and the other events still go through', async () => {
  const cfg = nativeConfig({
    destinations: `
  - name: no-token
    source: engage
    mode: native
    accessToken: \${TEST_UNSET_TOKEN}
    mappings:
      - name: Add
        action: addToAudience
    # Takes every audience's events (README "Which destinations an event reaches"): they reach its
    # mappings and fail for the missing token (without a token it connects nothing).
    autoConnectAudiences: true
`
  }).replace(
    '      - name: Remove from Audience\n        action: removeFromAudience\n',
    `      - name: Remove from Audience
        action: removeFromAudience
      - name: Broken trigger
        action: addToAudience
        trigger: 'event = '
      - name: Broken directive
        action: addToAudience
        mapping: { email: { "@path": 5 } }
      - name: Unknown action
        action: addEverybody
`
  )
  const ps = people(3)
  const lines = [
    JSON.stringify(audienceEvent(at(ps, 0), 'first_time_shopper', true)),
    '{"type": "track", "event": ',
    JSON.stringify({ type: 'track', userId: 'x', properties: {} }),
    JSON.stringify([1, 2]),
    JSON.stringify(audienceEvent(at(ps, 1), 'first_time_shopper', true)),
    JSON.stringify(audienceEvent(at(ps, 2), 'first_time_shopper', true))
  ]
  const r = await runCli(['send', '--config', write('bad.yaml', cfg), '--events', write('bad.ndjson', lines.join('\n') + '\n')], {
    env: { ...env(), TEST_UNSET_TOKEN: undefined }
  })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /invalid ×1: not valid JSON .* — .*bad\.ndjson:2\n/)
  assert.match(r.stderr, /invalid ×1: a track event needs a non-empty "event" name — .*bad\.ndjson:3\n/)
  assert.match(r.stderr, /invalid ×1: an event must be a JSON object, got an array — .*bad\.ndjson:4\n/)
  assert.match(r.stderr, /destinations\[0\]\.mappings\[2\]\.trigger \("Broken trigger"\)/)
  assert.match(r.stderr, /destinations\[0\]\.mappings\[3\]\.email \("Broken directive"\)/)
  assert.match(r.stderr, /destinations\[0\]\.mappings\[4\]\.action \("Unknown action"\): Unknown action "addEverybody": valid actions are .*createAudience/)
  assert.match(r.stderr, /destinations\[1\]\.accessToken: environment variable TEST_UNSET_TOKEN is not set/)
  assert.match(r.stderr, /Destination "no-token" has no TikTok access token/)
  assert.equal(r.summary?.received, 6)
  assert.equal(r.summary?.invalid, 3)
  const aud = first(await audiences())
  assert.deepEqual((await members(aud.audience_id)).EMAIL_SHA256, recommendedHashes(ps).EMAIL_SHA256, 'the valid events reached TikTok')
})

test('bad input: an events file that cannot be read is named, counted once as invalid, and no line is taken for a duplicate', async () => {
  for (const workers of ['0', '1']) {
    const r = await runCli(['send', '--config', write('unreadable.yaml', nativeConfig()), '--events', join(dir, 'no-such-file.ndjson')], {
      env: { ...env(), TTA_ROUTE_WORKERS: workers }
    })
    assert.equal(r.code, 1, `TTA_ROUTE_WORKERS=${workers}`)
    assert.match(r.stderr, /cannot read events from .*no-such-file\.ndjson: ENOENT/)
    assert.deepEqual([r.summary?.received, r.summary?.invalid, r.summary?.failed, r.summary?.duplicates], [0, 1, 1, 0], `TTA_ROUTE_WORKERS=${workers}`)
  }
})

test('bad input: an unusable config file is refused with exit 2 and names the problem', async () => {
  const r = await runCli(
    ['send', '--config', write('unusable.yaml', 'destinations:\n  - name: x\n    mode: hybrid\n    batchSize: 20000\n'), '--events', write('none.ndjson', '')],
    { env: env() }
  )
  assert.equal(r.code, 2)
  assert.match(r.stderr, /destinations\[0\]\.mode: must be one of "native", "legacy"/)
  assert.match(r.stderr, /destinations\[0\]\.batchSize: must be <= 10000/)
})

test('send names what is wrong and how to fix it, each reason once with its count', async () => {
  const cfg = nativeConfig().replace('    batchSize:', `    advertiserIds: ["${ADV}", "${ADV2}"]\n    batchSize:`)
  const ps = people(7)
  const FOREIGN = '7000000000000000009'
  const lines = [
    '{"type": "track"',
    '{"type": ',
    '[1]',
    // Addressed to this destination by name, for an audience never connected here (without the
    // integrations entry routing would filter them as not for this destination).
    ...ps.slice(0, 2).map((p) => JSON.stringify({ ...audienceEvent(p, 'vip_customers', true), integrations: { All: false, tiktok: true } })),
    // Forwarded for an advertiser the token was not granted.
    ...ps.slice(2, 5).map((p) => JSON.stringify(audienceEvent(p, 'big_spenders', true, { externalAudienceId: '7123456789012345679', advertiserId: FOREIGN })))
  ]
  const r = await runCli(['send', '--config', write('reasons.yaml', cfg), '--events', write('reasons.ndjson', lines.join('\n') + '\n')], { env: env() })
  assert.equal(r.code, 1)
  const printed = r.stderr.split('\n').filter((l) => /^(invalid|failed) ×/.test(l))
  assert.equal(printed.length, 4, r.stderr)
  assert.match(r.stderr, /^invalid ×2: not valid JSON .* — .*reasons\.ndjson:1, 2$/m)
  assert.match(r.stderr, /^invalid ×1: an event must be a JSON object, got an array — .*reasons\.ndjson:3$/m)
  assert.match(r.stderr, /^failed ×2: Audience "vip_customers" is not connected to destination "tiktok": connect it in the destination's Audiences tab/m)
  assert.match(
    r.stderr,
    new RegExp(`^failed ×3: Advertiser ${FOREIGN} is not one this destination's TikTok token may use \\(these are: ${ADV}, ${ADV2}\\)`, 'm')
  )
  assert.doesNotMatch(r.stderr, /audienceSettings/)
  const reasons = (r.summary as unknown as { reasons: Record<string, number> }).reasons
  assert.deepEqual(Object.values(reasons).sort(), [1, 2, 2, 3])
  assert.equal(reasons['not valid JSON'], 2)
})
