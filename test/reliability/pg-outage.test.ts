/**
 * PostgreSQL stopped under load (issue 21 item 1): `serve` runs on a cluster of this test's own
 * while 8 clients post /v1/batch; the cluster is stopped with `-m fast` (57P01 to every connection)
 * and started again. The process must stay up, answer 503 with Retry-After while the database is
 * down (ingestion, admin API, /healthz), resume by itself, and deliver every acknowledged event.
 * The emulator runs in this process, so TikTok's state is read directly.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuFaults, emuMembers, emuRequests, sleep, waitFor } from '../helpers/emu-control.js'
import { clusterSkipReason, startPgCluster, type PgCluster } from '../helpers/pg-cluster.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const WK = 'wk_pgdown'
const ADMIN = 'pg-outage-test'
const CLIENTS = 8
const PER_BATCH = 50
const skip = clusterSkipReason()
const dir = mkdtempSync(join(tmpdir(), 'tta-pg-outage-'))
let cluster: PgCluster | undefined
after(async () => {
  await stopAllServes()
  await cluster?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

interface Attempt {
  start: number
  end: number
  status: number | 'error'
  retryAfter: string | null
  ids: number[]
}

test(
  'PostgreSQL stopped under load: serve stays up, answers 503 + Retry-After, recovers and delivers every acknowledged event',
  { skip, timeout: 180_000 },
  async (t) => {
    cluster = await startPgCluster()
    await cluster.createDatabase('tta')
    const emu = await startEmulator({ log: false, qps: 0 })
    try {
      const config = join(dir, 'config.yaml')
      writeFileSync(
        config,
        `
sources:
  - { name: engage, writeKey: ${WK} }
destinations:
  - name: tiktok
    source: engage
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    batchSize: 200
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: pgdown, name: PostgreSQL outage, advertiserId: "7000000000000000001" }
delivery: { windowMs: 20, retryBaseMs: 50 }
`
      )
      // TikTok a little slow, so that requests are in flight and a backlog is queued when the database stops.
      await emuFaults(emu.url, [{ path: '/segment/mapping/', latencyMs: 40 }])
      const serve = await startServe(['--config', config], {
        DATABASE_URL: cluster.url('tta'),
        TIKTOK_API_URL: emu.apiUrl,
        ADMIN_PASSWORD: ADMIN,
        TTA_LEASE_MS: '60000'
      })
      const alive = () => serve.child.exitCode === null && serve.child.signalCode === null
      const auth = `Basic ${Buffer.from(`${WK}:`).toString('base64')}`

      const attempts: Attempt[] = []
      let next = 0
      let stop = false
      const client = async () => {
        while (!stop) {
          const ids = Array.from({ length: PER_BATCH }, () => next++)
          const body = JSON.stringify({
            batch: ids.map((i) => audienceEvent({ userId: `p${i}`, email: `p${i}@pgdown.example.com` }, 'pgdown', true, { messageId: `pgdown-${i}` }))
          })
          const start = Date.now()
          try {
            const r = await fetch(`${serve.url}/v1/batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: auth },
              body,
              signal: AbortSignal.timeout(20_000)
            })
            await r.arrayBuffer()
            attempts.push({ start, end: Date.now(), status: r.status, retryAfter: r.headers.get('retry-after'), ids })
          } catch {
            attempts.push({ start, end: Date.now(), status: 'error', retryAfter: null, ids })
          }
          await sleep(10)
        }
      }
      const clients = Array.from({ length: CLIENTS }, client)
      // However this test ends, the clients stop (or they would keep the test process alive).
      t.after(async () => {
        stop = true
        await Promise.all(clients)
      })
      const acked = () => attempts.filter((a) => a.status === 200).flatMap((a) => a.ids)

      const warmed = await waitFor(async () => acked().length >= 3000 && (await emuRequests(emu.url)).filter((r) => r.code === 0).length >= 3, 60_000, 50)
      assert.ok(warmed, `the load got going (acked ${acked().length})\n${serve.output()}`)

      const rowsOf = (rs: { code: number | null; body: unknown }[]) =>
        rs.filter((r) => r.code === 0).reduce((n, r) => n + ((r.body as { batch_data?: unknown[] }).batch_data?.length ?? 0), 0)
      const stopAt = Date.now()
      await cluster.stop('fast')
      const stoppedAt = Date.now()
      // The outage: long enough for every loop and connection to notice.
      await sleep(1500)
      assert.ok(alive(), `serve is still running with the database down:\n${serve.output()}`)
      const health = await fetch(`${serve.url}/healthz`)
      const healthRetryAfter = health.headers.get('retry-after')
      assert.equal(health.status, 503, `/healthz while the database is down: ${await health.text()}`)
      assert.ok(healthRetryAfter, '/healthz 503 carries Retry-After')
      const stats = await fetch(`${serve.url}/api/stats`, { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` } })
      assert.equal(stats.status, 503, `admin API while the database is down: ${await stats.text()}`)
      assert.ok(stats.headers.get('retry-after'), 'admin API 503 carries Retry-After')
      await sleep(1500)
      assert.ok(alive(), `serve is still running with the database down:\n${serve.output()}`)

      const restartAt = Date.now()
      await cluster.start()
      const restartedAt = Date.now()
      const healthy = await waitFor(async () => (await fetch(`${serve.url}/healthz`)).status === 200, 15_000, 100)
      assert.ok(healthy, `/healthz is 200 again after the database is back\n${serve.output()}`)
      const healthyAt = Date.now()
      const resumed = await waitFor(async () => attempts.some((a) => a.start > restartedAt && a.status === 200), 15_000, 50)
      assert.ok(resumed, 'ingestion answers 200 again after the database is back')
      const resumedAt = attempts.filter((a) => a.start > restartedAt && a.status === 200).reduce((m, a) => Math.min(m, a.end), Infinity)
      await sleep(1000)
      stop = true
      await Promise.all(clients)
      assert.ok(alive(), `serve is still running after the outage:\n${serve.output()}`)

      // Never a 500, a hang or a dropped connection: only 200, or 503 with Retry-After.
      const odd = attempts.filter((a) => a.status !== 200 && a.status !== 503)
      assert.deepEqual(
        odd.map((a) => a.status),
        [],
        `answers other than 200/503\n${serve.output().slice(-3000)}`
      )
      const refused = attempts.filter((a) => a.status === 503)
      assert.ok(refused.length > 0, 'some requests were refused while the database was down')
      assert.deepEqual(refused.filter((a) => !a.retryAfter).length, 0, 'every 503 carries Retry-After')
      // Requests sent while the database was fully down: all 503, each answered within ~2 s.
      const duringOutage = attempts.filter((a) => a.start >= stoppedAt && a.end <= restartAt)
      assert.ok(duringOutage.length > 0)
      assert.deepEqual(
        duringOutage.filter((a) => a.status !== 503).map((a) => a.status),
        [],
        'requests during the outage are refused'
      )
      const slowest = Math.max(...duringOutage.map((a) => a.end - a.start))
      assert.ok(slowest <= 2500, `every request during the outage was answered within 2.5 s (slowest ${slowest} ms)`)
      const first503 = Math.min(...refused.map((a) => a.end)) - stopAt

      // Every acknowledged event reaches TikTok.
      await emuFaults(emu.url, [])
      const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'PostgreSQL outage')!
      const expected = new Set(acked().map((i) => sha256(`p${i}@pgdown.example.com`)))
      let members = new Set<string>()
      const deliveredAll = await waitFor(
        async () => {
          members = new Set((await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256)
          return [...expected].every((h) => members.has(h))
        },
        45_000,
        200
      )
      const deliveredAt = Date.now()
      const missing = [...expected].filter((h) => !members.has(h)).length
      assert.ok(deliveredAll, `${missing} of ${expected.size} acknowledged events never reached TikTok\n${serve.output().slice(-3000)}`)

      const requests = (await emuRequests(emu.url)).filter((r) => r.code === 0)
      const rowsSent = rowsOf(requests)
      const statsAfter = (await (
        await fetch(`${serve.url}/api/stats`, { headers: { authorization: `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}` } })
      ).json()) as Record<string, number>
      assert.equal(statsAfter.failed, 0, 'no change failed because of the database')
      // Sent again: only what was in flight when the database stopped (one request per delivery loop).
      assert.ok(rowsSent - members.size <= 4 * 200, `re-sent rows ${rowsSent - members.size}: more than the requests in flight at the stop`)
      assert.ok(alive())

      const figures = {
        acked: expected.size,
        delivered: [...expected].filter((h) => members.has(h)).length,
        refused503: refused.length,
        requestsDuringOutage: duringOutage.length,
        firstRefusalAfterStopMs: first503,
        slowestOutageAnswerMs: slowest,
        pgStopMs: stoppedAt - stopAt,
        healthyAfterRestartMs: healthyAt - restartedAt,
        ingestionAfterRestartMs: resumedAt - restartedAt,
        allDeliveredAfterRestartMs: deliveredAt - restartedAt,
        rowsSentToTikTok: rowsSent,
        reAdds: rowsSent - members.size,
        logRequests: requests.length
      }
      t.diagnostic(JSON.stringify(figures))
      await serve.stop('SIGTERM')
    } finally {
      await emu.close()
    }
  }
)
