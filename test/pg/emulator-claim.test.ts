/**
 * One built-in TikTok emulator per database: a second `serve` on the same PostgreSQL database with a
 * built-in emulator of its own refuses to start (naming TIKTOK_API_URL) while the first one's claim
 * is live; one pointed at the first's emulator with TIKTOK_API_URL starts; after the first stops
 * (SIGTERM) or dies (kill -9) the next one takes over at once. Fresh database per test.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason } from '../helpers/pg.js'
import { startServe, stopAllServes } from '../helpers/serve.js'

const skip = await pgSkipReason()
if (skip) process.stdout.write(`# skipping PostgreSQL tests: ${skip}\n`)

after(async () => {
  await stopAllServes()
  await dropAllPgDatabases()
})

test(
  'a second serve with a built-in emulator on one PostgreSQL database refuses; TIKTOK_API_URL to the first one works; stop or kill -9 hands it over',
  { skip },
  async () => {
    const db = await createPgDatabase()
    const env = (name: string, extra: Record<string, string | undefined> = {}) => ({
      DATABASE_URL: db.url,
      DATA_DIR: mkdtempSync(join(tmpdir(), `tta-claim-${name}-`)),
      ADMIN_PASSWORD: 'claim',
      SECRET_KEY: 'claim-secret',
      TIKTOK_API_URL: undefined,
      TIKTOK_APP_ID: undefined,
      ...extra
    })
    const first = await startServe([], env('first'))
    assert.match(first.output(), /TikTok emulator state: .*tta-claim-first-.*tiktok-emulator\.jsonl \(kept across restarts/)

    const refused = await runCli(['serve', '--port', '0'], { env: { ...env('second'), HOST: '127.0.0.1', PUBLIC_URL: '' }, timeoutMs: 30_000 })
    assert.notEqual(refused.code, 0, refused.stdout)
    assert.match(
      refused.stderr,
      new RegExp(
        `Another tiktok-audiences serve \\(pid ${first.pid} on .+, ${first.url.replace(/[.:/]/g, '\\$&')}/emulator, seen \\d+ s ago\\) runs the built-in TikTok emulator for this database`
      )
    )
    assert.match(refused.stderr, /TIKTOK_API_URL=/)
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'the message, without a stack trace')
    assert.doesNotMatch(refused.stdout, /tiktok-audiences is running/)

    // The fix the message names: one emulator (here the first one's), every other process pointed at it.
    const pointed = await startServe([], env('pointed', { TIKTOK_API_URL: `${first.url}/emulator/open_api` }))
    assert.match(pointed.output(), new RegExp(`TikTok: +${first.url.replace(/[.:/]/g, '\\$&')}/emulator/open_api`))
    await pointed.stop('SIGTERM')

    await first.stop('SIGTERM')
    const third = await startServe([], env('third'))
    await third.stop('SIGKILL')
    const fourth = await startServe([], env('fourth'))
    await fourth.stop('SIGTERM')
    await db.drop()
  }
)
