/**
 * The emulator's state file (src/emulator/persist.ts): tokens, advertisers, audiences, members and
 * OAuth codes survive a close and reopen, also a kill -9 of the standalone emulator; a reset forgets;
 * rewriting the journal keeps the state; a torn last line (a write never answered) is dropped.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { EmulatorState, EMULATOR_CREDENTIALS, EMULATOR_STATE_FILE } from '../../src/emulator/index.js'
import type { ValidatedMapping } from '../../src/emulator/mapping.js'
import { at } from '../../src/util/array.js'
import { spawnCli } from '../helpers/cli.js'
import { ADV1, EmulatorClient, sha256, TOKEN } from './helpers.js'

const stateFile = () => join(mkdtempSync(join(tmpdir(), 'tta-emustate-')), 'data', EMULATOR_STATE_FILE)

/** A compact body (the fast scanner's form) of `emails` for audience `audienceId`. */
function mappingBody(audienceId: string, emails: string[], action = 'add') {
  return { advertiser_ids: [ADV1], action, id_schema: ['EMAIL_SHA256'], batch_data: emails.map((e) => [{ id: sha256(e), audience_ids: [audienceId] }]) }
}

async function members(em: EmulatorClient, audienceId: string): Promise<Record<string, string[]>> {
  const { status, json } = await em.control('GET', `/audiences/${audienceId}/members`)
  assert.equal(status, 200, JSON.stringify(json))
  return json.members
}

test('tokens, advertisers, audiences, members and codes survive close and reopen', async () => {
  const file = stateFile()
  let em = await EmulatorClient.start({ stateFile: file })
  const minted = (await em.control('POST', '/tokens', { advertiser_ids: ['7000000000000000042'] })).json.access_token as string
  const revoked = (await em.control('POST', '/tokens', { advertiser_ids: [ADV1] })).json.access_token as string
  assert.equal((await em.control('POST', '/tokens/revoke', { access_token: revoked })).status, 200)
  const kept = await em.createAudience('Kept')
  const gone = await em.createAudience('Gone')
  assert.equal((await em.api('POST', '/segment/mapping/', { body: mappingBody(kept, ['a@x.test', 'b@x.test', 'c@x.test']) })).json.code, 0)
  // Not the compact form (phone first, two columns): the parsed-rows path.
  const rows = {
    id_schema: ['PHONE_SHA256', 'EMAIL_SHA256'],
    action: 'add',
    advertiser_ids: [ADV1],
    batch_data: [[{ id: sha256('+15550100').toUpperCase(), audience_ids: [kept] }, {}]]
  }
  assert.equal((await em.api('POST', '/segment/mapping/', { body: rows })).json.code, 0)
  assert.equal((await em.api('POST', '/segment/mapping/', { body: mappingBody(kept, ['b@x.test'], 'delete') })).json.code, 0)
  assert.equal((await em.api('POST', '/segment/audience/', { body: { advertiser_id: ADV1, action: 'delete', delete_audience_id: gone } })).json.code, 0)
  const code = em.state.issueAuthCode(EMULATOR_CREDENTIALS.appId, [ADV1])
  const before = (await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([kept]) } })).json.data
  await em.close()

  em = await EmulatorClient.start({ stateFile: file })
  try {
    assert.equal((await em.control('GET', '')).json.state_file, file)
    assert.deepEqual(
      (await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([kept]) } })).json.data,
      before
    )
    const list = (await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1 } })).json.data.list
    assert.deepEqual(
      list.map((a: { audience_id: string }) => a.audience_id),
      [kept],
      'the deleted audience stays deleted'
    )
    assert.deepEqual(await members(em, kept), {
      EMAIL_SHA256: [sha256('a@x.test'), sha256('c@x.test')].sort(),
      PHONE_SHA256: [sha256('+15550100')],
      IDFA_SHA256: [],
      AAID_SHA256: [],
      IDFA_MD5: [],
      AAID_MD5: []
    })
    const info = await em.api('GET', '/advertiser/info/', { query: { advertiser_ids: JSON.stringify(['7000000000000000042']) }, token: minted })
    assert.equal(info.json.code, 0, 'the minted token and the advertiser it brought are back')
    assert.equal(info.json.data.list[0].advertiser_id, '7000000000000000042')
    assert.equal((await em.api('GET', '/user/info/', { token: revoked })).json.code, 40105, 'a revoked token stays revoked')
    const exchanged = await em.api('POST', '/oauth2/access_token/', {
      body: { app_id: EMULATOR_CREDENTIALS.appId, secret: EMULATOR_CREDENTIALS.secret, auth_code: code },
      token: null
    })
    assert.equal(exchanged.json.code, 0, 'a code issued before the restart is exchanged after it')
    const fresh = await em.createAudience('New after restart')
    assert.notEqual(fresh, kept)
    const after = (await em.api('GET', '/dmp/custom_audience/list/', { query: { advertiser_id: ADV1 } })).json.data.list
    assert.deepEqual(
      after.map((a: { audience_id: string }) => a.audience_id),
      [fresh, kept],
      'newest first, as before the restart'
    )
  } finally {
    await em.close()
  }
})

