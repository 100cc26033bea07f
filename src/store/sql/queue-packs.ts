/**
 * The queue proper: packs. A pack is the changes one ingestion transaction queued for one
 * partition, in order, stored as one row; which of them are settled is a bitmap on the row, and a
 * pack whose changes are all settled is deleted. Order within a partition is (pack id, position).
 *
 * Body (text, migration 7): the batch keys as a JSON array on the first line, then a line per
 * change: `eventId,mappingId,keyIndex` and, after a comma, its *tail* as JSON text — for a
 * membership change the hashed ids aligned with the batch key's id_schema (`"h1",null,"h3"`), for
 * an audience creation its payload as one JSON string. JSON text holds no raw newline, so a pack is
 * read by splitting lines and cutting at three commas, without parsing the hashes (the deliverer
 * reads every change of the queue back once; the tail also serves as the change's identity).
 */
import { chunks, placeholders, valuesList, type Db } from '../db.js'
import { jsonItems } from '../../util/json.js'

export interface PackChange {
  eventId: number | null
  mappingId: number | null
  /** `add|EMAIL_SHA256,PHONE_SHA256`, `delete|…` or `create`. */
  batchKey: string
  /** Hashed ids aligned with the batch key's id_schema (membership changes). */
  ids: (string | null)[] | null
  /** What an audience creation needs, as JSON (`create`). */
  payload: string | null
  /** The row's tail as JSON text, when routing already wrote it: `"h1","h2",null` or the payload as a JSON string. */
  json?: string
}

export interface NewPack {
  partitionId: number
  destinationId: number
  body: PackBody
  createdAt: number
}

export interface PackRow {
  id: number
  partition_id: number
  n: number
  settled: string | null
  body: string
  created_at: number
}

/**
 * A change as read back from its pack: where it lives (pack, position) and what it carries. Its
 * hashed ids are cut out of the stored tail only when asked for: requests are written from the
 * tails themselves (mappingBodyOfItems), and supersession compares tails.
 */
export class OpenChange implements PackChange {
  constructor(
    readonly pack: number,
    readonly at: number,
    readonly createdAt: number,
    readonly eventId: number | null,
    readonly mappingId: number | null,
    readonly batchKey: string,
    /** Its row's tail as stored (see rowTail). */
    readonly tail: string,
    readonly payload: string | null
  ) {}

  /** Hashed ids aligned with the batch key's id_schema (membership changes); computed from the tail. */
  get ids(): (string | null)[] | null {
    return this.batchKey === 'create' ? null : idsOfTail(this.tail)
  }
}

/** The action of a batch key: `add`, `delete` or `create`. */
export function actionOf(batchKey: string): string {
  const bar = batchKey.indexOf('|')
  return bar < 0 ? batchKey : batchKey.slice(0, bar)
}

/**
 * Who a membership change is about: its id_schema and hashed ids. Changes of one identity supersede
 * each other (the last one carries the state); a dead letter is resolved by a later one.
 */
export function identityOf(batchKey: string, ids: (string | null)[]): string {
  return identityOfTail(batchKey, membershipTail(ids))
}

/** identityOf from a change's stored tail (the same text: no need to look at the ids). */
export function identityOfTail(batchKey: string, tail: string): string {
  return `${batchKey.slice(batchKey.indexOf('|') + 1)}|${tail}`
}

/** The JSON text a change adds after `eventId,mappingId,keyIndex` in its pack row. */
export function rowTail(c: Pick<PackChange, 'batchKey' | 'ids' | 'payload'>): string {
  if (c.batchKey === 'create') return JSON.stringify(c.payload)
  return c.ids ? membershipTail(c.ids) : ''
}

/** rowTail of a membership change: its hashed ids as JSON items (`"h1",null,"h3"`). */
export function membershipTail(ids: readonly (string | null)[]): string {
  return jsonItems(ids)
}

/**
 * A pack's body, written as its changes are added: routing adds them by the thousand, straight from
 * its columns, without an object per change.
 */
export class PackBody {
  private readonly keys: string[] = []
  private readonly keyIndex = new Map<string, number>()
  private readonly rows: string[] = []
  firstEventId: number | null = null
  lastEventId: number | null = null

  static of(changes: PackChange[]): PackBody {
    const body = new PackBody()
    for (const c of changes) body.add(c.eventId, c.mappingId, c.batchKey, c.json ?? rowTail(c))
    return body
  }

  get count(): number {
    return this.rows.length
  }

  /** `tail`: the change's rowTail. */
  add(eventId: number | null, mappingId: number | null, batchKey: string, tail: string): void {
    let k = this.keyIndex.get(batchKey)
    if (k === undefined) {
      k = this.keys.length
      this.keys.push(batchKey)
      this.keyIndex.set(batchKey, k)
    }
    this.rows.push(tail === '' ? `${eventId},${mappingId},${k}` : `${eventId},${mappingId},${k},${tail}`)
    if (eventId !== null) {
      if (this.firstEventId === null || eventId < this.firstEventId) this.firstEventId = eventId
      if (this.lastEventId === null || eventId > this.lastEventId) this.lastEventId = eventId
    }
  }

  text(): string {
    return `${JSON.stringify(this.keys)}\n${this.rows.join('\n')}`
  }
}

/** A pack body (changes routed elsewhere bring their row tails already written). */
export function encodePack(changes: PackChange[]): string {
  return PackBody.of(changes).text()
}

const numberOrNull = (text: string): number | null => (text === 'null' ? null : Number(text))

