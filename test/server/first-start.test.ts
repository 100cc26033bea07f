/**
 * The quick start's promise: `serve` on a fresh data folder starts with SQLite and the built-in
 * emulator, prints the console URL, the generated admin password and a working curl line; and
 * /healthz and /metrics answer.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { test } from 'node:test'
import { startServe } from '../helpers/serve.js'
import { sha256 } from '../helpers/events.js'

const run = promisify(execFile)

test('first start: banner with console URL, admin password and a curl line that lands in the emulated TikTok audience', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-first-'))
  const serve = await startServe([], {
    DATABASE_URL: `sqlite:${join(dir, 'data', 'tiktok-audiences.db')}`,
    ADMIN_PASSWORD: undefined,
    SECRET_KEY: undefined,
    TIKTOK_API_URL: undefined,
    TIKTOK_APP_ID: undefined
  })
  try {
    await new Promise((r) => setTimeout(r, 300))
    const out = serve.output()
    assert.match(out, /console http:\/\/127\.0\.0\.1:\d+\//)
    assert.match(out, /built-in EMULATOR/)
    const password = /password "([^"]+)" \(generated/.exec(out)?.[1]
    assert.ok(password, 'a generated admin password is printed')
    assert.ok(existsSync(join(dir, 'data', 'tiktok-audiences.db')), 'SQLite under the data folder')
    assert.ok(existsSync(join(dir, 'data', 'secret.key')), 'the generated SECRET_KEY is kept beside it')

    const curl = /try it: +(curl .+)$/m.exec(out)?.[1]
    assert.ok(curl, 'a curl line is printed')
    const { stdout } = await run('bash', ['-c', curl!])
    assert.equal(stdout.trim(), '{"success":true}')

    const auth = { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` }
    let members: string[] = []
    for (let i = 0; i < 50 && members.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      const auds = ((await (await fetch(`${serve.url}/emulator/_emulator/audiences`)).json()) as { audiences: { audience_id: string; name: string }[] })
        .audiences
      const aud = auds.find((a) => a.name === 'First time shopper')
      if (aud)
        members =
          ((await (await fetch(`${serve.url}/emulator/_emulator/audiences/${aud.audience_id}/members`)).json()) as { members: Record<string, string[]> })
            .members.EMAIL_SHA256 ?? []
    }
    assert.deepEqual(members, [sha256('janedoe@example.com')], 'normalised like Segment: local-part dots dropped')

    const health = await fetch(`${serve.url}/healthz`)
    assert.deepEqual(await health.json(), { status: 'ok' })
    const stats = (await (await fetch(`${serve.url}/api/stats`, { headers: auth })).json()) as Record<string, number>
    assert.equal(stats.received, 1)
    assert.equal(stats.delivered, 1)
    const metrics = await (await fetch(`${serve.url}/metrics`)).text()
    assert.match(metrics, /tiktok_audiences_events_received_total\{source="default"\} 1/)
    assert.match(metrics, /tiktok_audiences_changes_total\{outcome="delivered"\} 1/)
    assert.match(metrics, /tiktok_audiences_tiktok_request_seconds_count\{endpoint="\/segment\/mapping\/",outcome="delivered"\} 1/)
    assert.match(metrics, /tiktok_audiences_queue_depth 0/)
    assert.match(metrics, /tiktok_audiences_identifiers_total\{destination="\d+",kind="email",status="hashed"\} 1/)
    assert.match(metrics, /tiktok_audiences_identifiers_total\{destination="\d+",kind="phone",status="empty"\} 1/)
    assert.doesNotMatch(out, /jane\.doe@example\.com"?\s*[,}].*level/, 'no raw identifier in the logs')
  } finally {
    await serve.stop('SIGTERM')
  }
})
