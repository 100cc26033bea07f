/** Start-up errors a person can act on: what is wrong and its fix, without a stack trace. */
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { runCli } from '../helpers/cli.js'

let dir: string
let busy: Server
let busyPort: number

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tta-startup-'))
  busy = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  busyPort = (busy.address() as { port: number }).port
})
after(() => busy.close())

const env = () => ({ DATABASE_URL: `sqlite:${join(dir, 'run.db')}`, ADMIN_PASSWORD: 'startup-test', PORT: undefined, HOST: undefined })
const noStack = (stderr: string) => assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`)

test('serve on a port in use: names the port and the fix (--port / PORT)', async () => {
  const r = await runCli(['serve', '--port', String(busyPort), '--host', '127.0.0.1'], { env: env() })
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`error: port ${busyPort} on 127\\.0\\.0\\.1 is already in use`))
  assert.match(r.stderr, /fix: .*--port N or PORT=N/)
  noStack(r.stderr)
})

test('emulator on a port in use: the same message', async () => {
  const r = await runCli(['emulator', '--port', String(busyPort)], { env: env() })
  assert.equal(r.code, 1)
  assert.match(r.stderr, new RegExp(`error: port ${busyPort} on 127\\.0\\.0\\.1 is already in use`))
  noStack(r.stderr)
})

test('serve with a YAML error: the offending line with a caret under the column', async () => {
  const file = join(dir, 'broken.yaml')
  writeFileSync(file, 'sources:\n  - name: engage\n   writeKey: wk_1\ndestinations: []\n')
  const r = await runCli(['serve', '--config', file, '--port', '0'], { env: env() })
  assert.equal(r.code, 1)
  assert.match(r.stderr, /not valid YAML\/JSON at line 3, column 1: Sequence item without - indicator/)
  assert.match(r.stderr, /\n\s+2 \|   - name: engage\n\s+3 \|    writeKey: wk_1\n\s+\| \^\n/)
  noStack(r.stderr)
})

test('send with a YAML error: the same, and exit 2', async () => {
  const file = join(dir, 'broken-flow.yaml')
  writeFileSync(file, 'sources: [\n  - name: engage\n')
  const r = await runCli(['send', '--config', file], { env: env() })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /not valid YAML\/JSON at line 2, column 3: /)
  assert.match(r.stderr, /\n\s+2 \|   - name: engage\n\s+\|   \^\n/)
  noStack(r.stderr)
})
