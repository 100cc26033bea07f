/**
 * PostgreSQL scale-out (SPEC §3.2, §3.3): several `serve` processes on one database and one queue.
 * Exactly-once delivery, order per audience, a worker killed mid-delivery whose lease expires and
 * whose work the other process finishes, and the one-shot pipeline (`send`) on PostgreSQL.
 * Each test gets a fresh database; the TikTok emulator runs in this process.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { at, first } from '../../src/util/array.js'
import { runCli } from '../helpers/cli.js'
import { audienceEvent, ndjson, sha256 } from '../helpers/events.js'
import { emuCreateAudience, emuFaults, emuMembers, emuRequests, waitFor, type EmuRequest } from '../helpers/emu-control.js'
import { createPgDatabase, dropAllPgDatabases, pgSkipReason, type PgDatabase } from '../helpers/pg.js'
import { startServe, stopAllServes, type ServeProcess } from '../helpers/serve.js'

const skip = await pgSkipReason()
if (skip) process.stdout.write(`# skipping PostgreSQL tests: ${skip}\n`)

const WK = 'wk_scale'
const ADV = '7000000000000000001'
const dir = mkdtempSync(join(tmpdir(), 'tta-pg-'))
const emulators: RunningEmulator[] = []
after(async () => {
  await stopAllServes()
  await Promise.all(emulators.map((e) => e.close().catch(() => undefined)))
  await dropAllPgDatabases()
  rmSync(dir, { recursive: true, force: true })
})

async function emulator(): Promise<RunningEmulator> {
  const emu = await startEmulator({ log: false, qps: 0 })
  emulators.push(emu)
  return emu
}

const emailOf = (u: number) => `user${u}@scale.example.com`
const audKey = (a: number) => `aud_${a}`

/** A config with `count` connected audiences whose TikTok ids were created beforehand. */
function writeConfig(name: string, audienceIds: string[], extra = ''): string {
  const file = join(dir, name)
  writeFileSync(
    file,
    `
sources:
  - { name: engage, writeKey: ${WK} }
destinations:
  - name: tiktok
    source: engage
    mode: native
    normalization: segment
    accessToken: emulator-access-token
    batchSize: 20
    mappings:
      - { name: Add, action: addToAudience, mapping: { send_phone: false, send_advertising_id: false } }
      - { name: Remove, action: removeFromAudience, mapping: { send_phone: false, send_advertising_id: false } }
    audiences:
${audienceIds.map((id, a) => `      - { key: ${audKey(a)}, name: Scale ${a}, advertiserId: "${ADV}", externalAudienceId: "${id}" }`).join('\n')}
delivery: { windowMs: 100, retryBaseMs: 100${extra} }
`
  )
  return file
}

