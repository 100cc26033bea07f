import { after, before, beforeEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { scanMappingBody } from '../../src/emulator/mapping.js'
import { ADV1, ADV2, EmulatorClient, md5, sha256, TOKEN } from './helpers.js'

let em: EmulatorClient
let audience: string

before(async () => {
  em = await EmulatorClient.start({ qps: 0 })
})
after(() => em.close())
beforeEach(async () => {
  em.state.reset()
  em.state.setConfig({ qps: 0 })
  audience = await em.createAudience('Mapping target')
})

const E1 = sha256('testing@testing.com')
const E2 = sha256('scroogemcduck@disney.com')
const P1 = sha256('1234567890')
const M1 = sha256('4242')

function cell(id: string, audienceIds: string[] = [audience]) {
  return { id, audience_ids: audienceIds }
}

function mapping(batch: unknown[], overrides: Record<string, unknown> = {}) {
  return {
    advertiser_ids: [ADV1],
    action: 'add',
    id_schema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'],
    batch_data: batch,
    ...overrides
  }
}

async function members(id = audience): Promise<Record<string, string[]>> {
  const { status, json } = await em.control('GET', `/audiences/${id}/members`)
  assert.equal(status, 200)
  return json.members
}

async function expectRejected(body: unknown, message: RegExp): Promise<void> {
  const { status, json } = await em.api('POST', '/segment/mapping/', { body })
  assert.equal(status, 200)
  assert.equal(json.code, 40002, `expected 40002, got ${json.code} ${json.message}`)
  assert.match(json.message, message)
}

test('add applies ids per id type; {} cells are skipped', async () => {
  const { json } = await em.api('POST', '/segment/mapping/', {
    body: mapping([
      [cell(E1), cell(P1), cell(M1)],
      [cell(E2), {}, {}]
    ])
  })
  assert.equal(json.code, 0)
  assert.equal(json.message, 'OK')
  assert.deepEqual(json.data, {})
  const m = await members()
  assert.deepEqual(m.EMAIL_SHA256, [E1, E2].sort())
  assert.deepEqual(m.PHONE_SHA256, [P1])
  assert.deepEqual(m.IDFA_SHA256, [M1])
  assert.deepEqual(m.AAID_SHA256, [])

  const summary = await em.control('GET', '/audiences')
  const entry = summary.json.audiences.find((a: any) => a.audience_id === audience)
  assert.equal(entry.total, 4)
  assert.equal(entry.members.EMAIL_SHA256, 2)
  assert.equal(entry.members.PHONE_SHA256, 1)
  assert.equal(entry.advertiser_id, ADV1)
  assert.equal(entry.name, 'Mapping target')

  const get = await em.api('GET', '/dmp/custom_audience/get', { query: { advertiser_id: ADV1, custom_audience_ids: JSON.stringify([audience]) } })
  assert.equal(get.json.data.list[0].audience_details.cover_num, 4)
})

test('add is idempotent, upper-case hashes count as the same member, delete removes and tolerates absent ids', async () => {
  const body = mapping([[cell(E1), {}, {}]])
  assert.equal((await em.api('POST', '/segment/mapping/', { body })).json.code, 0)
  assert.equal((await em.api('POST', '/segment/mapping/', { body: mapping([[cell(E1.toUpperCase()), {}, {}]]) })).json.code, 0)
  assert.deepEqual((await members()).EMAIL_SHA256, [E1])

  const del = await em.api('POST', '/segment/mapping/', {
    body: mapping(
      [
        [cell(E1), {}, {}],
        [cell(E2), {}, {}]
      ],
      { action: 'delete' }
    )
  })
  assert.equal(del.json.code, 0)
  assert.deepEqual((await members()).EMAIL_SHA256, [])
})

test('one id may go to several audiences; id_schema is case-insensitive and any order', async () => {
  const second = await em.createAudience('Second')
  const { json } = await em.api('POST', '/segment/mapping/', {
    body: mapping([[cell(P1, [audience, second]), cell(E1)]], { id_schema: ['phone_sha256', 'Email_Sha256'] })
  })
  assert.equal(json.code, 0, json.message)
  assert.deepEqual((await members(audience)).PHONE_SHA256, [P1])
  assert.deepEqual((await members(second)).PHONE_SHA256, [P1])
  assert.deepEqual((await members(second)).EMAIL_SHA256, [])
  assert.deepEqual((await members(audience)).EMAIL_SHA256, [E1])
})

test('AAID_SHA256 is its own id type: members held apart from IDFA_SHA256, deleted by AAID only', async () => {
  const add = await em.api('POST', '/segment/mapping/', {
    body: mapping([[cell(E1), {}, cell(M1)]], { id_schema: ['EMAIL_SHA256', 'PHONE_SHA256', 'AAID_SHA256'] })
  })
  assert.equal(add.json.code, 0, add.json.message)
  assert.deepEqual((await members()).AAID_SHA256, [M1])
  assert.deepEqual((await members()).IDFA_SHA256, [])
  // An IDFA delete of the same hash removes nothing: TikTok keeps them apart.
  assert.equal((await em.api('POST', '/segment/mapping/', { body: mapping([[{}, {}, cell(M1)]], { action: 'delete' }) })).json.code, 0)
  assert.deepEqual((await members()).AAID_SHA256, [M1])
  const del = await em.api('POST', '/segment/mapping/', { body: mapping([[cell(M1)]], { action: 'delete', id_schema: ['aaid_sha256'] }) })
  assert.equal(del.json.code, 0, del.json.message)
  assert.deepEqual((await members()).AAID_SHA256, [])
})

test('MD5 id types take 32-hex digests only', async () => {
  const ok = await em.api('POST', '/segment/mapping/', { body: mapping([[cell(md5('idfa')), cell(md5('aaid'))]], { id_schema: ['IDFA_MD5', 'AAID_MD5'] }) })
  assert.equal(ok.json.code, 0, ok.json.message)
  assert.deepEqual((await members()).AAID_MD5, [md5('aaid')])
  await expectRejected(mapping([[cell(M1)]], { id_schema: ['IDFA_MD5'] }), /batch_data\[0\]\[0\]\.id is not an MD5 hex digest/)
})

test('action defaults to add and the mapping route accepts a charset in the content type', async () => {
  const res = await fetch(`${em.emulator.apiUrl}/v1.3/segment/mapping/`, {
    method: 'POST',
    headers: { 'Access-Token': TOKEN, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ advertiser_ids: [ADV1], id_schema: ['EMAIL_SHA256'], batch_data: [[cell(E1)]] })
  })
  const json: any = await res.json()
  assert.equal(json.code, 0, json.message)
  assert.deepEqual((await members()).EMAIL_SHA256, [E1])
})

