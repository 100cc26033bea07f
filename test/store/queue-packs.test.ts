/** Pack bodies: what is encoded is read back the same, whatever the ids and payloads hold. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodePack, idsOfTail, openChangesOf, rowTail, type PackChange } from '../../src/store/sql/queue-packs.js'

const read = (changes: PackChange[], settled: string | null = null) =>
  openChangesOf({ id: 7, partition_id: 1, n: changes.length, settled, body: encodePack(changes), created_at: 5 })

test('a pack reads back as written: creations with awkward payloads, ids with quotes and backslashes, nulls, no ids', () => {
  const changes: PackChange[] = [
    { eventId: 1, mappingId: 2, batchKey: 'create', ids: null, payload: '{"advertiserId":"7","name":"line\\nbreak, comma ] \\"quote\\""}' },
    { eventId: null, mappingId: null, batchKey: 'add|EMAIL_SHA256,PHONE_SHA256', ids: ['a'.repeat(64), null], payload: null },
    { eventId: 3, mappingId: 4, batchKey: 'delete|EMAIL_SHA256,PHONE_SHA256,IDFA_SHA256', ids: ['with "quote"', 'back\\slash', 'comma,and\nnewline'], payload: null },
    { eventId: 5, mappingId: 4, batchKey: 'delete|', ids: [], payload: null },
    { eventId: 6, mappingId: 4, batchKey: 'add|EMAIL_SHA256,PHONE_SHA256', ids: [null, 'b'.repeat(64)], payload: null, json: rowTail({ batchKey: 'add|x', ids: [null, 'b'.repeat(64)], payload: null }) }
  ]
  const open = read(changes)
  assert.deepEqual(
    open.map(({ eventId, mappingId, batchKey, ids, payload }) => ({ eventId, mappingId, batchKey, ids, payload })),
    changes.map(({ eventId, mappingId, batchKey, ids, payload }) => ({ eventId, mappingId, batchKey, ids, payload }))
  )
  assert.deepEqual(open.map((c) => [c.pack, c.at, c.createdAt]), changes.map((_, i) => [7, i, 5]))
  open.forEach((c, i) => assert.equal(c.tail, rowTail(changes[i]), `tail ${i} is the row tail as routed`))
  // Settled positions are skipped; the others keep their positions.
  assert.deepEqual(read(changes, '10110').map((c) => c.at), [1, 4])
})

test('idsOfTail cuts plain hashes out and agrees with JSON.parse on anything', () => {
  const samples: (string | null)[][] = [[], [null], ['ab'], ['x', null, 'y'], [null, null], ['q"q', 'b\\s'], ['ünïcødé', '\u2028', 'tab\t']]
  for (let i = 0; i < 200; i++) {
    const n = 1 + (i % 4)
    samples.push(Array.from({ length: n }, (_, k) => ((i * 7 + k) % 3 === 0 ? null : ((i * 31 + k) % 5 === 0 ? `h${i}"${k}\\` : `${i}${k}`.padEnd(64, 'f')))))
  }
  for (const ids of samples) {
    const tail = JSON.stringify(ids).slice(1, -1)
    assert.deepEqual(idsOfTail(tail), ids, tail)
  }
})
