/**
 * Mirror sync on PostgreSQL: the synced list is read back in key order a page at a time and merged
 * with the new list sorted in JavaScript, so both must order keys alike (checked by the merge).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { at } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

test('mirror sync on PostgreSQL: 12,000 members (pages of the synced list), then 10% churn: exactly the new list', { skip, timeout: 180_000 }, async () => {
  const pg = await createPgDatabase()
  const emu = await startEmulator({ log: false })
  const dir = mkdtempSync(join(tmpdir(), 'tta-pg-sync-'))
  try {
    const cfg = join(dir, 'c.yaml')
    writeFileSync(
      cfg,
      `
destinations:
  - name: tiktok
    mode: native
    accessToken: emulator-access-token
    mappings:
      - { name: Add, action: addToAudience }
      - { name: Remove, action: removeFromAudience }
    audiences:
      - { key: crm_list, name: CRM list, advertiserId: "7000000000000000001" }
delivery: { windowMs: 10 }
`
    )
    const email = (i: number) => `pg-member${i}@example.com`
    const sync = async (name: string, ids: number[]) => {
      const file = join(dir, name)
      writeFileSync(file, 'email\n' + ids.map(email).join('\n') + '\n')
      return runCli(['sync', '--config', cfg, '--destination', 'tiktok', '--audience', 'crm_list', '--members', file, '--db', pg.url], {
        env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', SECRET_KEY: 'pg-sync-test-key' },
        timeoutMs: 120_000
      })
    }
    const members = async () => {
      const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'CRM list')!
      return (await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256 ?? []
    }
    const first = Array.from({ length: 12_000 }, (_, i) => i)
    const r1 = await sync('first.csv', first)
    assert.equal(r1.code, 0, r1.stderr)
    assert.deepEqual([r1.summary?.added, r1.summary?.removed], [12_000, 0])
    assert.deepEqual(await members(), first.map((i) => sha256(email(i))).sort())

    const second = [...first.filter((i) => i % 10 !== 0), ...Array.from({ length: 1200 }, (_, i) => 12_000 + i)]
    const r2 = await sync('second.csv', second)
    assert.equal(r2.code, 0, r2.stderr)
    assert.deepEqual([r2.summary?.added, r2.summary?.removed, r2.summary?.unchanged], [1200, 1200, 10_800])
    assert.deepEqual(await members(), second.map((i) => sha256(email(i))).sort())
    const synced = await pg.query<{ n: string }>('SELECT count(*) AS n FROM mirror_members')
    assert.equal(Number(at(synced, 0).n), 12_000, 'the synced state is the new list')
  } finally {
    await emu.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
