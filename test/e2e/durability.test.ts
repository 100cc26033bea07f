/**
 * Durability: an event the pipeline accepted survives `SIGKILL` and is delivered by the next run
 * on the same database.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'

let emu: RunningEmulator
before(async () => {
  emu = await startEmulator({ log: false })
})
after(async () => emu.close())

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('send killed with SIGKILL mid-delivery: the next run on the same database delivers every accepted event', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-kill-'))
  const dbFile = join(dir, 'queue.db')
  const N = 3000
  const events = Array.from({ length: N }, (_, i) =>
    audienceEvent({ userId: `k${i}`, email: `kill${i}@example.com` }, 'durable', true, { messageId: `kill-${i}` })
  )
  writeFileSync(join(dir, 'events.ndjson'), ndjson(events))
  writeFileSync(
    join(dir, 'config.yaml'),
    `
destinations:
  - name: tiktok
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    batchSize: 50
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
      - { key: durable, name: Durable, advertiserId: "7000000000000000001" }
delivery: { windowMs: 10, retryBaseMs: 20, concurrency: 1 }
`
  )
  // Slow TikTok down so that the kill lands while most of the queue is still undelivered.
  await fetch(`${emu.url}/_emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rules: [{ path: '/segment/mapping/', latencyMs: 150 }] })
  })
  const env = { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '' }
  const args = ['send', '--config', join(dir, 'config.yaml'), '--events', join(dir, 'events.ndjson'), '--db', `sqlite:${dbFile}`]
  const child = spawnCli(args, env)
  child.stdin!.end()
  let killedAfterDelivered = 0
  for (let waited = 0; waited < 20_000; waited += 100) {
    await sleep(100)
    const r = await fetch(`${emu.url}/_emulator/requests?path=/segment/mapping/`)
    const delivered = ((await r.json()) as { requests: { code: number }[] }).requests.filter((q) => q.code === 0).length
    if (delivered >= 3) {
      killedAfterDelivered = delivered
      break
    }
  }
  child.kill('SIGKILL')
  await new Promise((r) => child.once('close', r))
  assert.ok(killedAfterDelivered >= 3, 'the run was delivering when it was killed')

  const db = new Database(dbFile, { readonly: true })
  const accepted = (db.prepare('SELECT message_id FROM events').all() as { message_id: string }[]).map((r) => r.message_id)
  const undelivered = (db.prepare('SELECT COALESCE(SUM(open), 0) AS n FROM queue_packs').get() as { n: number }).n
  db.close()
  assert.ok(accepted.length > 0, 'some events were accepted before the kill')
  assert.ok(undelivered > 0 || accepted.length < N, 'the kill left work behind')

  await fetch(`${emu.url}/_emulator/faults`, { method: 'DELETE' })
  const rerun = await runCli(['send', '--config', join(dir, 'config.yaml'), '--events', '-', '--db', `sqlite:${dbFile}`], { env })
  assert.equal(rerun.code, 0, rerun.stderr)

  const auds = ((await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] }).audiences
  const aud = auds.find((a) => a.name === 'Durable')!
  const members = ((await (await fetch(`${emu.url}/_emulator/audiences/${aud.audience_id}/members`)).json()) as { members: Record<string, string[]> }).members
  const expected = accepted.map((id) => sha256(`kill${id.slice('kill-'.length)}@example.com`)).sort()
  assert.deepEqual(members.EMAIL_SHA256, expected, `all ${accepted.length} accepted events are members`)
  assert.equal(auds.filter((a) => a.name === 'Durable').length, 1, 'the rerun reused the audience')
})
