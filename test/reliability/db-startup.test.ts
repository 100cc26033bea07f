/**
 * `serve` on a database it cannot use at start (issue 21 item 1): one line on stderr naming the
 * database and the fix, no stack; PostgreSQL is waited for TTA_DB_START_WAIT_MS, then exit 1 — or
 * the service starts once PostgreSQL comes up meanwhile. PostgreSQL is a cluster of this test's own.
 */
import assert from 'node:assert/strict'
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { first } from '../../src/util/array.js'
import { runCli, spawnCli } from '../helpers/cli.js'
import { waitFor } from '../helpers/emu-control.js'
import { clusterSkipReason, freePort, startPgCluster, type PgCluster } from '../helpers/pg-cluster.js'

const skip = clusterSkipReason()
const dir = mkdtempSync(join(tmpdir(), 'tta-db-startup-'))
let cluster: PgCluster | undefined
before(async () => {
  if (!skip) cluster = await startPgCluster()
})
after(async () => {
  await cluster?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

const env = (url: string, extra: Record<string, string> = {}) => ({ DATABASE_URL: url, ADMIN_PASSWORD: 'startup-test', SECRET_KEY: 'startup-secret', ...extra })
const serve = (url: string, extra: Record<string, string> = {}) => runCli(['serve', '--port', '0'], { env: env(url, extra), timeoutMs: 60_000 })

/** One `error:` line, no stack trace. */
function assertOneLineError(stderr: string, ...parts: (string | RegExp)[]): string {
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'))
  assert.equal(errors.length, 1, `one error line:\n${stderr}`)
  assert.doesNotMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`)
  const error = first(errors)
  for (const p of parts) assert.match(error, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p)
  return error
}

test('PostgreSQL refusing connections: says so, retries for TTA_DB_START_WAIT_MS, exits 1', { skip }, async () => {
  const port = await freePort()
  const started = Date.now()
  const r = await serve(`postgres://postgres:hunter2@127.0.0.1:${port}/tta`, { TTA_DB_START_WAIT_MS: '2000' })
  const took = Date.now() - started
  assert.equal(r.code, 1, r.stderr)
  assertOneLineError(r.stderr, `"tta" at 127.0.0.1:${port}`, 'connection refused', 'is PostgreSQL running', 'TTA_DB_START_WAIT_MS')
  assert.match(r.stderr, /retrying for up to 2 s/, 'it said it retries, and for how long')
  assert.ok(took >= 2000, `it waited TTA_DB_START_WAIT_MS before giving up (${took} ms)`)
  assert.ok(took < 20_000, `and not much longer (${took} ms)`)
  assert.doesNotMatch(r.stderr + r.stdout, /hunter2/, 'the password is never printed')
})

test('no such database: names it and the createdb command; no such role: names it and createuser', { skip }, async () => {
  const noDb = await serve(cluster!.url('missing_db'), { TTA_DB_START_WAIT_MS: '0' })
  assert.equal(noDb.code, 1, noDb.stderr)
  assertOneLineError(noDb.stderr, `"missing_db" at 127.0.0.1:${cluster!.port}`, `createdb -h 127.0.0.1 -p ${cluster!.port} -U postgres missing_db`)

  const noRole = await serve(`postgres://ghost:pw-never-shown@127.0.0.1:${cluster!.port}/postgres`, { TTA_DB_START_WAIT_MS: '0' })
  assert.equal(noRole.code, 1, noRole.stderr)
  assertOneLineError(noRole.stderr, 'no role "ghost"', `createuser -h 127.0.0.1 -p ${cluster!.port} ghost`)
  assert.doesNotMatch(noRole.stderr + noRole.stdout, /pw-never-shown/)
})

test('PostgreSQL coming up while serve waits: serve starts and is healthy', { skip, timeout: 90_000 }, async () => {
  const late = await startPgCluster({ start: false })
  const child = spawnCli(['serve', '--port', '0'], {
    ...env(late.url('postgres')),
    TTA_DB_START_WAIT_MS: '40000',
    TIKTOK_API_URL: '',
    PUBLIC_URL: '',
    HOST: '127.0.0.1'
  })
  child.stdin!.end()
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  try {
    assert.ok(await waitFor(async () => /retrying for up to 40 s/.test(out), 30_000, 50), `serve says it waits for PostgreSQL:\n${out}`)
    assert.match(out, /connection refused; is PostgreSQL running/)
    await late.start()
    assert.ok(await waitFor(async () => /console http:\/\/\S+\//.test(out), 30_000, 50), `serve started once PostgreSQL was up:\n${out}`)
    assert.match(out, /reachable now/)
    const url = /console (http:\/\/\S+?)\//.exec(out)![1]
    const health = await fetch(`${url}/healthz`)
    assert.equal(health.status, 200)
  } finally {
    child.kill('SIGKILL')
    await late.destroy()
  }
})

test('an unusable SQLite path: one line naming the path, exit 1 at once', async () => {
  const file = join(dir, 'a-file')
  writeFileSync(file, 'not a folder')
  const underFile = await serve(`sqlite:${file}/queue.db`)
  assert.equal(underFile.code, 1, underFile.stderr)
  assertOneLineError(underFile.stderr, `${file}/queue.db`, 'not a folder', 'DATABASE_URL=sqlite:')

  // Permissions bind everyone but root.
  if (userInfo().uid !== 0) {
    const locked = join(dir, 'locked')
    mkdirSync(locked)
    chmodSync(locked, 0o500)
    const denied = await serve(`sqlite:${locked}/queue.db`)
    assert.equal(denied.code, 1, denied.stderr)
    assertOneLineError(denied.stderr, `${locked}/queue.db`, 'permission denied')
  }
})