async function postBatches(svc: ServeProcess, events: Record<string, unknown>[], perRequest = 100): Promise<void> {
  for (let i = 0; i < events.length; i += perRequest) {
    const r = await fetch(`${svc.url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${WK}:`).toString('base64')}` },
      body: JSON.stringify({ batch: events.slice(i, i + perRequest) })
    })
    assert.equal(r.status, 200, await r.text())
  }
}

/**
 * Rounds of membership changes: round r holds one event per (user, audience) in `plan(r)`; a round
 * is posted only after the previous one was acknowledged, and a user's consecutive rounds go to
 * different processes, so order must hold across processes.
 */
async function postRounds(procs: ServeProcess[], users: number, audiences: number, rounds: ((u: number, a: number) => boolean | undefined)[]): Promise<void> {
  for (const [r, state] of rounds.entries()) {
    const perProc: Record<string, unknown>[][] = procs.map(() => [])
    for (let u = 0; u < users; u++) {
      for (let a = 0; a < audiences; a++) {
        const member = state(u, a)
        if (member === undefined) continue
        at(perProc, (u + a + r) % procs.length).push(
          audienceEvent({ userId: `user${u}`, email: emailOf(u) }, audKey(a), member, { messageId: `r${r}-u${u}-a${a}` })
        )
      }
    }
    await Promise.all(procs.map((p, i) => postBatches(p, at(perProc, i))))
  }
}

/** Waits until every event is recorded and nothing is left to deliver. */
async function drained(db: PgDatabase, events: number, timeoutMs: number): Promise<void> {
  let last: Record<string, unknown> = {}
  const ok = await waitFor(
    async () => {
      const row = first(
        await db.query<{ events: string; pending: string | null; queued: string }>(
          `SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT SUM(pending) FROM partitions) AS pending, (SELECT COUNT(*) FROM queue_packs) AS queued`
        )
      )
      last = row
      return Number(row.events) === events && Number(row.pending ?? 0) === 0 && Number(row.queued) === 0
    },
    timeoutMs,
    100
  )
  assert.ok(ok, `the queue drained: ${JSON.stringify(last)}`)
}

/** (audience id, hash, action) of every row TikTok accepted (code 0), in the order TikTok received them. */
function acceptedRows(log: EmuRequest[]): { audience: string; hash: string; action: string }[] {
  const out: { audience: string; hash: string; action: string }[] = []
  for (const req of [...log].sort((x, y) => x.seq - y.seq)) {
    if (req.code !== 0) continue
    const body = req.body as { action: string; batch_data: { id?: string; audience_ids?: string[] }[][] }
    for (const row of body.batch_data)
      for (const cell of row) for (const audience of cell.audience_ids ?? []) out.push({ audience, hash: cell.id!, action: body.action })
  }
  return out
}

/** Is `seq` a subsequence of `of`? */
function subsequence(seq: string[], of: string[]): boolean {
  let i = 0
  for (const x of of) if (i < seq.length && seq[i] === x) i++
  return i === seq.length
}

async function checkFinalMembership(emuUrl: string, audienceIds: string[], users: number, final: (u: number, a: number) => boolean): Promise<void> {
  for (const [a, id] of audienceIds.entries()) {
    const members = (await emuMembers(emuUrl, id)).EMAIL_SHA256
    const expected = Array.from({ length: users }, (_, u) => u)
      .filter((u) => final(u, a))
      .map((u) => sha256(emailOf(u)))
      .sort()
    assert.deepEqual(members, expected, `final membership of audience ${a}`)
  }
}

test('two serve processes on one PostgreSQL database: every change delivered exactly once, in order per audience', { skip }, async () => {
  const db = await createPgDatabase()
  const emu = await emulator()
  const A = 10
  const U = 24
  const audienceIds: string[] = []
  for (let a = 0; a < A; a++) audienceIds.push(await emuCreateAudience(emu.apiUrl, `Scale ${a}`))
  const config = writeConfig('scale.yaml', audienceIds)
  const env = { DATABASE_URL: db.url, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: 'scale', SECRET_KEY: 'scale-secret' }
  // Started together on a fresh database: migrations and config apply run concurrently.
  const procs = await Promise.all([startServe(['--config', config], env), startServe(['--config', config], env), startServe(['--config', config], env)])

  // enter → exit → enter again for two thirds of the pairs.
  const rounds = [() => true, () => false, (u: number, a: number) => ((u + a) % 3 !== 0 ? true : undefined)]
  const sent = (u: number, a: number) =>
    rounds
      .map((r) => r(u, a))
      .filter((m) => m !== undefined)
      .map((m) => (m ? 'add' : 'delete'))
  await postRounds(procs, U, A, rounds)
  const total = U * A * 2 + Array.from({ length: U * A }, (_, k) => k).filter((k) => (Math.floor(k / A) + (k % A)) % 3 !== 0).length
  await drained(db, total, 40_000)

  const final = (u: number, a: number) => (u + a) % 3 !== 0
  await checkFinalMembership(emu.url, audienceIds, U, final)

  const log = await emuRequests(emu.url)
  assert.ok(log.length > 0)
  assert.deepEqual(
    log.filter((r) => r.code !== 0).map((r) => r.code),
    [],
    'no TikTok request failed in the happy path'
  )
  // Exactly once: TikTok received each delivered change once — the rows TikTok accepted are
  // exactly the changes the database settled as delivered (counted in the transaction that settles
  // them; a batch sent twice would show up twice at TikTok and once here).
  const accepted = acceptedRows(log)
  const [t] = await db.query<{ delivered: string; superseded: string; failed: string }>(
    `SELECT SUM(delivered) AS delivered, SUM(superseded) AS superseded, SUM(failed) AS failed FROM outcome_totals WHERE scope = 'destination'`
  )
  assert.ok(t)
  assert.equal(accepted.length, Number(t.delivered), 'rows accepted by TikTok = changes settled as delivered')
  const { n: requestsDelivered } = first(await db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM requests WHERE kind = 'mapping' AND outcome = 'delivered'`))
  assert.equal(Number(requestsDelivered), log.length, 'every request TikTok answered is in the request log once')
  // Nothing was lost either: every change is delivered or superseded by a later one.
  assert.equal(Number(t.delivered) + Number(t.superseded), total, 'every change delivered or superseded')
  assert.equal(Number(t.failed), 0)
  const { n: deadLetters } = first(await db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM changes`))
  assert.equal(Number(deadLetters), 0)

  // Order: per (audience, user) TikTok saw a subsequence of what was sent, ending in the last state.
  const byPair = new Map<string, string[]>()
  for (const r of accepted) byPair.set(`${r.audience}|${r.hash}`, [...(byPair.get(`${r.audience}|${r.hash}`) ?? []), r.action])
  for (let u = 0; u < U; u++) {
    for (let a = 0; a < A; a++) {
      const seen = byPair.get(`${audienceIds[a]}|${sha256(emailOf(u))}`) ?? []
      const expected = sent(u, a)
      assert.ok(subsequence(seen, expected), `user ${u} audience ${a}: TikTok saw ${seen.join(',')}, sent ${expected.join(',')}`)
      assert.equal(seen.at(-1), expected.at(-1), `user ${u} audience ${a}: the last change TikTok saw is the last state`)
    }
  }
  for (const p of procs) assert.equal((await fetch(`${p.url}/healthz`)).status, 200)
  await Promise.all(procs.map((p) => p.stop('SIGTERM')))
  await db.drop()
})

test('one of two processes SIGKILLed mid-delivery: its lease expires, the other finishes its work, membership exact', { skip }, async () => {
  const db = await createPgDatabase()
  const emu = await emulator()
  const A = 8
  const U = 30
  const audienceIds: string[] = []
  for (let a = 0; a < A; a++) audienceIds.push(await emuCreateAudience(emu.apiUrl, `Scale ${a}`))
  const config = writeConfig('kill.yaml', audienceIds, ', concurrency: 2')
  const env = { DATABASE_URL: db.url, TIKTOK_API_URL: emu.apiUrl, ADMIN_PASSWORD: 'scale', SECRET_KEY: 'scale-secret', TTA_LEASE_MS: '1500' }
  const [victim, survivor] = await Promise.all([startServe(['--config', config], env), startServe(['--config', config], env)])
  await emuFaults(emu.url, [{ path: '/segment/mapping/', latencyMs: 300 }])

  const rounds = [() => true, (u: number, a: number) => ((u * 7 + a) % 4 === 0 ? false : undefined)]
  await postRounds([victim, survivor], U, A, rounds)
  const total = U * A + Array.from({ length: U * A }, (_, k) => k).filter((k) => (Math.floor(k / A) * 7 + (k % A)) % 4 === 0).length

  // Kill the victim while it holds a partition with work left (a request to TikTok in flight).
  let held: { id: number; key: string }[] = []
  const caught = await waitFor(
    async () => {
      held = await db.query<{ id: number; key: string }>(`SELECT id, key FROM partitions WHERE lease_owner LIKE $1 AND lease_until > $2 AND pending > 0`, [
        `${victim.pid}-%`,
        Date.now()
      ])
      return held.length > 0
    },
    20_000,
    10
  )
  assert.ok(caught, 'the victim claimed a partition')
  await victim.stop('SIGKILL')
  const killedAt = Date.now()
  await emuFaults(emu.url, [{ path: '/segment/mapping/', latencyMs: 20 }])

  await drained(db, total, 40_000)
  await checkFinalMembership(emu.url, audienceIds, U, (u, a) => (u * 7 + a) % 4 !== 0)
  // The victim's partitions were finished by the survivor, after the lease ran out.
  const log = await emuRequests(emu.url)
  for (const p of held) {
    const audience = at(p.key.split('|'), 2)
    const later = log.filter(
      (r) =>
        r.code === 0 &&
        Date.parse(r.time) > killedAt &&
        (r.body as { batch_data: { audience_ids?: string[] }[][] }).batch_data.some((row) => row.some((c) => c.audience_ids?.includes(audience)))
    )
    assert.ok(later.length > 0, `partition ${p.key} was delivered after the kill`)
  }
  const { n: left } = first(await db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM partitions WHERE pending <> 0 OR pending < 0`))
  assert.equal(Number(left), 0, 'pending counters are exact (all zero)')
  assert.equal((await fetch(`${survivor.url}/healthz`)).status, 200)
  await survivor.stop('SIGTERM')
  await db.drop()
})

