/** The queue's formats: what is encoded is read back the same, whatever the ids and payloads hold. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { at } from '../../src/util/array.js'
import {
  actionOf,
  CREATE_KEY,
  createPartitionKey,
  encodeBatchKey,
  encodePack,
  identityOf,
  idCells,
  idsOf,
  keysOfSameSchema,
  membershipPartitionKey,
  openChangesOf,
  parseBatchKey,
  parsePartitionKey,
  serializeIds,
  type BatchKind,
  type PackChange
} from '../../src/store/queue-format.js'

const read = (changes: PackChange[], settled: string | null = null) =>
  openChangesOf({ id: 7, partition_id: 1, n: changes.length, settled, body: encodePack(changes), created_at: 5 })

const key = (kind: BatchKind) => encodeBatchKey(kind)

test('a batch key parses back to what it was made of', () => {
  const kinds: BatchKind[] = [
    { action: 'create' },
    { action: 'add', idSchema: ['EMAIL_SHA256'] },
    { action: 'delete', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'] },
    { action: 'add', idSchema: ['AAID_MD5', 'IDFA_MD5'] }
  ]
  for (const kind of kinds) {
    const k = encodeBatchKey(kind)
    assert.deepEqual(parseBatchKey(k), kind, k)
    assert.equal(actionOf(k), kind.action)
  }
  // The stored text is what earlier versions wrote: packs and dead letters keep reading as they are.
  assert.equal(key({ action: 'add', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] }), 'add|EMAIL_SHA256,PHONE_SHA256')
  assert.equal(CREATE_KEY, 'create')
  for (const bad of ['', 'add', 'update|EMAIL_SHA256', '|EMAIL_SHA256']) assert.throws(() => parseBatchKey(bad), /not a batch key/, bad)
})

test('identities: same id_schema and ids, whichever the action; the other action of a key', () => {
  const add = key({ action: 'add', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] })
  const del = key({ action: 'delete', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] })
  const ids = serializeIds(['a'.repeat(64), null])
  assert.equal(identityOf(add, ids), identityOf(del, ids))
  assert.notEqual(identityOf(add, ids), identityOf(key({ action: 'add', idSchema: ['EMAIL_SHA256'] }), ids))
  assert.notEqual(identityOf(add, ids), identityOf(add, serializeIds([null, 'a'.repeat(64)])))
  assert.deepEqual(keysOfSameSchema(del), { add, delete: del })
})

test('a partition key parses back to its destination, advertisers and audience', () => {
  const k = membershipPartitionKey(12, ['7001', '7002'], '900')
  assert.equal(k, '12|7001,7002|900')
  assert.deepEqual(parsePartitionKey(k), { destinationId: 12, advertiserIds: ['7001', '7002'], audienceId: '900' })
  assert.equal(createPartitionKey(12, '7001'), '12|create|7001')
})

test('a pack reads back as written: creations with awkward payloads, ids with quotes and backslashes, nulls, no ids', () => {
  const changes: PackChange[] = [
    { eventId: 1, mappingId: 2, batchKey: CREATE_KEY, ids: null, payload: '{"advertiserId":"7","name":"line\\nbreak, comma ] \\"quote\\""}' },
    {
      eventId: null,
      mappingId: null,
      batchKey: key({ action: 'add', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] }),
      ids: ['a'.repeat(64), null],
      payload: null
    },
    {
      eventId: 3,
      mappingId: 4,
      batchKey: key({ action: 'delete', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256'] }),
      ids: ['with "quote"', 'back\\slash', 'comma,and\nnewline'],
      payload: null
    },
    { eventId: 5, mappingId: 4, batchKey: key({ action: 'delete', idSchema: [''] }), ids: [], payload: null },
    // A line already written (migration 7's conversion): read back like the others.
    {
      eventId: 6,
      mappingId: 4,
      batchKey: key({ action: 'add', idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'] }),
      ids: [null, 'b'.repeat(64)],
      payload: null,
      json: `null,"${'b'.repeat(64)}"`
    }
  ]
  const open = read(changes)
  assert.deepEqual(
    open.map(({ eventId, mappingId, batchKey, ids, payload }) => ({ eventId, mappingId, batchKey, ids, payload })),
    changes.map(({ eventId, mappingId, batchKey, ids, payload }) => ({ eventId, mappingId, batchKey, ids, payload }))
  )
  assert.deepEqual(
    open.map((c) => [c.pack, c.at, c.createdAt]),
    changes.map((_, i) => [7, i, 5])
  )
  open.forEach((c, i) =>
    assert.equal(c.serializedIds, c.batchKey === CREATE_KEY ? '' : serializeIds(at(changes, i).ids!), `change ${i} keeps its ids as serialised`)
  )
  // Settled positions are skipped; the others keep their positions.
  assert.deepEqual(
    read(changes, '10110').map((c) => c.at),
    [1, 4]
  )
})

/** Ids of every shape: plain hashes, nulls, empty strings, quotes and backslashes, other characters. */
function idSamples(): (string | null)[][] {
  const samples: (string | null)[][] = [[], [null], ['ab'], [''], ['x', null, 'y', ''], [null, null], ['q"q', 'b\\s'], ['ünïcødé', '\u2028', 'tab\t']]
  for (let i = 0; i < 200; i++) {
    const n = 1 + (i % 4)
    samples.push(Array.from({ length: n }, (_, k) => ((i * 7 + k) % 3 === 0 ? null : (i * 31 + k) % 5 === 0 ? `h${i}"${k}\\` : `${i}${k}`.padEnd(64, 'f'))))
  }
  return samples
}

test('serialised ids: idsOf cuts plain hashes out and agrees with JSON.parse on anything', () => {
  for (const ids of idSamples()) {
    const text = serializeIds(ids)
    assert.equal(text, JSON.stringify(ids).slice(1, -1))
    assert.deepEqual(idsOf(text), ids, text)
  }
})

test('serialised ids: idCells wraps each id as JSON, an absent one (null, empty) as given', () => {
  for (const ids of idSamples()) {
    const text = serializeIds(ids)
    const cells = `[${idCells(text, '{"id":', '}', '{}')}]`
    assert.deepEqual(
      JSON.parse(cells),
      ids.map((id) => (id ? { id } : {})),
      text
    )
  }
})
