/** The batch planner: which queued changes of one partition go into the next request, in order. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { at } from '../../src/util/array.js'
import { planBatch, toQueued, type QueuedChange } from '../../src/pipeline/batch-plan.js'
import { CREATE_KEY, encodeBatchKey, serializeIds } from '../../src/store/queue-format.js'

let seq = 0
/** A queued change: action, id_schema and the hashed ids ('a', 'p' stand for hashes). */
function q(action: 'add' | 'delete', schema: string, ids: (string | null)[]): QueuedChange {
  seq++
  return toQueued(
    {
      pack: 1,
      at: seq,
      createdAt: 0,
      eventId: seq,
      mappingId: null,
      batchKey: encodeBatchKey({ action, idSchema: schema.split(',') }),
      ids,
      serializedIds: serializeIds(ids),
      payload: null
    },
    seq
  )
}
const E = 'EMAIL_SHA256'
const EP = 'EMAIL_SHA256,PHONE_SHA256'
const ids = (cs: QueuedChange[]) => cs.map((c) => c.id)

/** Applies plans until the queue is empty; returns the requests and the final state per identifier. */
function drain(rows: QueuedChange[], max = 100) {
  let queue = [...rows]
  const requests: string[] = []
  const state = new Map<string, 'in' | 'out'>()
  while (queue.length) {
    const plan = planBatch(queue, max)
    requests.push(`${plan.batchKey}:${plan.send.map((c) => c.ids!.join('+')).join(',')}`)
    for (const c of plan.send) for (const h of c.ids!) if (h) state.set(h, c.batchKey.startsWith('add') ? 'in' : 'out')
    const done = new Set([...ids(plan.send), ...ids(plan.superseded)])
    queue = queue.filter((c) => !done.has(c.id))
  }
  return { requests, state }
}

/** The state per identifier if every change were applied one by one in input order. */
function sequential(rows: QueuedChange[]) {
  const state = new Map<string, 'in' | 'out'>()
  for (const c of rows) for (const h of c.ids!) if (h) state.set(h, c.batchKey.startsWith('add') ? 'in' : 'out')
  return state
}

test('same kind: one request, in order, up to the batch size', () => {
  const rows = [q('add', E, ['a']), q('add', E, ['b']), q('add', E, ['c'])]
  const plan = planBatch(rows, 2)
  assert.deepEqual(ids(plan.send), [at(rows, 0).id, at(rows, 1).id])
  assert.equal(plan.batchKey, `add|${E}`)
  assert.deepEqual(plan.superseded, [])
})

test('enter then exit of the same user collapses to the exit', () => {
  const rows = [q('add', E, ['a']), q('add', E, ['b']), q('delete', E, ['a'])]
  const first = planBatch(rows, 100)
  assert.deepEqual(ids(first.send), [at(rows, 1).id], 'b is added; a waits for its last state')
  const second = planBatch([at(rows, 0), at(rows, 2)], 100)
  assert.equal(second.batchKey, `delete|${E}`)
  assert.deepEqual(ids(second.send), [at(rows, 2).id])
  assert.deepEqual(ids(second.superseded), [at(rows, 0).id], 'the superseded enter is settled with the exit')
})

test('never mixes id_schema (send_* combinations) in one request', () => {
  const rows = [q('add', E, ['a']), q('add', EP, ['b', 'pb']), q('add', E, ['c'])]
  const plan = planBatch(rows, 100)
  assert.deepEqual(ids(plan.send), [at(rows, 0).id, at(rows, 2).id])
})

test('a change does not overtake an earlier change of another kind that shares an identifier', () => {
  const rows = [q('add', EP, ['a', 'p']), q('delete', E, ['a']), q('add', EP, ['a', 'p2'])]
  const { state, requests } = drain(rows)
  assert.deepEqual(requests, [`add|${EP}:a+p`, `delete|${E}:a`, `add|${EP}:a+p2`])
  assert.deepEqual(state, sequential(rows))
})

test('any interleaving of adds and deletes ends in the state of applying them in order', () => {
  // Deterministic pseudo-random sequences over a few users, two schemas, both actions.
  let x = 42
  const rnd = (n: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % n)
  for (let round = 0; round < 300; round++) {
    const rows: QueuedChange[] = []
    for (let i = 0; i < 12; i++) {
      const u = `u${rnd(4)}`
      const action = rnd(2) ? 'add' : 'delete'
      rows.push(rnd(2) ? q(action, E, [u]) : q(action, EP, [u, `p${u}`]))
    }
    const { state } = drain(rows, 1 + rnd(5))
    assert.deepEqual(state, sequential(rows), `round ${round}`)
  }
})

test('audience creations are sent one at a time', () => {
  seq++
  const create = toQueued(
    { pack: 1, at: seq, createdAt: 0, eventId: seq, mappingId: null, batchKey: CREATE_KEY, ids: null, serializedIds: serializeIds([]), payload: '{}' },
    seq
  )
  const plan = planBatch([create, q('add', E, ['a'])], 100)
  assert.equal(plan.batchKey, 'create')
  assert.deepEqual(ids(plan.send), [create.id])
})

test('a change is not superseded across an audience creation: it is sent before the creation', () => {
  seq++
  const create = toQueued(
    { pack: 1, at: seq, createdAt: 0, eventId: seq, mappingId: null, batchKey: CREATE_KEY, ids: null, serializedIds: serializeIds([]), payload: '{}' },
    seq
  )
  const before = q('add', E, ['a'])
  const rows = [before, create, q('add', E, ['a'])]
  const plan = planBatch(rows, 100)
  assert.notEqual(plan.batchKey, undefined)
  assert.deepEqual(ids(plan.send), [before.id], 'the change ahead of the creation goes first, alone')
})
