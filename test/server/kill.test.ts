/**
 * The service killed mid-stream: a client posts /v1/batch continuously, the server gets SIGKILL,
 * restarts on the same SQLite database, and every event that was answered 200 reaches TikTok.
 * The emulator runs in this test process so that TikTok's state outlives the server.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { audienceEvent, sha256 } from '../helpers/events.js'
import { emuAudiences, emuFaults, emuMembers, emuRequests, waitFor } from '../helpers/emu-control.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const WK = 'wk_kill'
const dir = mkdtempSync(join(tmpdir(), 'tta-serve-kill-'))
after(async () => {
  await stopAllServes()
  rmSync(dir, { recursive: true, force: true })
})

test('SIGKILL while clients post batches: after a restart on the same database every acknowledged event is a member', async () => {
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
    batchSize: 100
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: killed, name: Killed mid-stream, advertiserId: "7000000000000000001" }
delivery: { windowMs: 20, retryBaseMs: 50 }
`
    )
    const env = { DATABASE_URL: `sqlite:${join(dir, 'queue.db')}`, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: 'kill-test' }
    // TikTok is slow, so that the kill finds a backlog of acknowledged but undelivered events.
    await emuFaults(emu.url, [{ path: '/segment/mapping/', latencyMs: 150 }])
    const first = await startServe(['--config', config], env)

    const acked = new Set<number>()
    const attempted = new Set<number>()
    let next = 0
    let stop = false
    let refusedAfterKill = 0
    const PER_BATCH = 40
    const client = (async () => {
      while (!stop) {
        const ids = Array.from({ length: PER_BATCH }, () => next++)
        for (const i of ids) attempted.add(i)
        const body = JSON.stringify({
          batch: ids.map((i) => audienceEvent({ userId: `k${i}`, email: `k${i}@kill.example.com` }, 'killed', true, { messageId: `kill-${i}` }))
        })
        try {
          const r = await fetch(`${first.url}/v1/batch`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}` },
            body
          })
          if (r.status === 200) for (const i of ids) acked.add(i)
          else refusedAfterKill++
        } catch {
          refusedAfterKill++ // connection refused/reset: the server is gone; not acknowledged
          if (refusedAfterKill > 3) return
        }
      }
    })()

    // Kill once TikTok has taken a few requests and plenty more is acknowledged than delivered.
    const ready = await waitFor(async () => (await emuRequests(emu.url)).filter((r) => r.code === 0).length >= 2 && acked.size >= 800, 20_000, 20)
    assert.ok(ready, `the stream got going (acked ${acked.size})`)
    await first.stop('SIGKILL')
    const ackedAtKill = acked.size
    stop = true
    await client
    assert.equal(acked.size, ackedAtKill, 'nothing was acknowledged after the kill')
    const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'Killed mid-stream')!
    const before = new Set((await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256)
    const expected = new Set([...acked].map((i) => sha256(`k${i}@kill.example.com`)))
    assert.ok(before.size < expected.size, `the kill left acknowledged events undelivered (${before.size} of ${expected.size} delivered)`)

    await emuFaults(emu.url, [])
    const second = await startServe(['--config', config], env)
    let members = new Set<string>()
    const done = await waitFor(
      async () => {
        members = new Set((await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256)
        return [...expected].every((h) => members.has(h))
      },
      30_000,
      100
    )
    const missing = [...expected].filter((h) => !members.has(h)).length
    assert.ok(done, `${missing} of ${expected.size} acknowledged events never reached TikTok`)
    const attemptedHashes = new Set([...attempted].map((i) => sha256(`k${i}@kill.example.com`)))
    assert.deepEqual(
      [...members].filter((h) => !attemptedHashes.has(h)),
      [],
      'no member that was never sent'
    )
    // The restart re-applied the config without creating a second audience (the connection keeps its id).
    assert.equal((await emuAudiences(emu.url)).filter((a) => a.name === 'Killed mid-stream').length, 1)
    const health = await fetch(`${second.url}/healthz`)
    assert.equal(health.status, 200)
    await second.stop('SIGTERM')
  } finally {
    await emu.close()
  }
})
