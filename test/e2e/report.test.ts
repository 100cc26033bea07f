/** `tiktok-audiences report`: the identifier-quality dry run sends nothing and counts what it saw. */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { at, first } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'

test('report: usable, pre-hashed, repaired and rejected identifiers, and the exact request, without sending', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-report-'))
  const cfg = join(dir, 'c.yaml')
  writeFileSync(
    cfg,
    `
destinations:
  - name: tiktok
    mode: native
    normalization: recommended
    defaultPhoneRegion: US
    batchSize: 2
    mappings:
      - { name: Add, action: addToAudience }
    audiences:
      - { key: vip, advertiserId: "7000000000000000001", externalAudienceId: "7300000000000000001" }
`
  )
  const events = [
    audienceEvent({ userId: 'a', email: ' Ann@Example.com ', phone: '(415) 555-0101' }, 'vip', true),
    audienceEvent({ userId: 'b', email: sha256('bob@example.com').toUpperCase(), advertisingId: 'IDFA-B' }, 'vip', true),
    audienceEvent({ userId: 'c', email: 'not-an-email', phone: '12' }, 'vip', true)
  ]
  const file = join(dir, 'e.ndjson')
  writeFileSync(file, ndjson(events))
  // TIKTOK_API_URL points nowhere: a dry run must not call TikTok.
  const r = await runCli(['report', '--config', cfg, '--events', file, '--json'], { env: { TIKTOK_API_URL: 'http://127.0.0.1:9/open_api' } })
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as {
    events: number
    destinations: {
      identifiers: Record<string, Record<string, number>>
      failed: Record<string, number>
      changes: { add: number }
      requests: { rows: number; requests: number; sample: { batch_data: { id?: string }[][] } }[]
    }[]
  }
  const d = first(report.destinations)
  assert.equal(report.events, 3)
  assert.deepEqual(d.identifiers.email, { repaired: 1, prehashed: 1, rejected: 1 })
  assert.deepEqual(d.identifiers.phone, { repaired: 1, empty: 1, rejected: 1 })
  assert.equal(d.changes.add, 2)
  assert.equal(
    Object.values(d.failed).reduce((a, b) => a + b, 0),
    1,
    'the event with nothing usable fails, with the reasons'
  )
  assert.match(first(Object.keys(d.failed)), /rejected/)
  const request = first(d.requests)
  assert.equal(request.rows, 2)
  assert.equal(request.requests, 1)
  const [ann, bob] = request.sample.batch_data
  assert.ok(ann && bob)
  assert.equal(at(ann, 0).id, sha256('ann@example.com'))
  assert.equal(at(ann, 1).id, sha256('+14155550101'))
  assert.equal(at(bob, 0).id, sha256('bob@example.com'), 'pre-hashed, lowercased, not hashed twice')
})

test('report: the matching choices — Android ids as AAID_SHA256, several emails as rows — counted under recommended only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-report-'))
  const cfg = join(dir, 'c.yaml')
  const destination = (name: string, normalization: string) => `
  - name: ${name}
    mode: native
    normalization: ${normalization}
    mappings:
      - { name: Add, action: addToAudience }
    audiences:
      - { key: vip, advertiserId: "7000000000000000001", externalAudienceId: "7300000000000000001" }`
  writeFileSync(cfg, `destinations:${destination('rec', 'recommended')}${destination('seg', 'segment')}\n`)
  const android = audienceEvent({ userId: 'a', email: 'ann@example.com', advertisingId: 'gaid-a' }, 'vip', true) as any
  android.context.device.type = 'android'
  const ios = audienceEvent({ userId: 'b', email: 'bob@example.com', advertisingId: 'IDFA-B' }, 'vip', true) as any
  ios.context.device.type = 'ios'
  const several = audienceEvent({ userId: 'c' }, 'vip', true) as any
  several.context.traits.email = ['cat@example.com', 'cat@example.org', 'nope']
  const file = join(dir, 'e.ndjson')
  writeFileSync(file, ndjson([android, ios, several]))
  const r = await runCli(['report', '--config', cfg, '--events', file, '--json'], { env: { TIKTOK_API_URL: 'http://127.0.0.1:9/open_api' } })
  assert.equal(r.code, 0, r.stderr)
  type Report = {
    identifiers: Record<string, Record<string, number>>
    moreValues: Record<string, number>
    reasons: Record<string, number>
    failed: Record<string, number>
    requests: { kind: string; rows: number; sample: { id_schema: string[]; batch_data: { id?: string }[][] } }[]
  }
  const [rec, seg] = (JSON.parse(r.stdout) as { destinations: Report[] }).destinations
  assert.ok(rec && seg)
  assert.deepEqual(rec.identifiers.advertising_id, { hashed: 2, aaid: 1, empty: 1 })
  assert.deepEqual(rec.identifiers.email, { hashed: 3, multiple: 1 })
  assert.deepEqual(rec.moreValues, { email: 1 })
  assert.equal(rec.reasons['email rejected: not a valid email address'], 1)
  const byKind = Object.fromEntries(rec.requests.map((q) => [q.kind, q]))
  const aaid = byKind['add|EMAIL_SHA256,PHONE_SHA256,AAID_SHA256']
  assert.ok(aaid)
  assert.equal(aaid.rows, 1)
  assert.equal(at(first(aaid.sample.batch_data), 2).id, sha256('gaid-a'))
  const idfa = byKind['add|EMAIL_SHA256,PHONE_SHA256,IDFA_SHA256']
  assert.ok(idfa)
  assert.equal(idfa.rows, 3, 'bob, and cat in two rows')
  assert.deepEqual(
    idfa.sample.batch_data.map((row) => first(row).id),
    ['bob@example.com', 'cat@example.com', 'cat@example.org'].map(sha256)
  )

  assert.deepEqual(seg.identifiers.advertising_id, { hashed: 2 })
  assert.deepEqual(
    seg.requests.map((q) => q.kind),
    ['add|EMAIL_SHA256,PHONE_SHA256,IDFA_SHA256']
  )
  assert.equal(first(seg.requests).rows, 2)
  assert.match(first(Object.keys(seg.failed)), /The value at \/email must be a string but it was an array/)
})
