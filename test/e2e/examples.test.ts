/**
 * The README's example runs as it stands (issue 20.7): examples/config.yaml with
 * examples/events.ndjson through `send` against the emulator, as the file's own comment says;
 * the README shows that very file.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { first } from '../../src/util/array.js'
import { ROOT, runCli } from '../helpers/cli.js'
import { sha256 } from '../helpers/events.js'

let emu: RunningEmulator
before(async () => {
  emu = await startEmulator({ log: false })
})
after(async () => emu.close())

test('examples/config.yaml and events.ndjson: applied and delivered against the emulator, exit 0', async () => {
  const r = await runCli(['send', '--config', 'examples/config.yaml', '--events', 'examples/events.ndjson'], {
    env: { TIKTOK_API_URL: emu.apiUrl, TIKTOK_ACCESS_TOKEN: 'emulator-access-token', DATABASE_URL: '' }
  })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr.trim(), '', 'no warning, no problem')
  assert.equal(r.summary?.received, 4)
  assert.equal(r.summary?.delivered, 4)
  const { audiences } = (await (await fetch(`${emu.url}/_emulator/audiences`)).json()) as {
    audiences: { audience_id: string; name: string; advertiser_id: string }[]
  }
  assert.deepEqual(
    audiences.map((a) => [a.name, a.advertiser_id]),
    [['First time shopper', '7000000000000000001']]
  )
  const { members } = (await (await fetch(`${emu.url}/_emulator/audiences/${first(audiences).audience_id}/members`)).json()) as {
    members: Record<string, string[]>
  }
  assert.deepEqual(
    (members.EMAIL_SHA256 ?? []).sort(),
    [sha256('janedoe@example.com'), sha256('johnroe@example.com')].sort(),
    'two entered (local-part dots dropped, as Segment does), the third entered and exited'
  )
})

test('the README shows examples/config.yaml as it is', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const file = readFileSync(join(ROOT, 'examples/config.yaml'), 'utf8')
  const block = /<!-- examples\/config\.yaml -->\n```yaml\n([\s\S]*?)```/.exec(readme)
  assert.ok(block, 'README has the examples/config.yaml block')
  assert.equal(block[1], file)
})
