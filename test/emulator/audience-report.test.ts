/**
 * The control API's `POST /_emulator/audiences/{id}`: the size and expiry `/dmp/custom_audience/get/`
 * reports (cover_num otherwise grows with members), bad input refused by name, kept in the state
 * file with the audience's members, and `null` back to the computed values.
 */
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ADV1, EmulatorClient, sha256 } from './helpers.js'

async function details(em: EmulatorClient, id: string) {
  const r = await em.api('GET', '/dmp/custom_audience/get/', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([id]) } })
  return r.json.data.list[0].audience_details as { cover_num: number; is_valid: boolean; is_expiring: boolean; expired_time: string }
}
const add = (audienceId: string, emails: string[]) => ({
  advertiser_ids: [ADV1],
  action: 'add',
  id_schema: ['EMAIL_SHA256'],
  batch_data: emails.map((e) => [{ id: sha256(e), audience_ids: [audienceId] }])
})

test('cover_num grows with members; coverNum and expiresAt override it, survive a restart with the members, null restores', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tta-emu-report-')), 'tiktok-emulator.jsonl')
  let em = await EmulatorClient.start({ stateFile: file })
  const id = await em.createAudience('Sized')
  assert.equal((await details(em, id)).cover_num, 0)
  assert.equal((await em.api('POST', '/segment/mapping/', { body: add(id, ['a@x.test', 'b@x.test']) })).json.code, 0)
  assert.equal((await details(em, id)).cover_num, 2, 'grows with members')

  assert.equal((await em.control('POST', `/audiences/${id}`, { coverNum: -1 })).status, 400)
  assert.match((await em.control('POST', `/audiences/${id}`, { expiresAt: 'next week' })).json.error, /expiresAt must be an ISO-8601 time/)
  assert.match((await em.control('POST', `/audiences/${id}`, {})).json.error, /give coverNum and\/or expiresAt/)
  assert.equal((await em.control('POST', '/audiences/123', { coverNum: 1 })).status, 404)

  const r = await em.control('POST', `/audiences/${id}`, { coverNum: 5000, expiresAt: '2030-01-02T03:04:05Z' })
  assert.equal(r.status, 200)
  assert.deepEqual(r.json, { audience_id: id, cover_num: 5000, expires_at: '2030-01-02T03:04:05.000Z', is_valid: true, is_expiring: false })
  assert.equal((await details(em, id)).expired_time, '2030-01-02 03:04:05')
  await em.close()

  em = await EmulatorClient.start({ stateFile: file })
  try {
    assert.equal((await details(em, id)).cover_num, 5000, 'the override is kept')
    assert.equal((await em.control('POST', `/audiences/${id}`, { coverNum: null })).json.cover_num, 2, 'members kept too')
    const back = await em.control('POST', `/audiences/${id}`, { expiresAt: null })
    assert.notEqual(back.json.expires_at, '2030-01-02T03:04:05.000Z')
  } finally {
    await em.close()
  }
})
