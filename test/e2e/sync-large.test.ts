/** Mirror sync at list sizes past one ingestion request (1,000 events): 100,000 members, then 10% churn. */
import assert from 'node:assert/strict'
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { after, before, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { runCli } from '../helpers/cli.js'
import { emuAudiences, emuMembers } from '../helpers/emu-control.js'
import { sha256 } from '../helpers/events.js'

let emu: RunningEmulator
let dir: string
before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-sync-large-'))
})
after(async () => {
  await emu.close()
  rmSync(dir, { recursive: true, force: true })
})

const email = (i: number) => `member${i}@example.com`

/** A CSV of the members numbered `ids`, written as a stream. */
async function writeList(file: string, ids: Iterable<number>): Promise<void> {
  const out = createWriteStream(file)
  out.write('email\n')
  let chunk = ''
  for (const i of ids) {
    chunk += email(i) + '\n'
    if (chunk.length > 64 * 1024) {
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()))
      chunk = ''
    }
  }
  out.end(chunk)
  await finished(out)
}

function* range(from: number, to: number): Generator<number> {
  for (let i = from; i < to; i++) yield i
}

test('mirror sync of 100,000 members, then 10% removed and 10% added: exactly the new list in the audience', { timeout: 240_000 }, async () => {
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
  const db = `sqlite:${join(dir, 'state.db')}`
  const sync = (file: string) =>
    runCli(['sync', '--config', cfg, '--destination', 'tiktok', '--audience', 'crm_list', '--members', file, '--db', db], {
      env: { TIKTOK_API_URL: emu.apiUrl, DATABASE_URL: '', SECRET_KEY: 'sync-large-test-key' },
      timeoutMs: 180_000
    })
  const members = async () => {
    const audience = (await emuAudiences(emu.url)).find((a) => a.name === 'CRM list')!
    return (await emuMembers(emu.url, audience.audience_id)).EMAIL_SHA256 ?? []
  }
  const expected = (ids: Iterable<number>) => [...ids].map((i) => sha256(email(i))).sort()

  const first = join(dir, 'first.csv')
  await writeList(first, range(0, 100_000))
  const r1 = await sync(first)
  assert.equal(r1.code, 0, r1.stderr)
  assert.equal(r1.stderr, '', 'no progress line when stderr is piped, no problem')
  assert.deepEqual([r1.summary?.members, r1.summary?.added, r1.summary?.removed, r1.summary?.failed], [100_000, 100_000, 0, 0])
  assert.deepEqual(await members(), expected(range(0, 100_000)))

  // Every tenth member left; 10,000 new ones joined.
  const kept = [...range(0, 100_000)].filter((i) => i % 10 !== 0)
  const second = join(dir, 'second.csv')
  await writeList(second, [...kept, ...range(100_000, 110_000)])
  const r2 = await sync(second)
  assert.equal(r2.code, 0, r2.stderr)
  assert.deepEqual(
    [r2.summary?.members, r2.summary?.added, r2.summary?.removed, r2.summary?.unchanged, r2.summary?.failed],
    [100_000, 10_000, 10_000, 90_000, 0]
  )
  assert.deepEqual(await members(), expected([...kept, ...range(100_000, 110_000)]))
})