test('send --db postgres://…: a few hundred events through several batches, enter and exit', { skip }, async () => {
  const db = await createPgDatabase()
  const emu = await emulator()
  const id = await emuCreateAudience(emu.apiUrl, 'Send on PostgreSQL')
  const config = writeConfig('send.yaml', [id])
  const N = 400
  const events = [
    ...Array.from({ length: N }, (_, u) => audienceEvent({ userId: `user${u}`, email: emailOf(u) }, audKey(0), true, { messageId: `in-${u}` })),
    ...Array.from({ length: N / 4 }, (_, k) =>
      audienceEvent({ userId: `user${k * 4}`, email: emailOf(k * 4) }, audKey(0), false, { messageId: `out-${k * 4}` })
    )
  ]
  const file = join(dir, 'send.ndjson')
  writeFileSync(file, ndjson(events))
  const r = await runCli(['send', '--config', config, '--events', file, '--db', db.url], {
    env: { TIKTOK_API_URL: emu.apiUrl, SECRET_KEY: 'send-secret', DATABASE_URL: '' }
  })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.summary?.received, N + N / 4)
  assert.equal(r.summary?.delivered, N + N / 4)
  assert.equal(r.summary?.failed, 0)
  assert.ok((await emuRequests(emu.url)).filter((q) => q.code === 0).length >= 5, 'several batches')
  const members = (await emuMembers(emu.url, id)).EMAIL_SHA256
  assert.deepEqual(
    members,
    Array.from({ length: N }, (_, u) => u)
      .filter((u) => u % 4 !== 0)
      .map((u) => sha256(emailOf(u)))
      .sort()
  )
  // Re-sending the same file routes nothing twice (same messageIds).
  const again = await runCli(['send', '--config', config, '--events', file, '--db', db.url], {
    env: { TIKTOK_API_URL: emu.apiUrl, SECRET_KEY: 'send-secret', DATABASE_URL: '' }
  })
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.summary?.duplicates, N + N / 4)
  await db.drop()
})
