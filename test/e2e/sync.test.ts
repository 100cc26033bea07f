/** `tiktok-audiences sync`: mirror sync of a full member list sends only the difference to the last sync. */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { runCli } from '../helpers/cli.js'
import { sha256 } from '../helpers/events.js'

let emu: RunningEmulator
before(async () => {
  emu = await startEmulator({ log: false })
})
after(async () => emu.close())

test('mirror sync: adds what is new, removes what is gone, sends nothing when nothing changed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-sync-'))
  const cfg = join(dir, 'c.yaml')
  writeFileSync(
    cfg,
    `
destinations:
  - name: tiktok
    mode: native
    normalization: recommended
    defaultPhoneRegion: US
    accessToken: emulator-access-token
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_advertising_id: false } }
    audiences:
      - { key: crm_list, name: CRM list, advertiserId: "7000000000000000001" }
delivery: { windowMs: 10 }
`
  )
  const db = `sqlite:${join(dir, 'state.db')}`
  const env = { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '' }
  const sync = (file: string) => runCli(['sync', '--config', cfg, '--destination', 'tiktok', '--audience', 'crm_list', '--members', file, '--db', db], { env })
  const members = async () => {
    const auds = ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] }).audiences
    const id = auds.find((a) => a.name === 'CRM list')!.audience_id
    return ((await (await fetch(`${emu.url}/_emulator/audiences/${id}/members`)).json()) as { members: Record<string, string[]> }).members
  }

  const first = join(dir, 'first.csv')
  writeFileSync(first, 'name,email,phone\nAnn,ann@example.com,(415) 555-0101\nBob,bob@example.com,\nCat,,415-555-0103\nDan,dan@example.com,(415) 555-0104\n')
  const r1 = await sync(first)
  assert.equal(r1.code, 0, r1.stderr)
  assert.equal(r1.summary?.added, 4)
  assert.equal(r1.summary?.removed, 0)
  let m = await members()
  assert.deepEqual(m.EMAIL_SHA256, ['ann@example.com', 'bob@example.com', 'dan@example.com'].map(sha256).sort())
  assert.deepEqual(m.PHONE_SHA256, ['+14155550101', '+14155550103', '+14155550104'].map(sha256).sort())

  // Bob left, Eve joined, Dan changed phone: Dan's old row is removed before his new row is added.
  const second = join(dir, 'second.ndjson')
  writeFileSync(
    second,
    [
      { email: 'ann@example.com', phone: '(415) 555-0101' },
      { phone: '415-555-0103' },
      { email: 'dan@example.com', phone: '(415) 555-0199' },
      { email: 'eve@example.com' },
      { email: '', phone: '' }
    ]
      .map((x) => JSON.stringify(x))
      .join('\n') + '\n'
  )
  const r2 = await sync(second)
  assert.equal(r2.code, 1, 'an unusable row is reported')
  assert.match(r2.stderr, /second\.ndjson:5: needs at least one of email, phone, advertising_id/)
  assert.equal(r2.summary?.added, 2)
  assert.equal(r2.summary?.removed, 2)
  assert.equal(r2.summary?.unchanged, 2)
  m = await members()
  assert.deepEqual(m.EMAIL_SHA256, ['ann@example.com', 'dan@example.com', 'eve@example.com'].map(sha256).sort())
  assert.deepEqual(m.PHONE_SHA256, ['+14155550101', '+14155550103', '+14155550199'].map(sha256).sort())

  const again = join(dir, 'again.ndjson')
  writeFileSync(
    again,
    [
      '{"email":"ann@example.com","phone":"(415) 555-0101"}',
      '{"phone":"415-555-0103"}',
      '{"email":"dan@example.com","phone":"(415) 555-0199"}',
      '{"email":"eve@example.com"}'
    ].join('\n')
  )
  const r3 = await sync(again)
  assert.equal(r3.code, 0, r3.stderr)
  assert.equal(r3.summary?.added, 0)
  assert.equal(r3.summary?.removed, 0)
  assert.equal(r3.summary?.requests, 0, 'nothing changed, nothing sent')
})
