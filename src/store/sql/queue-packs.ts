/**
 * The queue proper: packs. A pack is the changes one ingestion transaction queued for one
 * partition, in order, stored as one row; which of them are settled is a bitmap on the row, and a
 * pack whose changes are all settled is deleted. Order within a partition is (pack id, position).
 * The body's format is queue-format.ts's.
 */
import { chunks, placeholders, valuesList, type Db } from '../db.js'
import { openChangesOf, type OpenChange, type PackBody, type PackRow } from '../queue-format.js'
import { int4Array, int8Array, textArray } from '../pg-arrays.js'
import { at, last } from '../../util/array.js'
import { must } from '../../util/must.js'

export interface NewPack {
  partitionId: number
  destinationId: number
  body: PackBody
  createdAt: number
}

const COLS = 8
/** Queues packs (one multi-row statement per 50). */
export async function insertPacks(db: Db, packs: NewPack[]): Promise<void> {
  for (const part of chunks(
    packs.filter((p) => p.body.count > 0),
    50
  )) {
    const params: (string | number | null)[] = []
    for (const { partitionId, destinationId, body, createdAt } of part) {
      params.push(partitionId, destinationId, body.firstEventId, body.lastEventId, body.count, body.count, body.text(), createdAt)
    }
    await db.run(
      `INSERT INTO queue_packs (partition_id, destination_id, first_event_id, last_event_id, n, open, body, created_at) VALUES ${valuesList(part.length, COLS)}`,
      params
    )
  }
}

/**
 * The next open changes of a partition after pack `afterPack`, in order, whole packs holding about
 * `changes` of them; and the last pack read (`afterPack` when none).
 */
export async function readOpenChanges(db: Db, partitionId: number, afterPack: number, changes: number): Promise<{ changes: OpenChange[]; lastPack: number }> {
  const out: OpenChange[] = []
  let open = 0
  let after = afterPack
  while (open < changes) {
    const rows = await db.all<PackRow & { open: number }>(
      `SELECT id, partition_id, n, open, settled, body, created_at FROM queue_packs WHERE partition_id = $1 AND id > $2 ORDER BY id LIMIT 8`,
      [partitionId, after]
    )
    for (const r of rows) {
      appendAll(out, openChangesOf(r))
      open += Number(r.open)
    }
    if (rows.length > 0) after = Number(last(rows).id)
    if (rows.length < 8) break
  }
  return { changes: out, lastPack: after }
}

/**
 * Open changes of a partition's packs up to pack `upToPack` other than those in `held` (the queue's
 * reader has them): packs that became visible after later ones were read (see pipeline/open-queue.ts).
 */
export async function readChangesBelow(db: Db, partitionId: number, upToPack: number, held: ReadonlySet<number>): Promise<OpenChange[]> {
  const ids = (await db.all<{ id: number }>('SELECT id FROM queue_packs WHERE partition_id = $1 AND id <= $2 ORDER BY id', [partitionId, upToPack]))
    .map((r) => Number(r.id))
    .filter((id) => !held.has(id))
  const out: OpenChange[] = []
  for (const part of chunks(ids, 200)) {
    const rows = await db.all<PackRow>(
      `SELECT id, partition_id, n, settled, body, created_at FROM queue_packs WHERE id IN (${placeholders(part.length)}) ORDER BY id`,
      part
    )
    for (const r of rows) appendAll(out, openChangesOf(r))
  }
  return out
}

function appendAll<T>(to: T[], values: readonly T[]): void {
  for (let i = 0; i < values.length; i++) to.push(at(values, i))
}

/**
 * Settles changes by position; returns those that were still open (a repeat after a lost lease
 * settles nothing). A pack left with no open change is deleted.
 */
