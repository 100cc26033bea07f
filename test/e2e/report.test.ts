/** `tiktok-audiences report`: the identifier-quality dry run sends nothing and counts what it saw. */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'

test('report: usable, pre-hashed, repaired and rejected identifiers, and the exact request, without sending', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-report-'))
  const cfg = join(dir, 'c.yaml')
  writeFileSync(cfg, `
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
`)
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
  const report = JSON.parse(r.stdout) as { events: number; destinations: { identifiers: Record<string, Record<string, number>>; failed: Record<string, number>; changes: { add: number }; requests: { rows: number; requests: number; sample: { batch_data: { id?: string }[][] } }[] }[] }
  const d = report.destinations[0]
  assert.equal(report.events, 3)
  assert.deepEqual(d.identifiers.email, { repaired: 1, prehashed: 1, rejected: 1 })
  assert.deepEqual(d.identifiers.phone, { repaired: 1, empty: 1, rejected: 1 })
  assert.equal(d.changes.add, 2)
  assert.equal(Object.values(d.failed).reduce((a, b) => a + b, 0), 1, 'the event with nothing usable fails, with the reasons')
  assert.match(Object.keys(d.failed)[0], /rejected/)
  assert.equal(d.requests[0].rows, 2)
  assert.equal(d.requests[0].requests, 1)
  assert.equal(d.requests[0].sample.batch_data[0][0].id, sha256('ann@example.com'))
  assert.equal(d.requests[0].sample.batch_data[0][1].id, sha256('+14155550101'))
  assert.equal(d.requests[0].sample.batch_data[1][0].id, sha256('bob@example.com'), 'pre-hashed, lowercased, not hashed twice')
})