test('POST /_emulator/reset forgets what the file kept', async () => {
  const file = stateFile()
  let em = await EmulatorClient.start({ stateFile: file })
  const minted = (await em.control('POST', '/tokens', { advertiser_ids: [ADV1] })).json.access_token as string
  await em.createAudience('Forgotten')
  assert.equal((await em.control('POST', '/reset')).status, 200)
  await em.close()
  em = await EmulatorClient.start({ stateFile: file })
  try {
    assert.equal((await em.control('GET', '/audiences')).json.audiences.length, 0)
    assert.equal((await em.api('GET', '/user/info/', { token: minted })).json.code, 40105)
    assert.equal((await em.api('GET', '/user/info/', { token: TOKEN })).json.code, 0, 'the fixed credentials stay')
  } finally {
    await em.close()
  }
})

test('rewriting a journal grown past its state keeps the state, while running and at close', () => {
  const file = stateFile()
  let state = new EmulatorState({ stateFile: file })
  const audience = state.createAudience(ADV1, 'Churn')
  assert.ok(typeof audience !== 'string')
  const ids = Array.from({ length: 1000 }, (_, i) => sha256(`churn-${i}`))
  const mapping = (action: 'add' | 'delete', list: string[]): ValidatedMapping => ({
    action,
    idSchema: ['EMAIL_SHA256'],
    cells: { ids: list, audienceIds: [audience.audienceId] },
    upperCase: false
  })
  // 67 + 33 KB a round: 80 rounds write ~8 MB for a state of 500 ids (~34 KB); no turn of the event loop lets the running rewrite in.
  let largest = 0
  for (let round = 0; round < 80; round++) {
    state.applyMapping(mapping('add', ids))
    state.applyMapping(mapping('delete', ids.slice(0, 500)))
    largest = Math.max(largest, statSync(file).size)
  }
  assert.ok(largest > 7_000_000, `the journal grew (${largest} bytes)`)
  state.close()
  const closed = statSync(file).size
  assert.ok(closed < 200_000, `rewritten at close to about the state: ${closed} bytes`)
  state = new EmulatorState({ stateFile: file })
  try {
    assert.equal(state.audiences.get(audience.audienceId)?.members.EMAIL_SHA256.size, 500)
    assert.ok(state.audiences.get(audience.audienceId)?.members.EMAIL_SHA256.has(at(ids, 999)))
    assert.ok(!state.audiences.get(audience.audienceId)?.members.EMAIL_SHA256.has(at(ids, 0)))
  } finally {
    state.close()
  }
})

