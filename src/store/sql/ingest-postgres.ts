/**
 * PostgreSQL: a group commit of the common kind — new events whose changes go to known partitions,
 * nothing filtered, failed, dropped or recorded besides — as ONE statement (no BEGIN/COMMIT): the
 * events insert, their packs, the partitions' pending counts and the source totals are CTEs of a
 * single INSERT, atomic as any statement. It was 6 round trips per commit (BEGIN, 4 statements,
 * COMMIT); node-postgres cannot pipeline them.
 *
 * The packs name their events by id, so the ids are reserved beforehand (EventIdBlock) and the
 * statement assumes every event is new: a plain INSERT, whose unique violation when one is not (a
 * re-sent messageId, also one that a concurrent commit holds) fails the statement as a whole, and
 * the caller runs the general transaction, which finds out which were new. ON CONFLICT DO NOTHING
 * would cost every row a speculative insertion (a lock and a second index probe) for that rare case.
 */
import type { Db } from '../db.js'
import type { NewPack } from './queue-packs.js'
import { shard, SLOT_MS } from './outcome-totals.js'
import { must } from '../../util/must.js'
import { int4Array, int8Array, textArray } from '../pg-arrays.js'

/**
 * At most this many ids per block: fetching a block of up to 65,536 stalled every request queued
 * behind it (ack P99 on PostgreSQL 186 ms with that cap, 51 ms with this one: npm run bench, 2026-12-04).
 */
const MAX_BLOCK = 4096

/** Ids of the events sequence taken ahead, a block per round trip; gaps are harmless (a sequence has them anyway). */
export class EventIdBlock {
  private ids: number[] = []
  private at = 0
  private takenAt = 0
  /**
   * About a second of traffic: grows while blocks are used up within a second, shrinks while they
   * expire half unused (nextval costs the server ~0.5 µs an id, used or not).
   */
  private size = 1024
  private sql: string | undefined

  /**
   * `n` ids, increasing. A block is dropped after 10 s: retention walks events in id order and
   * stops at the first recent one, so a block must not be spent over hours.
   */
  async take(db: Db, n: number, now: number): Promise<number[]> {
    const left = this.ids.length - this.at
    const expired = now - this.takenAt > 10_000
    if (left < n || expired) {
      if (!expired && now - this.takenAt < 1000) this.size = Math.min(this.size * 2, MAX_BLOCK)
      else if (expired && left > this.size / 2) this.size = Math.max(this.size / 2, 256)
      // The sequence named once, as a constant: resolving it (pg_get_serial_sequence) per row cost
      // more than nextval. No ORDER BY: nextval runs in generate_series's order, and sorting cost
      // more than nextval too (measured 1.3 → 0.6 µs an id).
      if (this.sql === undefined) {
        const seq = must(await db.get<{ s: string }>(`SELECT pg_get_serial_sequence('events', 'id') AS s`), 'the events id sequence').s
        this.sql = `SELECT array_agg(nextval('${seq.replaceAll("'", "''")}'::regclass)) AS ids FROM generate_series(1, $1::integer)`
      }
      const r = await db.get<{ ids: string[] }>(this.sql, [Math.max(n, this.size)])
      this.ids = (r?.ids ?? []).map(Number)
      this.at = 0
      this.takenAt = now
    }
    const out = this.ids.slice(this.at, this.at + n)
    this.at += n
    return out
  }
}

export interface OneStatementCommit {
  ids: number[]
  sourceId: ArrayLike<number>
  messageId: string[]
  receivedAt: ArrayLike<number>
  changes: ArrayLike<number>
  /** One per partition, sorted by partition id (concurrent commits lock partitions in one order). */
  packs: NewPack[]
  batchSize: number[]
  received: Map<number, number>
  now: number
  windowMs: number
  /** The configuration version the events were routed with: ConfigChangedError if it is no longer the stored one; -1: not checked. */
  configVersion: number
}

/**
 * The failure a one-statement commit makes on purpose when the configuration changed: a cast of a
 * text naming it, which PostgreSQL refuses; evaluated only then — a constant would be folded, and
 * fail, at planning.
 */
const CONFIG_MARK = 'tta: the configuration changed'

/** The configuration changed since the events were routed: route them again (nothing was written). */
export class ConfigChangedError extends Error {
  constructor() {
    super('the configuration changed while the events were routed; route them again')
  }
}

