/**
 * `serve`'s route workers: a `/v1/batch` body routed in a worker is what routing it in the request
 * thread gives, refusals carry the same status and message, a changed configuration reaches the
 * worker before the next body, and a worker that stops fails its requests (500: not stored) and
 * leaves routing to the request thread.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { applyConfig } from '../../src/config/apply.js'
import type { ConfigFile } from '../../src/config/schema.js'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { routeBatch } from '../../src/pipeline/route-batch.js'
import { RoutingTable } from '../../src/pipeline/routing-table.js'
import { batchFromBytes, IngestError } from '../../src/server/batch-body.js'
import { RoutePool } from '../../src/server/route-pool.js'
import { routeWorkerCount } from '../../src/util/worker.js'
import { openStore, type Store } from '../../src/store/index.js'
import { listSources } from '../../src/store/sql/config.js'
import { TikTokClient } from '../../src/tiktok/client.js'
import { at, first } from '../../src/util/array.js'
import { audienceEvent } from '../helpers/events.js'

const AUD = 'pool_aud'
let emu: RunningEmulator
let store: Store
let dir: string
let sourceId: number
let config: ConfigFile

before(async () => {
  emu = await startEmulator({ log: false })
  dir = mkdtempSync(join(tmpdir(), 'tta-pool-'))
  store = await openStore(`sqlite:${join(dir, 'db.sqlite')}`, { secretKey: 'k' })
  config = {
    sources: [{ name: 'engage', writeKey: 'wk_pool' }],
    destinations: [
      {
        name: 'tiktok',
        source: 'engage',
        mode: 'native',
        accessToken: 'emulator-access-token',
        mappings: [{ name: 'Add', action: 'addToAudience' }],
        audiences: [{ key: AUD, name: 'Pool audience', advertiserId: '7000000000000000001' }]
      }
    ]
  } as ConfigFile
  const applied = await applyConfig(store, config, new TikTokClient({ baseUrl: emu.apiUrl }))
  assert.deepEqual(applied.problems, [])
  sourceId = (await listSources(store.db)).find((s) => s.name === 'engage')!.id
})
after(async () => {
  await store?.close()
  await emu?.close()
  rmSync(dir, { recursive: true, force: true })
})

const body = (tags: string[], extra: object[] = []) =>
  JSON.stringify({
    batch: [
      ...tags.map((t) => audienceEvent({ userId: t, email: `${t}@pool.example.com`, phone: '+14155550123' }, AUD, true, { messageId: `pool-${t}` })),
      ...extra
    ]
  })

/** What the request thread would make of the same body with the same configuration. */
async function inThread(table: RoutingTable, text: string, receivedAt: number) {
  await table.refresh()
  const events = batchFromBytes(Buffer.from(text), new Date(receivedAt).toISOString())
  return routeBatch(
    table,
    events.map((event) => ({ sourceId, event, receivedAt }))
  )
}

test('TTA_ROUTE_WORKERS: a whole number, 0 turns the workers off; by default one per core but one', () => {
  assert.equal(routeWorkerCount({ TTA_ROUTE_WORKERS: '0' }), 0)
  assert.equal(routeWorkerCount({ TTA_ROUTE_WORKERS: '3' }), 3)
  assert.throws(() => routeWorkerCount({ TTA_ROUTE_WORKERS: 'two' }), /TTA_ROUTE_WORKERS must be a whole number/)
  assert.ok(routeWorkerCount({}) >= 0 && routeWorkerCount({}) <= 4)
})

test('a body routed in a worker equals routing it in the request thread; a changed configuration reaches the worker first', async () => {
  const table = new RoutingTable(store)
  const pool = new RoutePool(table, 2)
  try {
    const now = Date.now()
    const text = body(['a', 'b', 'c'])
    const routed = await pool.route(Buffer.from(text), sourceId, now)
    assert.ok(routed, 'routed by a worker')
    assert.deepEqual(routed, await inThread(new RoutingTable(store), text, now))
    assert.equal(routed.changes.count, 3)
    assert.match(routed.changes.carried, /^"[0-9a-f]{64}","[0-9a-f]{64}"/, 'email and phone hashed')

    // The mapping stops sending phones: the next body, whichever worker routes it, has none.
    const changed = structuredClone(config)
    first(changed.destinations!).mappings = [{ name: 'Add', action: 'addToAudience', mapping: { send_phone: false } }]
    assert.deepEqual((await applyConfig(store, changed, new TikTokClient({ baseUrl: emu.apiUrl }))).problems, [])
    for (const t of ['d', 'e']) {
      const text2 = body([t])
      const again = await pool.route(Buffer.from(text2), sourceId, now)
      assert.deepEqual(again, await inThread(new RoutingTable(store), text2, now))
      assert.match(again!.changes.carried, /^"[0-9a-f]{64}",null/, 'phone no longer sent')
    }
  } finally {
    await pool.close()
  }
})