test('row length must match id_schema', async () => {
  await expectRejected(
    mapping([
      [cell(E1), cell(P1), cell(M1)],
      [cell(E2), {}, {}],
      [{}, {}, {}],
      [cell(E2), {}]
    ]),
    /^batch_data\[3\] has 2 entries but id_schema has 3$/
  )
})

test('id_schema: duplicates, unknown types, empty and missing are rejected', async () => {
  await expectRejected(mapping([[cell(E1), cell(E2)]], { id_schema: ['EMAIL_SHA256', 'email_sha256'] }), /^id_schema contains duplicate EMAIL_SHA256$/)
  await expectRejected(mapping([[cell(E1)]], { id_schema: ['GAID_SHA256'] }), /id_schema\[0\] "GAID_SHA256" is not one of EMAIL_SHA256/)
  await expectRejected(mapping([], { id_schema: [] }), /id_schema/)
  await expectRejected({ advertiser_ids: [ADV1], batch_data: [[cell(E1)]] }, /id_schema/)
})

test('ids must be hex digests of the right length', async () => {
  await expectRejected(mapping([[cell(E1), cell('not-a-hash'), {}]]), /^batch_data\[0\]\[1\]\.id is not a SHA-256 hex digest/)
  await expectRejected(mapping([[cell(E1.slice(0, 63) + 'g'), {}, {}]]), /batch_data\[0\]\[0\]\.id is not a SHA-256 hex digest/)
  await expectRejected(mapping([[cell(md5('x')), {}, {}]]), /batch_data\[0\]\[0\]\.id is not a SHA-256/)
  await expectRejected(mapping([[{ id: 42, audience_ids: [audience] }, {}, {}]]), /batch_data\[0\]\[0\]\.id must be a string/)
})

test('cells: non-objects, stray keys and missing audience_ids are rejected', async () => {
  await expectRejected(mapping([[cell(E1), null, {}]]), /batch_data\[0\]\[1\] must be an object/)
  await expectRejected(mapping([[cell(E1), { foo: 1 }, {}]]), /batch_data\[0\]\[1\] must be \{\} or have id and audience_ids/)
  await expectRejected(mapping([[{ id: E1 }, {}, {}]]), /batch_data\[0\]\[0\]\.audience_ids/)
  await expectRejected(mapping([[{ id: E1, audience_ids: [] }, {}, {}]]), /batch_data\[0\]\[0\]\.audience_ids/)
  await expectRejected(mapping(['row']), /batch_data\[0\] must be a list/)
  await expectRejected(mapping([]), /batch_data must not be empty/)
  await expectRejected({ advertiser_ids: [ADV1], id_schema: ['EMAIL_SHA256'] }, /batch_data/)
  await expectRejected(mapping([[cell(E1), {}, {}]], { action: 'replace' }), /action/)
})

