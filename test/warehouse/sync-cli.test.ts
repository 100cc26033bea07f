/**
 * `tiktok-audiences sync --source NAME` against the real PostgreSQL server: a table is mirrored
 * exactly, a second run after churn sends exactly the difference, and a failing query or one
 * without an identifier column fails the run with the reason and leaves the audience untouched.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import Database from 'better-sqlite3'
import { startEmulator } from '../../src/emulator/index.js'
import { at } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuMembers, emuRequests } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'
import { createCustomers, customerEmail, insertCustomers, warehouseConfig } from './helpers.js'

const skip = await pgSkipReason()
after(() => dropAllPgDatabases())

test(
  'sync --source: mirrors the query exactly, then only the churn; a failing or identifier-less query fails the run and changes nothing',
  { skip, timeout: 240_000 },
  async () => {
    const warehouse = await createPgDatabase()
    const emu = await startEmulator({ log: false })
    const dir = mkdtempSync(join(tmpdir(), 'tta-warehouse-cli-'))
    try {
      const first = Array.from({ length: 6000 }, (_, i) => i + 1)
      await createCustomers(warehouse, first)
      const cfg = join(dir, 'config.json')
      const serviceDb = join(dir, 'service.db')
      const sync = async (query: string) => {
        writeFileSync(cfg, warehouseConfig({ url: warehouse.url, query }))
        return runCli(['sync', '--config', cfg, '--source', 'warehouse', '--db', `sqlite:${serviceDb}`], {
          env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', SECRET_KEY: 'warehouse-cli-test-key' },
          timeoutMs: 120_000
        })
      }
      const members = async () => {
        const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'VIP customers')!
        const m = await emuMembers(emu.url, audience.audience_id)
        return { EMAIL_SHA256: m.EMAIL_SHA256 ?? [], PHONE_SHA256: m.PHONE_SHA256 ?? [] }
      }
      const expected = (ids: number[]) => ({
        EMAIL_SHA256: ids.map((i) => sha256(customerEmail(i))).sort(),
        PHONE_SHA256: ids
          .filter((i) => i % 2 === 0)
          .map((i) => sha256(`+1415${String(i).padStart(7, '0')}`))
          .sort()
      })
      const QUERY = 'SELECT email, phone FROM crm.customers WHERE active;'

      const r1 = await sync(QUERY)
      assert.equal(r1.code, 0, r1.stderr)
      assert.deepEqual([r1.summary?.rows, r1.summary?.added, r1.summary?.removed, r1.summary?.failed], [6000, 6000, 0, 0])
      assert.deepEqual(await members(), expected(first))

      // Churn: 5% leave, 300 join, 18 change phone (the active even ids 102…138) (a changed member is removed, then re-added).
      await warehouse.query('UPDATE crm.customers SET active = false WHERE id % 20 = 0')
      await insertCustomers(
        warehouse,
        Array.from({ length: 300 }, (_, i) => 7001 + i)
      )
      await warehouse.query(`UPDATE crm.customers SET phone = '+1650' || lpad(id::text, 7, '0') WHERE id BETWEEN 101 AND 139 AND id % 2 = 0 AND active`)
      const r2 = await sync(QUERY)
      assert.equal(r2.code, 0, r2.stderr)
      const second = (await warehouse.query<{ id: number }>('SELECT id FROM crm.customers WHERE active ORDER BY id')).map((r) => r.id)
      assert.equal(second.length, 6000 - 300 + 300)
      assert.deepEqual([r2.summary?.added, r2.summary?.removed, r2.summary?.unchanged], [318, 318, 5682], 'exactly the churned rows')
      const m2 = await members()
      assert.deepEqual(m2.EMAIL_SHA256, expected(second).EMAIL_SHA256)
      const phones = (await warehouse.query<{ phone: string }>('SELECT phone FROM crm.customers WHERE active AND phone IS NOT NULL'))
        .map((r) => sha256(r.phone))
        .sort()
      assert.deepEqual(m2.PHONE_SHA256, phones)

      // The audience is untouched by a run that fails: no TikTok request, the same members.
      const requestsBefore = (await emuRequests(emu.url)).length
      const failing = await sync('SELECT email FROM crm.no_such_table')
      assert.equal(failing.code, 1)
      assert.match(failing.stderr, /warehouse: the query failed: relation "crm\.no_such_table" does not exist/)
      assert.equal(failing.summary?.status as unknown, 'failed')
      const noIds = await sync('SELECT id, region FROM crm.customers')
      assert.equal(noIds.code, 1)
      assert.match(noIds.stderr, /the query returned none of the columns email, phone, advertising_id \(it returned: id, region\)/)
      // An error met while the rows stream (division by zero at one row) fails the run just the same.
      const midway = await sync('SELECT email, (1 / (id - 5000))::text AS phone FROM crm.customers ORDER BY id')
      assert.equal(midway.code, 1)
      assert.match(midway.stderr, /the query failed: division by zero/)
      assert.equal((await emuRequests(emu.url)).length, requestsBefore, 'no request reached TikTok')
      assert.deepEqual(await members(), m2)

      // Every run is recorded with its figures and reason.
      const db = new Database(serviceDb, { readonly: true })
      const runs = db.prepare('SELECT status, started_by, rows_read, added, removed, failed, error FROM sync_runs ORDER BY id').all() as Record<
        string,
        unknown
      >[]
      db.close()
      assert.deepEqual(
        runs.map((r) => [r.status, r.started_by, r.rows_read, r.added, r.removed]),
        [
          ['succeeded', 'cli', 6000, 6000, 0],
          ['succeeded', 'cli', 6000, 318, 318],
          ['failed', 'cli', 0, 0, 0],
          ['failed', 'cli', 0, 0, 0],
          ['failed', 'cli', 0, 0, 0]
        ]
      )
      assert.match(String(at(runs, 2).error), /relation "crm\.no_such_table" does not exist/)
      assert.match(String(at(runs, 3).error), /it returned: id, region/)

      // The mirror of the second list is the synced state the next run compares with.
      const again = await sync(QUERY)
      assert.equal(again.code, 0, again.stderr)
      assert.deepEqual([again.summary?.added, again.summary?.removed, again.summary?.unchanged], [0, 0, 6000])
    } finally {
      await emu.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
)

test('sync --source: an unknown source, or --source with --members, is refused with exit 2 / a message', { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-warehouse-cli-'))
  try {
    const cfg = join(dir, 'config.json')
    writeFileSync(cfg, warehouseConfig({ url: 'postgres://127.0.0.1:1/none', query: 'SELECT email FROM t' }))
    const env = { TIKTOK_API_URL: 'http://127.0.0.1:9/open_api', DATABASE_URL: '', SECRET_KEY: 'k' }
    const unknown = await runCli(['sync', '--config', cfg, '--source', 'nope', '--db', `sqlite:${join(dir, 's.db')}`], { env })
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /--source: no warehouse source \(kind: postgres\) named "nope" in the database \(known: warehouse\)/)
    const both = await runCli(['sync', '--config', cfg, '--source', 'warehouse', '--members', 'x.csv'], { env })
    assert.equal(both.code, 1)
    assert.match(both.stderr, /--source runs a warehouse source; it takes no --members/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
