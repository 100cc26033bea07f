/**
 * Which hashed identifiers were queued as adds to which partition (destination × advertisers ×
 * audience): what `forget` and a consent withdrawal remove (src/lifecycle/forget). Hashes only —
 * the raw identifier never reaches the database — with the hash of the event's userId, which ties
 * together the identifiers sent for one person (forget by userId, or by email removes the phone
 * sent with it).
 */
import { chunks, placeholders, valuesList, type Db } from '../db.js'

export interface SentIdentifier {
  partitionId: number
  /** `EMAIL_SHA256`, `PHONE_SHA256`, `IDFA_SHA256`, … */
  idType: string
  hash: string
  /** sha256 of the event's userId; null when it had none. */
  userHash: string | null
}

/** A recorded identifier with where it went (the partition's key names destination, advertisers and audience). */
export interface SentMembership extends SentIdentifier {
  destinationId: number
  partitionKey: string
}

const COLS = 4
/** Rows per statement: 4,000 × 4 parameters stay under both drivers' limits. */
const ROWS_PER_STATEMENT = 4000

const insertSqls = new Map<number, string>()
function insertSql(rows: number): string {
  let sql = insertSqls.get(rows)
  if (sql === undefined) {
    sql = `INSERT INTO sent_identifiers (hash, partition_id, id_type, user_hash) VALUES ${valuesList(rows, COLS)} ON CONFLICT DO NOTHING`
    insertSqls.set(rows, sql)
  }
  return sql
}

/** Records identifiers queued as adds: one multi-row insert (per 4,000 rows); already known ones are left as they are. */
export async function recordSentIdentifiers(db: Db, rows: SentIdentifier[]): Promise<void> {
  for (const part of chunks(rows, ROWS_PER_STATEMENT)) {
    const params: (string | number | null)[] = new Array(part.length * COLS)
    let p = 0
    for (const r of part) {
      params[p++] = r.hash
      params[p++] = r.partitionId
      params[p++] = r.idType
      params[p++] = r.userHash
    }
    await db.run(insertSql(part.length), params)
  }
}

/**
 * Everything recorded for a person in the destinations given (all when `destinationIds` is
 * undefined): rows with one of `hashes`, or with one of `userHashes`, and then every row of the
 * userIds those rows carry (one step: an email added with userId U brings the phone U was added with).
 */
export async function sentMembershipsOf(db: Db, who: { hashes: string[]; userHashes: string[] }, destinationIds?: number[]): Promise<SentMembership[]> {
  const found = new Map<string, SentMembership>()
  const users = new Set(who.userHashes)
  const add = (rows: SentMembership[]) => {
    for (const r of rows) {
      found.set(`${r.partitionId}|${r.idType}|${r.hash}`, r)
      if (r.userHash) users.add(r.userHash)
    }
  }
  if (who.hashes.length > 0) add(await select(db, 's.hash', [...new Set(who.hashes)], destinationIds))
  if (users.size > 0) add(await select(db, 's.user_hash', [...users], destinationIds))
  return [...found.values()].sort((a, b) => a.partitionId - b.partitionId || a.idType.localeCompare(b.idType) || a.hash.localeCompare(b.hash))
}

async function select(db: Db, column: 's.hash' | 's.user_hash', values: string[], destinationIds: number[] | undefined): Promise<SentMembership[]> {
  const out: SentMembership[] = []
  for (const part of chunks(values, 200)) {
    const params: (string | number)[] = [...part]
    let where = `${column} IN (${placeholders(part.length)})`
    if (destinationIds) {
      if (destinationIds.length === 0) return out
      where += ` AND p.destination_id IN (${placeholders(destinationIds.length, params.length + 1)})`
      params.push(...destinationIds)
    }
    const rows = await db.all<{ hash: string; partition_id: number; id_type: string; user_hash: string | null; destination_id: number; key: string }>(
      `SELECT s.hash, s.partition_id, s.id_type, s.user_hash, p.destination_id, p.key
       FROM sent_identifiers s JOIN partitions p ON p.id = s.partition_id WHERE ${where}`,
      params
    )
    for (const r of rows) {
      out.push({
        hash: r.hash,
        partitionId: Number(r.partition_id),
        idType: r.id_type,
        userHash: r.user_hash,
        destinationId: Number(r.destination_id),
        partitionKey: r.key
      })
    }
  }
  return out
}

/** Forgets recorded identifiers of a partition once TikTok confirmed their removal. */
export async function deleteSentIdentifiers(db: Db, partitionId: number, rows: { type: string; hash: string }[]): Promise<void> {
  for (const r of rows) await db.run('DELETE FROM sent_identifiers WHERE hash = $1 AND partition_id = $2 AND id_type = $3', [r.hash, partitionId, r.type])
}