export async function settlePositions<T extends { pack: number; at: number }>(db: Db, changes: T[]): Promise<T[]> {
  const byPack = groupByPack(changes)
  const settled: T[] = []
  if (byPack.size === 0) return settled
  const lock = db.dialect === 'postgres' ? 'FOR UPDATE' : ''
  for (const part of chunks(
    [...byPack.keys()].sort((a, b) => a - b),
    100
  )) {
    const rows = await db.all<{ id: number; n: number; open: number; settled: string | null }>(
      `SELECT id, n, open, settled FROM queue_packs WHERE id IN (${placeholders(part.length)}) ORDER BY id ${lock}`,
      part
    )
    const { emptied, left } = settleRows(rows, byPack, settled)
    // One statement for the packs emptied, one per pack left open (PostgreSQL: one for all of them):
    // a 10,000-row request settles ~100 packs of a busy partition, a round trip each before.
    if (emptied.length > 0) await db.run(`DELETE FROM queue_packs WHERE id IN (${placeholders(emptied.length)})`, emptied)
    if (left.length === 0) continue
    if (db.dialect === 'postgres') {
      await db.run(
        `UPDATE queue_packs q SET open = u.open, settled = u.settled FROM unnest($1::bigint[], $2::integer[], $3::text[]) AS u(id, open, settled) WHERE q.id = u.id`,
        [int8Array(left.map((l) => l.id)), int4Array(left.map((l) => l.open)), textArray(left.map((l) => l.bits))]
      )
    } else for (const l of left) await db.run('UPDATE queue_packs SET open = $2, settled = $3 WHERE id = $1', [l.id, l.open, l.bits])
  }
  return settled
}

/** The packs `rows` with `byPack`'s changes settled: those left with no open change, and the others' new state. */
function settleRows<T extends { at: number }>(
  rows: { id: number; n: number; open: number; settled: string | null }[],
  byPack: Map<number, T[]>,
  settled: T[]
): { emptied: number[]; left: { id: number; open: number; bits: string }[] } {
  const emptied: number[] = []
  const left: { id: number; open: number; bits: string }[] = []
  for (const r of rows) {
    const before = settled.length
    const bits = settleBits(r.settled ?? '0'.repeat(Number(r.n)), must(byPack.get(Number(r.id)), `the changes settled in pack ${r.id}`), settled)
    const newly = settled.length - before
    if (newly === 0) continue
    const open = Number(r.open) - newly
    if (open <= 0) emptied.push(Number(r.id))
    else left.push({ id: Number(r.id), open, bits })
  }
  return { emptied, left }
}

// The loops over every change are functions of their own (docs/PERFORMANCE.md §1).

function groupByPack<T extends { pack: number }>(changes: T[]): Map<number, T[]> {
  const byPack = new Map<number, T[]>()
  for (const c of changes) {
    let list = byPack.get(c.pack)
    if (!list) byPack.set(c.pack, (list = []))
    list.push(c)
  }
  return byPack
}

/** Marks the positions of `changes` in a pack's settled bits; those not settled before go to `settled`. Returns the new bits. */
function settleBits<T extends { at: number }>(before: string, changes: T[], settled: T[]): string {
  const bits = before.split('')
  for (const c of changes) {
    if (bits[c.at] === '1') continue
    bits[c.at] = '1'
    settled.push(c)
  }
  return bits.join('')
}

/** Open changes of packs holding events in `[fromEventId, toEventId]` (per-event outcomes: which are still pending). */
export async function openChangesOfEvents(db: Db, fromEventId: number, toEventId: number): Promise<OpenChange[]> {
  const out: OpenChange[] = []
  let after = 0
  for (;;) {
    const rows = await db.all<PackRow>(
      `SELECT id, partition_id, n, settled, body, created_at FROM queue_packs
       WHERE id > $1 AND last_event_id >= $2 AND first_event_id <= $3 ORDER BY id LIMIT 50`,
      [after, fromEventId, toEventId]
    )
    for (const r of rows) for (const c of openChangesOf(r)) if (c.eventId !== null && c.eventId >= fromEventId && c.eventId <= toEventId) out.push(c)
    if (rows.length < 50) return out
    after = Number(last(rows).id)
  }
}

/** Open changes of one partition (dead-letter replay looks for later changes of the same identifiers). */
export async function openChangesOfPartition(db: Db, partitionId: number): Promise<OpenChange[]> {
  const out: OpenChange[] = []
  let after = 0
  for (;;) {
    const next = await readOpenChanges(db, partitionId, after, 50_000)
    if (next.lastPack === after) return out
    appendAll(out, next.changes)
    after = next.lastPack
  }
}

/** The oldest event a pack still holds an open change of (retention keeps it and everything after). */
export async function oldestOpenEventId(db: Db): Promise<number | undefined> {
  const r = await db.get<{ m: number | null }>('SELECT MIN(first_event_id) AS m FROM queue_packs')
  return r?.m == null ? undefined : Number(r.m)
}