test('a refused body: the same status and message as in the request thread', async () => {
  const pool = new RoutePool(new RoutingTable(store), 1)
  try {
    const bad = [
      '{"batch":[}',
      '"hello"',
      JSON.stringify({ events: [] }),
      body(['f'], [{ type: 'track', userId: 'u' }]),
      body(['g'], [{ type: 'track', event: 'x', userId: 'u', properties: { pad: 'x'.repeat(33 * 1024) } }]),
      `{"batch":[${'['.repeat(20_000)}${']'.repeat(20_000)}]}`
    ]
    for (const text of bad) {
      let expected: IngestError | undefined
      try {
        batchFromBytes(Buffer.from(text), new Date().toISOString())
      } catch (err) {
        expected = err as IngestError
      }
      assert.ok(expected instanceof IngestError, `in-thread refuses ${text.slice(0, 40)}`)
      await assert.rejects(pool.route(Buffer.from(text), sourceId, Date.now()), (err: unknown) => {
        assert.ok(err instanceof IngestError)
        assert.equal(err.status, expected!.status)
        assert.equal(err.message, expected!.message)
        return true
      })
    }
    assert.ok(await pool.route(Buffer.from(body(['h'])), sourceId, Date.now()), 'the worker still routes after refusals')
  } finally {
    await pool.close()
  }
})

test('a worker that stops fails its pending bodies (not stored), and routing falls back to the request thread', async () => {
  const pool = new RoutePool(new RoutingTable(store), 1)
  try {
    assert.ok(await pool.route(Buffer.from(body(['i'])), sourceId, Date.now()), 'the worker is up')
    type Internals = { workers: { worker: { postMessage(m: unknown): void; terminate(): Promise<number> } }[] }
    const { workers } = pool as unknown as Internals
    assert.equal(workers.length, 1)
    // Stopped the moment it is handed a body of 20,000 events (it takes far longer to route).
    const w = at(workers, 0).worker
    let stopped: Promise<number> | undefined
    const post = w.postMessage.bind(w)
    w.postMessage = (m: unknown) => {
      post(m)
      stopped = w.terminate()
    }
    const pending = pool.route(Buffer.from(body(Array.from({ length: 20_000 }, (_, i) => `big-${i}`))), sourceId, Date.now())
    await assert.rejects(pending, /the route worker stopped/)
    await stopped
    assert.equal(await pool.route(Buffer.from(body(['j'])), sourceId, Date.now()), undefined, 'no worker left: the request thread routes')
  } finally {
    await pool.close()
  }
})

test('each routed change is keyed by its own partition and batch kind, also when consecutive changes differ', async () => {
  const table = new RoutingTable(store)
  const now = Date.now()
  const event = (t: string, audienceId: string) =>
    audienceEvent({ userId: t, email: `${t}@pool.example.com` }, 'unconnected_aud', true, {
      messageId: `keys-${t}`,
      externalAudienceId: audienceId,
      advertiserId: '7000000000000000001'
    })
  const events = [event('k1', '111'), event('k2', '111'), event('k3', '222'), event('k4', '111'), event('k5', '222'), event('k6', '222')]
  const routed = await inThread(table, JSON.stringify({ batch: events }), now)
  const audiences = Array.from(routed.changes.key, (k) => routed.changes.keys[k]?.split('\t')[0]?.split('|')[2])
  assert.deepEqual(audiences, ['111', '111', '222', '111', '222', '222'])
  assert.equal(new Set(routed.changes.keys).size, routed.changes.keys.length, 'each key once')
})