test('audiences must belong to one of advertiser_ids', async () => {
  const foreign = await em.createAudience('Other advertiser', ADV2)
  await expectRejected(mapping([[cell(E1, [foreign]), {}, {}]]), new RegExp(`^audience ${foreign} does not belong to advertiser_ids$`))
  await expectRejected(mapping([[cell(E1, ['123']), {}, {}]]), /audience 123 does not belong to advertiser_ids/)
  // Listing both advertisers makes the same call valid.
  const { json } = await em.api('POST', '/segment/mapping/', { body: mapping([[cell(E1, [foreign, audience]), {}, {}]], { advertiser_ids: [ADV1, ADV2] }) })
  assert.equal(json.code, 0, json.message)
})

test('advertiser_ids: missing is 40002, ungranted is 40001', async () => {
  await expectRejected({ id_schema: ['EMAIL_SHA256'], batch_data: [[cell(E1)]] }, /advertiser_ids/)
  const token = (await em.control('POST', '/tokens', { advertiser_ids: [ADV2] })).json.access_token
  const { json } = await em.api('POST', '/segment/mapping/', { token, body: mapping([[cell(E1), {}, {}]]) })
  assert.equal(json.code, 40001)
  assert.equal(json.message, 'advertiser does not grant you /segment/mapping/:POST permission')
})

test('all or nothing: a bad last row leaves every audience untouched', async () => {
  const rows: unknown[] = []
  for (let i = 0; i < 50; i++) rows.push([cell(sha256(`user${i}@example.com`)), {}, {}])
  rows.push([cell('zz'), {}, {}])
  await expectRejected(mapping(rows), /batch_data\[50\]\[0\]\.id/)
  assert.deepEqual((await members()).EMAIL_SHA256, [])
  assert.equal(em.state.coverNum(em.state.audiences.get(audience)!), 0)
})

test('10,000 rows are accepted, 10,001 are refused with the limit in the message', async () => {
  const rows: unknown[] = []
  for (let i = 0; i < 10_000; i++) rows.push([cell(sha256(`u${i}`)), cell(sha256(`p${i}`)), {}])
  const okAnswer = await em.api('POST', '/segment/mapping/', { body: mapping(rows) })
  assert.equal(okAnswer.json.code, 0, okAnswer.json.message)
  assert.equal(em.state.coverNum(em.state.audiences.get(audience)!), 20_000)

  rows.push([cell(sha256('one more')), {}, {}])
  await expectRejected(mapping(rows, { action: 'delete' }), /10001 rows; at most 10000/)
  assert.equal(em.state.coverNum(em.state.audiences.get(audience)!), 20_000, 'nothing deleted')
})

