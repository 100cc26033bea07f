/**
 * The open queue across requests, as the deliverer drives it: packs arrive between requests,
 * changes in flight are held out of the next plan (planned while TikTok answers, as prepareAhead
 * does) and dropped once settled. The queue drains completely, to the state of applying every
 * change in order.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planBatch, type QueuedChange } from '../../src/pipeline/batch-plan.js'
import { OpenQueue } from '../../src/pipeline/open-queue.js'
import { migrate } from '../../src/store/migrations.js'
import { openSqlite } from '../../src/store/sqlite.js'
import { insertPacks, settlePositions } from '../../src/store/sql/queue-packs.js'
import { encodeBatchKey, PackBody, parseBatchKey, type PackChange } from '../../src/store/queue-format.js'
import { at } from '../../src/util/array.js'

/** A small deterministic generator (the same changes on every run). */
function random(seed: number): () => number {
  let s = seed
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  }
}

const SCHEMAS = ['EMAIL_SHA256', 'EMAIL_SHA256,PHONE_SHA256']

test('held, settled and newly read changes: the queue drains to the state of applying every change in order', async () => {
  for (const seed of [1, 2, 3]) {
    const rnd = random(seed)
    const db = openSqlite(':memory:')
    await migrate(db)
    await db.run(`INSERT INTO sources (id, name, created_at) VALUES (1, 's', 0)`)
    await db.run(`INSERT INTO destinations (id, name, source_id, mode, created_at, updated_at) VALUES (1, 'd', 1, 'native', 0, 0)`)
    await db.run(`INSERT INTO partitions (id, key, destination_id, pending) VALUES (1, '1|7|100', 1, 0)`)

    // 1,500 changes of 12 people, entering and leaving, under one of two id_schemas.
    const changes: PackChange[] = []
    for (let i = 0; i < 1500; i++) {
      const person = Math.floor(rnd() * 12)
      const schema = at(SCHEMAS, person % 3 === 0 ? 1 : 0)
      const ids = schema.includes('PHONE') ? [`e${person}`, rnd() < 0.5 ? `p${person}` : null] : [`e${person}`]
      changes.push({
        eventId: i + 1,
        mappingId: 1,
        batchKey: encodeBatchKey({ action: rnd() < 0.6 ? 'add' : 'delete', idSchema: schema.split(',') }),
        ids,
        payload: null
      })
    }
    const sequential = new Map<string, string>()
    /** Who a change is about, and what it says of them. */
    const person = (c: { batchKey: PackChange['batchKey']; ids: (string | null)[] | null }): [string, string] => {
      const kind = parseBatchKey(c.batchKey)
      return [`${kind.action === 'create' ? '' : kind.idSchema.join(',')}|${JSON.stringify(c.ids)}`, kind.action]
    }
    for (const c of changes) sequential.set(...person(c))

    const tiktok = new Map<string, string>()
    const queue = new OpenQueue(db, 1)
    let queued = 0
    let requests = 0
    const send = (plan: ReturnType<typeof planBatch>) => {
      for (const c of plan.send) tiktok.set(...person(c))
    }
    const settle = async (plan: ReturnType<typeof planBatch>) => {
      await db.tx(async (t) => {
        await settlePositions(t, plan.send)
        await settlePositions(t, plan.superseded)
      })
      queue.settled(plan.send, plan.superseded)
    }
    /** The next plan; rows in flight are never planned again. */
    const next = async (): Promise<ReturnType<typeof planBatch> | undefined> => {
      const rows: QueuedChange[] = await queue.read(40)
      assert.ok(
        rows.every((c) => c.state === 0),
        'only free rows are read'
      )
      return rows.length === 0 ? undefined : planBatch(rows, 15)
    }

    while (queued < changes.length || requests < 10_000) {
      // Packs arrive between requests, a few changes each.
      if (queued < changes.length && rnd() < 0.7) {
        const n = 1 + Math.floor(rnd() * 30)
        const body = PackBody.of(changes.slice(queued, queued + n))
        queued = Math.min(changes.length, queued + n)
        await db.tx((t) => insertPacks(t, [{ partitionId: 1, destinationId: 1, createdAt: 0, body }]))
      }
      const plan = await next()
      if (!plan) {
        if (queued >= changes.length) break
        continue
      }
      requests++
      queue.hold(plan.send, plan.superseded)
      send(plan)
      // Half the time the next request is planned while this one is in flight.
      const ahead = rnd() < 0.5 ? await next() : undefined
      await settle(plan)
      if (ahead) {
        requests++
        queue.hold(ahead.send, ahead.superseded)
        send(ahead)
        await settle(ahead)
      }
    }
    assert.deepEqual(await queue.read(40), [], `seed ${seed}: the queue is empty`)
    assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM queue_packs'))!.n), 0)
    assert.deepEqual([...tiktok].sort(), [...sequential].sort(), `seed ${seed}: TikTok ends where applying every change in order ends`)
    assert.ok(requests > 50, `seed ${seed}: ${requests} requests`)
    await db.close()
  }
})
