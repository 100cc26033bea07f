/**
 * SQLite durability without fsync on the event loop: the connection runs synchronous=NORMAL and a
 * write's promise resolves only after an fdatasync of the WAL that started after its COMMIT
 * (WalSyncer). These tests observe the syncs through the `walSync` seam, and the real one through
 * FileHandle.prototype.datasync.
 */
import assert from 'node:assert/strict'
import Database from 'better-sqlite3'
import { mkdtempSync, readdirSync, readlinkSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Db } from '../../src/store/db.js'
import { openSqlite, WalFile, WalSyncer } from '../../src/store/sqlite.js'
import { at } from '../../src/util/array.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function tempPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'tta-durable-')), 'db.sqlite')
}

/** A second connection that sees only committed rows: what a sync "covers" is what it saw at start. */
function committedIds(path: string): () => number[] {
  const reader = new Database(path, { readonly: true, fileMustExist: true })
  const stmt = reader.prepare('SELECT id FROM t ORDER BY id')
  return () => (stmt.all() as { id: number }[]).map((r) => r.id)
}

interface SyncRecord {
  /** Rows committed when the sync started. */
  covers: number[]
  done: boolean
}

/** A database with table t and a recording (optionally slowed or failing) WAL sync. */
async function recorded(opts: { delayMs?: number; gate?: () => Promise<void>; fail?: (n: number) => Error | undefined } = {}) {
  const path = tempPath()
  // Set once table t exists: the setup's own sync is neither recorded nor slowed nor failed.
  let read: (() => number[]) | null = null
  const syncs: SyncRecord[] = []
  const db = openSqlite(path, {
    walSync: async () => {
      if (!read) return
      const rec: SyncRecord = { covers: read(), done: false }
      syncs.push(rec)
      if (opts.delayMs) await sleep(opts.delayMs)
      if (opts.gate) await opts.gate()
      const err = opts.fail?.(syncs.length)
      if (err) throw err
      rec.done = true
    }
  })
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  read = committedIds(path)
  /** Whether a completed sync covered row `id` (it had been committed when the sync started). */
  const syncedAfterCommit = (id: number) => syncs.some((s) => s.done && s.covers.includes(id))
  return { db, path, syncs, syncedAfterCommit }
}

function insert(db: Db, id: number): Promise<number> {
  return db.tx(async (t) => {
    await t.run('INSERT INTO t (id, v) VALUES ($1, $2)', [id, `row ${id}`])
    return id
  })
}

/** Replaces FileHandle.prototype.datasync for the duration of `fn`, recording each call's inode. */
async function spyDatasync<T>(onCall: (ino: number, finished: Promise<void>) => void, fn: () => Promise<T>): Promise<T> {
  const probe = await open(tmpdir(), 'r')
  const proto = Object.getPrototypeOf(probe) as FileHandle
  await probe.close()
  const original = proto.datasync
  proto.datasync = async function (this: FileHandle) {
    const { ino } = await this.stat()
    const finished = original.call(this)
    onCall(ino, finished)
    return finished
  }
  try {
    return await fn()
  } finally {
    proto.datasync = original
  }
}

test('FULL: the connection itself runs synchronous=NORMAL; the WAL is fdatasynced after COMMIT and before tx() resolves', async () => {
  const path = tempPath()
  const db = openSqlite(path)
  assert.deepEqual(await db.get('PRAGMA synchronous'), { synchronous: 1 }, 'no fsync inside COMMIT')
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  const read = committedIds(path)
  const calls: { ino: number; sawRow: boolean; done: boolean }[] = []
  await spyDatasync(
    (ino, finished) => {
      const call = { ino, sawRow: read().includes(7), done: false }
      calls.push(call)
      void finished.then(() => (call.done = true))
    },
    async () => {
      await insert(db, 7)
      const wal = statSync(`${path}-wal`)
      assert.ok(
        calls.some((c) => c.ino === wal.ino && c.sawRow && c.done),
        `a datasync of ${path}-wal that started after the COMMIT completed before tx() resolved: ${JSON.stringify(calls)}`
      )
    }
  )
  await db.close()
})

test('a write outside a transaction (run, exec, INSERT … RETURNING through get) resolves after a sync that started after it', async () => {
  const { db, syncs, syncedAfterCommit } = await recorded({ delayMs: 5 })
  await db.run('INSERT INTO t (id, v) VALUES (1, $1)', ['a'])
  assert.ok(syncedAfterCommit(1))
  await db.exec(`INSERT INTO t (id, v) VALUES (2, 'b')`)
  assert.ok(syncedAfterCommit(2))
  const row = await db.get<{ id: number }>(`INSERT INTO t (id, v) VALUES (3, 'c') RETURNING id`)
  assert.equal(row?.id, 3)
  assert.ok(syncedAfterCommit(3))
  const before = syncs.length
  await db.all('SELECT * FROM t')
  await db.tx((t) => t.all('SELECT * FROM t'))
  assert.equal(syncs.length, before, 'a read with no write pending costs no sync')
  await db.close()
})

test('a write that returns rows and returned none changed nothing: it costs no sync; one that returned a row does', async () => {
  const { db, syncs } = await recorded()
  await db.run(`INSERT INTO t (id, v) VALUES (1, 'a')`)
  const before = syncs.length
  assert.equal(await db.get(`UPDATE t SET v = 'x' WHERE id = 99 RETURNING id`), undefined)
  assert.deepEqual(await db.all(`DELETE FROM t WHERE id = 99 RETURNING id`), [])
  assert.equal(syncs.length, before, 'nothing matched: no sync')
  assert.deepEqual(await db.get(`UPDATE t SET v = 'x' WHERE id = 1 RETURNING id`), { id: 1 })
  assert.equal(syncs.length, before + 1, 'a row changed: synced before it resolved')
  await db.close()
})