test('compact bodies are scanned without JSON.parse; any other form is left to it', () => {
  const body = mapping([
    [cell(E1), {}, cell(M1.toUpperCase())],
    [{}, cell(P1), {}]
  ])
  const scanned = scanMappingBody(Buffer.from(JSON.stringify(body)))
  assert.ok(scanned)
  assert.deepEqual(scanned.advertiser_ids, [ADV1])
  assert.equal(scanned.action, 'add')
  assert.deepEqual(scanned.id_schema, ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'])
  assert.equal(scanned.width, 3)
  assert.deepEqual(scanned.ids, [E1, null, M1.toUpperCase(), null, P1, null])
  assert.deepEqual(scanned.audienceIds, [audience])
  assert.equal(scanned.upperCase, true)
  // Read back as the JSON that was sent (request log, control API).
  assert.deepEqual(JSON.parse(JSON.stringify(scanned)), body)
  assert.deepEqual(scanned.batch_data, body.batch_data)

  const notScanned = [
    JSON.stringify(body, null, 1), // whitespace
    JSON.stringify({ action: body.action, advertiser_ids: body.advertiser_ids, id_schema: body.id_schema, batch_data: body.batch_data }), // another key order
    JSON.stringify({ ...body, extra: 1 }),
    JSON.stringify(mapping([[cell(E1), cell(P1, ['1', '2'])]])), // audiences differ between cells
    JSON.stringify(mapping([[cell(E1)], [cell(E2), {}]])), // rows of different widths
    JSON.stringify(mapping([[cell('not-hex')]])),
    JSON.stringify(mapping([[{ id: E1, audience_ids: [audience], x: 1 }]])),
    JSON.stringify(mapping([[cell(E1)]], { advertiser_ids: [Number(ADV1.slice(0, 15))] })),
    JSON.stringify(mapping([[cell(E1)]], { advertiser_ids: ['a"b'] })), // an escape
    JSON.stringify(mapping([[cell(E1)]], { advertiser_ids: ['7000000000000000001é'] })), // not ASCII
    JSON.stringify(mapping([])),
    JSON.stringify(mapping([[]])),
    JSON.stringify(body).slice(0, -1), // cut short
    JSON.stringify(body) + ' '
  ]
  for (const text of notScanned) assert.equal(scanMappingBody(Buffer.from(text)), undefined, text.slice(0, 200))
})

test('a scanned body is answered and applied exactly as the same body parsed', async () => {
  // Each body compact (scanned) and indented (parsed), each time from the same seeded state.
  const mine = '7300000000000000001'
  const foreign = '7300000000000000002'
  const seeded = await EmulatorClient.start({
    qps: 0,
    seed: {
      audiences: [
        { advertiser_id: ADV1, name: 'Mine', audience_id: mine, members: { EMAIL_SHA256: [E2] } },
        { advertiser_id: ADV2, name: 'Foreign', audience_id: foreign }
      ]
    }
  })
  const c = (id: string, audienceIds = [mine]) => ({ id, audience_ids: audienceIds })
  const send = async (text: string) => {
    seeded.state.reset()
    const res = await fetch(`${seeded.emulator.apiUrl}/v1.3/segment/mapping/`, {
      method: 'POST',
      headers: { 'Access-Token': TOKEN, 'content-type': 'application/json' },
      body: text
    })
    const answer = (await res.json()) as { code: number; message: string }
    const members = await Promise.all([mine, foreign].map(async (id) => (await seeded.control('GET', `/audiences/${id}/members`)).json.members))
    return { code: answer.code, message: answer.message, members }
  }
  try {
    const bodies: Record<string, unknown>[] = [
      mapping([
        [c(E1), c(P1), c(M1)],
        [c(E2), {}, {}]
      ]),
      mapping([[c(E2.toUpperCase()), {}, {}]], { action: 'DELETE' }),
      mapping([[c(E2), {}, {}]], { action: 'delete' }),
      mapping([
        [c(E1), {}, {}],
        [c(E2), {}]
      ]),
      mapping([
        [c(E1), {}, {}],
        [c(E2.slice(1)), {}, {}]
      ]),
      mapping([[c(md5('a')), {}, {}]]),
      mapping([[c(E1, [foreign]), {}, {}]]),
      mapping([[c(E1, [foreign, mine]), {}, {}]], { advertiser_ids: [ADV1, ADV2] }),
      mapping([[c(E1, ['123']), {}, {}]]),
      mapping([[c(E1), {}, {}]], { id_schema: ['EMAIL_SHA256', 'email_sha256', 'IDFA_SHA256'] }),
      mapping([[c(E1), {}]], { id_schema: ['email_sha256', 'PHONE_SHA256'] }),
      mapping([[c(md5('i')), c(md5('g'))]], { id_schema: ['IDFA_MD5', 'AAID_MD5'] }),
      mapping([[c(E1), {}, {}]], { action: 'replace' }),
      mapping([[c(E1), {}, {}]], { advertiser_ids: [] }),
      mapping([[c(E1), {}, {}]], { advertiser_ids: [''] }),
      mapping([[{}, {}, {}]]),
      mapping(Array.from({ length: 10_000 }, (_, i) => [c(sha256(`r${i}`)), {}, c(sha256(`m${i}`))])),
      mapping(Array.from({ length: 10_001 }, (_, i) => [c(sha256(`r${i}`)), {}, {}]))
    ]
    for (const [i, body] of bodies.entries()) {
      const compact = JSON.stringify(body)
      const scanned = scanMappingBody(Buffer.from(compact)) !== undefined
      assert.deepEqual(await send(compact), await send(JSON.stringify(body, null, 1)), `body ${i} (${scanned ? 'scanned' : 'not scanned'})`)
    }
    assert.ok(scanMappingBody(Buffer.from(JSON.stringify(bodies[0]))), 'the valid bodies are scanned')
  } finally {
    await seeded.close()
  }
})