const SQL = `WITH ins AS (
  INSERT INTO events (id, source_id, message_id, received_at, n_changes)
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::integer[])
), ok AS (
  SELECT CAST(CASE WHEN $6::bigint >= 0 AND CAST(COALESCE(v.value, '0') AS bigint) <> $6::bigint THEN '${CONFIG_MARK} ' || v.value ELSE '1' END AS integer) AS ok
  FROM (SELECT 1) AS one LEFT JOIN meta AS v ON v.key = 'config_version'
), packs AS (
  INSERT INTO queue_packs (partition_id, destination_id, first_event_id, last_event_id, n, open, body, created_at)
  SELECT p.pid, p.did, p.first, p.last, p.n, p.n, p.body, $12::bigint
  FROM unnest($7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::integer[], $13::text[]) AS p(pid, did, first, last, n, body), ok
  RETURNING 1
), parts AS (
  UPDATE partitions AS t SET
    ready_at = CASE WHEN t.pending + u.n >= u.bs THEN $12::bigint WHEN t.pending = 0 THEN $14::bigint ELSE t.ready_at END,
    pending = t.pending + u.n
  FROM unnest($7::bigint[], $11::integer[], $15::integer[]) AS u(pid, n, bs), ok
  -- ANY as well, for an index scan of partitions: a join alone may scan the table, which its
  -- updates fill with dead rows between vacuums (with it: database CPU 23.5 → 20.0 µs/event, scale-out bench).
  WHERE t.id = u.pid AND t.id = ANY($7::bigint[])
  RETURNING t.id, t.ready_at, t.pending, u.n, u.bs
), totals AS (
  INSERT INTO outcome_totals (scope, scope_id, slot, shard, received, delivered, superseded, failed, retried)
  SELECT 'source', s.id, $16::bigint, $17::text, s.n, 0, 0, 0, 0 FROM unnest($18::bigint[], $19::bigint[]) AS s(id, n), ok
  ON CONFLICT (scope, scope_id, slot, shard) DO UPDATE SET received = outcome_totals.received + excluded.received
  RETURNING 1
)
SELECT ok.ok, parts.ready_at, parts.pending, parts.n, parts.bs,
  (SELECT count(*) FROM packs) AS packs, (SELECT count(*) FROM totals) AS totals
FROM ok LEFT JOIN parts ON true`

/**
 * Commits as one statement; returns, per partition that became ready by it, when (as addPending);
 * undefined when the general transaction must run instead (nothing was written). Throws
 * ConfigChangedError when the configuration changed (nothing written either).
 */
export async function commitInOneStatement(db: Db, c: OneStatementCommit): Promise<number[] | undefined> {
  const sources = [...c.received].sort((a, b) => a[0] - b[0])
  let rows: { ready_at: number | null; pending: number | null; n: number | null; bs: number | null }[]
  try {
    rows = await db.all(SQL, [
      int8Array(c.ids),
      int8Array(c.sourceId),
      textArray(c.messageId),
      int8Array(c.receivedAt),
      int4Array(c.changes),
      c.configVersion,
      int8Array(c.packs.map((p) => p.partitionId)),
      int8Array(c.packs.map((p) => p.destinationId)),
      int8Array(c.packs.map((p) => p.body.firstEventId)),
      int8Array(c.packs.map((p) => p.body.lastEventId)),
      int4Array(c.packs.map((p) => p.body.count)),
      c.now,
      textArray(c.packs.map((p) => p.body.text())),
      c.now + c.windowMs,
      int4Array(c.batchSize),
      Math.floor(c.now / SLOT_MS) * SLOT_MS,
      shard(),
      int8Array(sources.map((s) => s[0])),
      int8Array(sources.map((s) => s[1]))
    ])
  } catch (err) {
    const e = err as { code?: string; message?: string; table?: string }
    // 22P02: our mark (see CONFIG_MARK); 23505: an event not new; 40P01: a deadlock with a
    // concurrent commit (the general one locks in order).
    if (e.code === '22P02' && e.message?.includes(CONFIG_MARK)) throw new ConfigChangedError()
    if ((e.code === '23505' && e.table === 'events') || e.code === '40P01') return undefined
    throw err
  }
  const readyAt: number[] = []
  for (const r of rows) {
    if (r.pending === null) continue
    const pending = Number(r.pending)
    const before = pending - Number(r.n)
    const bs = Number(r.bs)
    if (before === 0 || (before < bs && pending >= bs)) readyAt.push(Number(r.ready_at))
  }
  return readyAt
}