test('20 concurrent transactions share about two syncs, and each resolves after a sync that started after its COMMIT', async () => {
  const { db, syncs, syncedAfterCommit } = await recorded({ delayMs: 20 })
  const resolvedUncovered: number[] = []
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      insert(db, i + 1).then((id) => {
        if (!syncedAfterCommit(id)) resolvedUncovered.push(id)
      })
    )
  )
  assert.deepEqual(resolvedUncovered, [], 'resolved before a sync covering its commit had completed')
  assert.ok(syncs.length <= 3, `${syncs.length} syncs for 20 commits`)
  assert.ok(
    syncs.every((s, i) => i === 0 || s.covers.length > at(syncs, i - 1).covers.length),
    'every sync covers commits the previous one did not'
  )
  await db.close()
})

test('the lock is released before the sync: a second transaction runs while the first one is still syncing', async () => {
  let open!: () => void
  const gate = new Promise<void>((r) => (open = r))
  const { db, syncs, syncedAfterCommit } = await recorded({ gate: () => gate })
  const order: string[] = []
  const first = insert(db, 1).then(() => order.push('first resolved'))
  while (syncs.length === 0) await sleep(1)
  const second = db
    .tx(async (t) => {
      order.push('second body')
      await t.run(`INSERT INTO t (id, v) VALUES (2, 'b')`)
    })
    .then(() => order.push('second resolved'))
  for (let i = 0; i < 100 && !order.includes('second body'); i++) await sleep(1)
  assert.deepEqual(order, ['second body'], 'the second body ran during the first sync; nothing resolved yet')
  // A read of the first transaction's row waits for that row's sync too.
  let readDone = false
  const read = db.get('SELECT v FROM t WHERE id = 1').then(() => (readDone = true))
  await sleep(20)
  assert.equal(readDone, false, 'a read resolves only once what it saw is synced')
  assert.equal(syncs.length, 1, 'the second commit waits for the next sync, not the running one')
  open()
  await Promise.all([first, second, read])
  assert.deepEqual(order, ['second body', 'first resolved', 'second resolved'])
  assert.equal(syncs.length, 2)
  assert.ok(syncedAfterCommit(2) && !at(syncs, 0).covers.includes(2))
  await db.close()
})

test('a failing sync rejects the writes waiting for it; later writes get a sync of their own', async () => {
  const { db, syncedAfterCommit } = await recorded({ fail: (n) => (n === 1 ? new Error('EIO: disk on fire') : undefined) })
  await assert.rejects(insert(db, 1), /disk on fire/)
  await insert(db, 2)
  assert.ok(syncedAfterCommit(2))
  const { db: db2 } = await recorded({ fail: () => new Error('EIO again') })
  await assert.rejects(db2.run(`INSERT INTO t (id, v) VALUES (1, 'a')`), /EIO again/)
  await assert.rejects(db2.exec(`INSERT INTO t (id, v) VALUES (2, 'b')`), /EIO again/)
  await db.close()
  await db2.close()
})

test('NORMAL, OFF and :memory: never sync', async () => {
  for (const [path, synchronous] of [
    [tempPath(), 'NORMAL'],
    [tempPath(), 'OFF'],
    [':memory:', 'FULL'],
    [':memory:', undefined]
  ] as const) {
    let syncs = 0
    const db = openSqlite(path, { synchronous, walSync: async () => void syncs++ })
    if (synchronous === 'NORMAL') assert.deepEqual(await db.get('PRAGMA synchronous'), { synchronous: 1 })
    // OFF (send's throw-away database): SQLite does not sync at checkpoints either.
    if (synchronous === 'OFF') assert.deepEqual(await db.get('PRAGMA synchronous'), { synchronous: 0 })
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
    await insert(db, 1)
    await db.run(`INSERT INTO t (id, v) VALUES (2, 'b')`)
    assert.equal(syncs, 0, `${path} ${synchronous}`)
    await db.close()
  }
})

test('WalFile: no file yet is nothing to sync; a recreated file (new inode) is reopened', async () => {
  const path = `${tempPath()}-wal`
  const wal = new WalFile(path, 0)
  const synced: number[] = []
  await spyDatasync(
    (ino) => synced.push(ino),
    async () => {
      await wal.datasync()
      assert.deepEqual(synced, [], 'no WAL yet: nothing synced, no error')
      writeFileSync(path, 'one')
      await wal.datasync()
      const first = statSync(path).ino
      // The WalFile's open handle keeps the old inode alive, so the new file gets another number.
      unlinkSync(path)
      writeFileSync(path, 'two')
      const second = statSync(path).ino
      assert.notEqual(first, second)
      await wal.datasync()
      assert.deepEqual(synced, [first, second])
    }
  )
  await wal.close()
})

test('close() closes the WAL file handle', { skip: process.platform !== 'linux' }, async () => {
  const path = tempPath()
  const db = openSqlite(path)
  await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
  await insert(db, 1)
  const openWal = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${path}-wal`)
      } catch {
        return false
      }
    })
  assert.ok(openWal().length >= 2, 'SQLite and the syncer both hold the WAL open')
  await db.close()
  assert.deepEqual(openWal(), [])
})

test('WalSyncer: a sync that throws synchronously rejects its waiters too', async () => {
  let n = 0
  const syncer = new WalSyncer(() => {
    if (++n === 1) throw new Error('sync threw')
    return Promise.resolve()
  })
  await assert.rejects(syncer.afterWrite(), /sync threw/)
  await syncer.afterWrite()
  assert.equal(n, 2)
  await syncer.drain()
})
