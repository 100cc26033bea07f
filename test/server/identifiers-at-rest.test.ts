/**
 * Identifiers at rest (issue 21 item 6), as an operator would check it: `serve` on SQLite with TikTok
 * failing some requests (permanently and transiently) and some events failing at routing, so that
 * dead letters and failure samples are kept; then every file of the data folder (database, -wal,
 * -shm) and everything the process printed (LOG_LEVEL=debug) is searched for the raw emails and
 * phone numbers sent — none may be there. Event Delivery's samples are checked the same way.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator } from '../../src/emulator/index.js'
import { audienceEvent } from '../helpers/events.js'
import { emuFaults } from '../helpers/emu-control.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const WK = 'wk_at_rest'
const PASSWORD = 'at-rest-test'
const dir = mkdtempSync(join(tmpdir(), 'tta-at-rest-'))
after(async () => {
  await stopAllServes()
  rmSync(dir, { recursive: true, force: true })
})

/** Delivered or dead-lettered at TikTok: valid identifiers, a userId that is an email, phones in text. */
const delivered = (i: number) => {
  // messageIds as Engage makes them (the helper's default embeds the userId; a messageId is stored as sent).
  const e = audienceEvent({ userId: `zq.alpha.${i}@example.com`, email: `zq.trait.${i}@example.com`, phone: `+1415555010${i}` }, 'rest', true, {
    messageId: `personas_rest_d${i}`
  }) as any
  e.anonymousId = `+1415555011${i}`
  return e
}
/** Fails at routing (no usable identifier): its redacted sample is kept. */
const failing = (i: number) => {
  const e = audienceEvent({ userId: `zq.fail.${i}@example.com`, email: `zq-bad-${i}`, phone: '12' }, 'rest', true, { messageId: `personas_rest_f${i}` }) as any
  e.anonymousId = `+1415555019${i}`
  e.properties.note = `call (415) 555-018${i} or write to zq.note.${i}@example.org`
  return e
}
const NEEDLES = ['zq.alpha', 'zq.trait', 'zq.fail', 'zq.note', 'zq-bad', '415555010', '415555011', '415555019', '555-018']

function found(text: Buffer | string): string[] {
  return NEEDLES.filter((n) => text.includes(n))
}

test('no raw email or phone in the database files, the logs or Event Delivery after failures were kept', async () => {
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
    accessToken: emulator-access-token
    batchSize: 2
    mappings:
      - { name: Add, action: addToAudience }
    audiences:
      - { key: rest, name: At rest, advertiserId: "7000000000000000001" }
delivery: { windowMs: 20, retryBaseMs: 20, retryMaxMs: 100 }
`
    )
    const data = join(dir, 'data')
    const env = { DATABASE_URL: `sqlite:${join(data, 'db.sqlite')}`, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: PASSWORD, LOG_LEVEL: 'debug' }
    const serve = await startServe(['--config', config], env)
    const auth = { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` }
    const api = async (path: string) => (await fetch(serve.url + path, { headers: auth })).json() as Promise<any>
    await emuFaults(emu.url, [
      { path: '/segment/mapping/', code: 40002, message: 'injected permanent failure', count: 2 },
      { path: '/segment/mapping/', code: 50000, message: 'injected transient failure', count: 2 }
    ])
    const events = [...[1, 2, 3, 4, 5, 6].map(delivered), ...[1, 2, 3].map(failing)]
    const res = await fetch(`${serve.url}/v1/batch`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ batch: events })
    })
    assert.equal(res.status, 200, await res.text())
    const [dest] = await api('/api/destinations')
    let stats: any
    for (const end = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 50))) {
      stats = await api('/api/stats')
      if (stats.pending === 0 && stats.failed >= 3 + 2) break
      assert.ok(Date.now() < end, `timed out: ${JSON.stringify(stats)}\n${serve.output()}`)
    }
    const now = Date.now()
    const report = await api(`/api/destinations/${dest.id}/delivery?from=${now - 3_600_000}&to=${now + 60_000}&bucket=1h`)

    // Failure samples were kept (and are redacted), and TikTok's failures are dead letters.
    const samples = report.errors.map((e: any) => e.sample.received).filter(Boolean)
    assert.ok(samples.length >= 1, JSON.stringify(report.errors))
    assert.ok(
      samples.some((s: any) => /^z\*\*\*@example\.com$/.test(s.userId)),
      JSON.stringify(samples)
    )
    assert.deepEqual(found(JSON.stringify(report)), [], 'Event Delivery')
    const dead = await api(`/api/destinations/${dest.id}/dead-letters`)
    assert.ok(dead.total >= 5, JSON.stringify(dead))
    assert.deepEqual(found(JSON.stringify(dead)), [], 'dead letters')

    // The files as they are while the service runs (the -wal holds the recent writes), then after it stopped.
    const files = () => readdirSync(data).map((f) => ({ f, bytes: readFileSync(join(data, f)) }))
    assert.ok(
      files().some(({ f }) => f.endsWith('-wal')),
      `a -wal file while running: ${readdirSync(data)}`
    )
    for (const { f, bytes } of files()) assert.deepEqual(found(bytes), [], `${f} (running)`)
    await serve.stop('SIGTERM')
    for (const { f, bytes } of files()) assert.deepEqual(found(bytes), [], `${f} (stopped)`)
    assert.match(serve.output(), /console http/, "the output read is the process's own")
    assert.deepEqual(found(serve.output()), [], 'logs')
  } finally {
    await emu.close()
  }
})
