/**
 * `serve` runs warehouse syncs on their schedule: the schedule fires (a short interval here), a
 * run overlapping one still going is skipped and says so, and two serve processes on one
 * PostgreSQL database fire each slot once.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { at } from '../../src/util/array.js'
import { emuAudiences, emuMembers, waitFor } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'
import { startServe, stopAllServes } from '../helpers/serve.js'
import { createCustomers, customerEmail, insertCustomers, warehouseConfig } from './helpers.js'

const skip = await pgSkipReason()
after(async () => {
  await stopAllServes()
  await dropAllPgDatabases()
})

const PASSWORD = 'warehouse-schedule-password'
const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }

interface Run {
  id: number
  status: string
  startedBy: string
  rowsRead: number
  added: number
  removed: number
  error: string | null
  startedAt: number
}
interface Sync {
  name: string
  running: boolean
  lastRun: Run | null
  runs: Run[]
}
const syncs = async (url: string) => (await (await fetch(`${url}/api/syncs`, { headers: auth })).json()) as Sync[]

test(
  'the schedule fires every interval and mirrors the table as it changes; Run now while a run is going is skipped and says so',
  { skip, timeout: 120_000 },
  async () => {
    const warehouse = await createPgDatabase()
    const emu = await startEmulator({ log: false })
    const dir = mkdtempSync(join(tmpdir(), 'tta-warehouse-schedule-'))
    try {
      await createCustomers(warehouse, [1, 2, 3])
      const cfg = join(dir, 'config.json')
      // pg_sleep makes each run last about a second: long enough to overlap a Run now.
      writeFileSync(cfg, warehouseConfig({ url: warehouse.url, query: 'SELECT email FROM crm.customers CROSS JOIN pg_sleep(1) WHERE active', every: '3s' }))
      const serve = await startServe(['--config', cfg], {
        DATABASE_URL: `sqlite:${join(dir, 'service.db')}`,
        TIKTOK_API_URL: emu.apiUrl,
        ADMIN_PASSWORD: PASSWORD,
        SECRET_KEY: 'schedule-test-key',
        TTA_SYNC_TICK_MS: '100'
      })
      const emails = async () => {
        const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'VIP customers')
        return audience ? ((await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256 ?? []) : []
      }
      const expected = (ids: number[]) => ids.map((i) => sha256(customerEmail(i))).sort()

      // A new sync runs at once, then every 3 s.
      assert.ok(await waitFor(async () => (await syncs(serve.url))[0]?.lastRun?.status === 'succeeded', 20_000), serve.output())
      assert.deepEqual(await emails(), expected([1, 2, 3]))
      await insertCustomers(warehouse, [4, 5])
      await warehouse.query('UPDATE crm.customers SET active = false WHERE id = 1')
      assert.ok(await waitFor(async () => at(await syncs(serve.url), 0).runs.filter((r) => r.status === 'succeeded').length >= 2, 20_000), serve.output())
      assert.ok(
        await waitFor(async () => JSON.stringify(await emails()) === JSON.stringify(expected([2, 3, 4, 5])), 10_000),
        'the next scheduled run sent the change'
      )
      const scheduled = at(await syncs(serve.url), 0).runs.filter((r) => r.startedBy === 'schedule' && r.status !== 'skipped')
      const second = scheduled.find((r) => r.added === 2)!
      assert.deepEqual([second.rowsRead, second.added, second.removed], [4, 2, 1])
      const gap = at(scheduled, 0).startedAt - at(scheduled, 1).startedAt
      assert.ok(gap >= 2500 && gap < 6000, `runs are an interval apart (${gap} ms)`)

      // Run now twice: the first starts (202), the second overlaps it and is skipped (409), recorded.
      let first: Response
      for (;;) {
        // Not while the scheduled run is going (that would skip this one instead).
        if (!at(await syncs(serve.url), 0).running) {
          first = await fetch(`${serve.url}/api/syncs/warehouse/run`, { method: 'POST', headers: auth })
          if (first.status === 202) break
        }
        await new Promise((r) => setTimeout(r, 50))
      }
      const overlapping = await fetch(`${serve.url}/api/syncs/warehouse/run`, { method: 'POST', headers: auth })
      assert.equal(overlapping.status, 409)
      const body = (await overlapping.json()) as { error: string; run: Run }
      assert.equal(body.error, 'skipped: the previous run is still going')
      assert.equal(body.run.status, 'skipped')
      const started = ((await first.json()) as { run: Run }).run
      assert.equal(started.status, 'running')
      assert.ok(await waitFor(async () => at(await syncs(serve.url), 0).runs.find((r) => r.id === started.id)?.status === 'succeeded', 20_000))
      const runs = at(await syncs(serve.url), 0).runs
      assert.equal(runs.find((r) => r.id === body.run.id)?.error, 'skipped: the previous run is still going')
      assert.match(serve.output(), /"startedBy":"console","msg":"warehouse sync \\"warehouse\\" skipped: the previous run is still going"/)

      const unknown = await fetch(`${serve.url}/api/syncs/nope/run`, { method: 'POST', headers: auth })
      assert.equal(unknown.status, 404)
      assert.match(((await unknown.json()) as { error: string }).error, /no warehouse sync named "nope"/)
      await serve.stop('SIGTERM')
    } finally {
      await emu.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
)

test('two serve processes on one PostgreSQL database run each scheduled slot once', { skip, timeout: 120_000 }, async () => {
  const warehouse = await createPgDatabase()
  const service = await createPgDatabase()
  const emu = await startEmulator({ log: false })
  const dir = mkdtempSync(join(tmpdir(), 'tta-warehouse-pg-'))
  try {
    await createCustomers(
      warehouse,
      Array.from({ length: 50 }, (_, i) => i + 1)
    )
    const cfg = join(dir, 'config.json')
    writeFileSync(cfg, warehouseConfig({ url: warehouse.url, query: 'SELECT email, phone FROM crm.customers', every: '2s' }))
    const env = { DATABASE_URL: service.url, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: PASSWORD, SECRET_KEY: 'two-serves-key', TTA_SYNC_TICK_MS: '50' }
    const [a, b] = await Promise.all([startServe(['--config', cfg], env), startServe(['--config', cfg], env)])
    const startedAt = Date.now()
    await new Promise((r) => setTimeout(r, 9000))
    await Promise.all([a.stop('SIGTERM'), b.stop('SIGTERM')])
    const elapsed = Date.now() - startedAt
    const runs = await service.query<{ status: string; started_at: string; added: string }>(
      `SELECT status, started_at, added FROM sync_runs WHERE started_by = 'schedule' ORDER BY started_at`
    )
    assert.ok(runs.length >= 3, `the schedule fired (${runs.length} runs)`)
    assert.ok(runs.length <= Math.ceil(elapsed / 2000) + 2, `no slot fired twice: ${runs.length} runs in ${elapsed} ms of 2 s slots`)
    assert.deepEqual(
      runs.map((r) => r.status).filter((s) => s === 'skipped'),
      [],
      'no run overlapped another'
    )
    for (let i = 1; i < runs.length; i++)
      assert.ok(Number(at(runs, i).started_at) - Number(at(runs, i - 1).started_at) >= 1500, `runs ${i - 1} and ${i} are a slot apart`)
    assert.deepEqual(
      runs.map((r) => Number(r.added)),
      [50, ...runs.slice(1).map(() => 0)],
      'the first run added the table, the others found nothing new'
    )
    const audience = (await emuAudiences(emu.url)).find((x) => x.name === 'VIP customers')!
    assert.equal((await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256?.length, 50)
  } finally {
    await emu.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