test('the journal is rewritten while running once it is several times the state', async () => {
  const file = stateFile()
  const state = new EmulatorState({ stateFile: file })
  try {
    const audience = state.createAudience(ADV1, 'Churn')
    assert.ok(typeof audience !== 'string')
    const ids = Array.from({ length: 1000 }, (_, i) => sha256(`run-${i}`))
    for (let round = 0; round < 200; round++) {
      state.applyMapping({
        action: round % 2 ? 'delete' : 'add',
        idSchema: ['EMAIL_SHA256'],
        cells: { ids, audienceIds: [audience.audienceId] },
        upperCase: false
      })
      await new Promise((r) => setImmediate(r))
    }
    // 200 requests wrote ~13.4 MB; the rewrite happens past 4 × state + 8 MiB, so it stays under ~8.5 MB.
    assert.ok(statSync(file).size < 9 * 1024 * 1024, `rewritten while running: ${statSync(file).size} bytes`)
    assert.equal(state.audiences.get(audience.audienceId)?.members.EMAIL_SHA256.size, 0)
  } finally {
    state.close()
  }
})

test('a torn last line is dropped and the next change starts a line of its own; a damaged line in the middle is an error', async () => {
  const file = stateFile()
  let em = await EmulatorClient.start({ stateFile: file })
  const first = await em.createAudience('First')
  await em.close()
  appendFileSync(file, '{"op":"audience","audience":{"audienceId":"73')
  em = await EmulatorClient.start({ stateFile: file })
  const second = await em.createAudience('Second')
  await em.close()
  em = await EmulatorClient.start({ stateFile: file })
  try {
    const names = (await em.control('GET', '/audiences')).json.audiences.map((a: { audience_id: string; name: string }) => [a.audience_id, a.name])
    assert.deepEqual(names, [
      [first, 'First'],
      [second, 'Second']
    ])
  } finally {
    await em.close()
  }
  const lines = readFileSync(file, 'utf8').split('\n')
  lines.splice(2, 0, '{"op":"app","ap')
  writeFileSync(file, lines.join('\n'))
  assert.throws(() => new EmulatorState({ stateFile: file }), new RegExp(`${EMULATOR_STATE_FILE} line 3 is not a journal line`))
})

test("one emulator per state file: a second one is refused, a dead one's lock is taken over", () => {
  const file = stateFile()
  const state = new EmulatorState({ stateFile: file })
  assert.throws(() => new EmulatorState({ stateFile: file }), /already open in this process/)
  state.close()
  const dead = spawnSync(process.execPath, ['-e', '0']).pid
  writeFileSync(`${file}.lock`, `${dead}\n`)
  new EmulatorState({ stateFile: file }).close()
  writeFileSync(`${file}.lock`, `${process.ppid}\n`) // a live process other than this one
  assert.throws(() => new EmulatorState({ stateFile: file }), /in use by another TikTok emulator \(pid \d+\)/)
})

test('`tiktok-audiences emulator --data DIR` keeps what it answered through a kill -9', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tta-emucli-'))
  const child = spawnCli(['emulator', '--port', '0', '--data', dir])
  const gone = new Promise((r) => child.once('close', r))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await gone
  })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not start:\n${out}`)), 30_000)
    child.once('close', () => reject(new Error(`emulator exited:\n${out}`)))
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m && /State: /.test(out)) {
        clearTimeout(timer)
        resolve(at(m, 1))
      }
    })
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  })
  assert.match(
    out,
    new RegExp(`State: +${join(dir, EMULATOR_STATE_FILE).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(kept across restarts; POST /_emulator/reset forgets\\)`)
  )
  const api = (path: string, body: unknown) =>
    fetch(`${url}/open_api/v1.3${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Access-Token': TOKEN },
      body: JSON.stringify(body)
    }).then((r) => r.json() as Promise<{ code: number; data: { audience_id?: string } }>)
  const audienceId = (await api('/segment/audience/', { advertiser_id: ADV1, custom_audience_name: 'Killed' })).data.audience_id!
  assert.equal((await api('/segment/mapping/', mappingBody(audienceId, ['k@x.test']))).code, 0)
  child.kill('SIGKILL')
  await gone
  const state = new EmulatorState({ stateFile: join(dir, EMULATOR_STATE_FILE) })
  try {
    assert.deepEqual([...(state.audiences.get(audienceId)?.members.EMAIL_SHA256 ?? [])], [sha256('k@x.test')])
  } finally {
    state.close()
  }
})