/** The ids of a membership tail (`"h1",null,"h3"`); hex hashes are cut out without a JSON parse. */
export function idsOfTail(tail: string): (string | null)[] {
  if (tail === '') return []
  // Without a backslash no string holds an escaped quote: the next quote closes it.
  if (tail.indexOf('\\') !== -1) return JSON.parse(`[${tail}]`) as (string | null)[]
  const ids: (string | null)[] = []
  let i = 0
  while (i < tail.length) {
    if (tail.charCodeAt(i) === 34 /* " */) {
      const close = tail.indexOf('"', i + 1)
      ids.push(tail.slice(i + 1, close))
      i = close + 2
    } else {
      ids.push(null)
      i += 5 // null,
    }
  }
  return ids
}

/** The changes of a pack not settled yet, in order. */
export function openChangesOf(row: PackRow): OpenChange[] {
  const body = row.body
  const settled = row.settled
  const pack = Number(row.id)
  const createdAt = Number(row.created_at)
  const n = Number(row.n)
  const firstBreak = body.indexOf('\n')
  const keys = JSON.parse(body.slice(0, firstBreak)) as string[]
  const out: OpenChange[] = []
  let start = firstBreak + 1
  for (let at = 0; at < n; at++) {
    let end = body.indexOf('\n', start)
    if (end === -1) end = body.length
    if (settled === null || settled.charCodeAt(at) !== 49 /* '1' */) {
      const c1 = body.indexOf(',', start)
      const c2 = body.indexOf(',', c1 + 1)
      let c3 = body.indexOf(',', c2 + 1)
      if (c3 === -1 || c3 > end) c3 = end
      const batchKey = keys[Number(body.slice(c2 + 1, c3))]
      const tail = c3 < end ? body.slice(c3 + 1, end) : ''
      const payload = batchKey === 'create' ? (JSON.parse(tail) as string | null) : null
      out.push(new OpenChange(pack, at, createdAt, numberOrNull(body.slice(start, c1)), numberOrNull(body.slice(c1 + 1, c2)), batchKey, tail, payload))
    }
    start = end + 1
  }
  return out
}

const COLS = 8
/** Queues packs (one multi-row statement per 50). */
export async function insertPacks(db: Db, packs: NewPack[]): Promise<void> {
  for (const part of chunks(packs.filter((p) => p.body.count > 0), 50)) {
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

/** The next packs of a partition after pack `afterId`, in order, holding about `changes` open changes. */
export async function fetchOpenPacks(db: Db, partitionId: number, afterId: number, changes: number): Promise<PackRow[]> {
  const out: PackRow[] = []
  let open = 0
  let after = afterId
  while (open < changes) {
    const rows = await db.all<PackRow & { open: number }>(
      `SELECT id, partition_id, n, open, settled, body, created_at FROM queue_packs WHERE partition_id = $1 AND id > $2 ORDER BY id LIMIT 8`,
      [partitionId, after]
    )
    for (const r of rows) {
      out.push(r)
      open += Number(r.open)
    }
    if (rows.length < 8) break
    after = Number(rows[rows.length - 1].id)
  }
  return out
}

/**
 * Open packs of a partition up to pack `upToId` other than those in `held` (the queue's reader has
 * them): packs that became visible after later ones were read (see pipeline/open-queue.ts).
 */
export async function fetchPacksBelow(db: Db, partitionId: number, upToId: number, held: ReadonlySet<number>): Promise<PackRow[]> {
  const ids = (await db.all<{ id: number }>('SELECT id FROM queue_packs WHERE partition_id = $1 AND id <= $2 ORDER BY id', [partitionId, upToId]))
    .map((r) => Number(r.id))
    .filter((id) => !held.has(id))
  const out: PackRow[] = []
  for (const part of chunks(ids, 200)) {
    out.push(...(await db.all<PackRow>(`SELECT id, partition_id, n, settled, body, created_at FROM queue_packs WHERE id IN (${placeholders(part.length)}) ORDER BY id`, part)))
  }
  return out
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
  for (const part of chunks([...byPack.keys()].sort((a, b) => a - b), 100)) {
    const rows = await db.all<{ id: number; n: number; open: number; settled: string | null }>(
      `SELECT id, n, open, settled FROM queue_packs WHERE id IN (${placeholders(part.length)}) ORDER BY id ${lock}`,
      part
    )
    for (const r of rows) {
      const before = settled.length
      const bits = settleBits(r.settled ?? '0'.repeat(Number(r.n)), byPack.get(Number(r.id))!, settled)
      const newly = settled.length - before
      if (newly === 0) continue
      const open = Number(r.open) - newly
      if (open <= 0) await db.run('DELETE FROM queue_packs WHERE id = $1', [r.id])
      else await db.run('UPDATE queue_packs SET open = $2, settled = $3 WHERE id = $1', [r.id, open, bits])
    }
  }
  return settled
}

// The loops over every change are functions of their own, out of settlePositions' coroutine: in it,
// they made V8 compile the coroutine, with the store it inlines, several times per run.

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
    after = Number(rows[rows.length - 1].id)
  }
}

/** Open changes of one partition (dead-letter replay looks for later changes of the same identifiers). */
export async function openChangesOfPartition(db: Db, partitionId: number): Promise<OpenChange[]> {
  const out: OpenChange[] = []
  let after = 0
  for (;;) {
    const rows = await fetchOpenPacks(db, partitionId, after, 50_000)
    if (rows.length === 0) return out
    for (const r of rows) out.push(...openChangesOf(r))
    after = Number(rows[rows.length - 1].id)
  }
}

/** The oldest event a pack still holds an open change of (retention keeps it and everything after). */
export async function oldestOpenEventId(db: Db): Promise<number | undefined> {
  const r = await db.get<{ m: number | null }>('SELECT MIN(first_event_id) AS m FROM queue_packs')
  return r?.m == null ? undefined : Number(r.m)
}
