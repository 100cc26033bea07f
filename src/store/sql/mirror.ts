/**
 * Mirror sync state: the member list last synced to an audience (hashed identifiers only), and the
 * staging rows of a run — its new list, loaded in batches and diffed against that state by SQL, so
 * that neither list is held in memory.
 */
import { chunks, placeholders, valuesList, type Db } from '../db.js'

export interface MirrorMember {
  memberKey: string
  email: string | null
  phone: string | null
  advertisingId: string | null
}

export type MirrorChange = 'add' | 'remove'

/** Staging rows of runs that ended without cleaning up (killed) are dropped after this long. */
const STALE_STAGING_MS = 24 * 3600_000

/** Drops staging rows of runs that started more than a day ago. */
export async function dropStaleStaging(db: Db, now: number): Promise<void> {
  await db.run('DELETE FROM mirror_staging WHERE created_at < $1', [now - STALE_STAGING_MS])
}

/** Adds members to a run's new list; a member already staged (same identifiers) counts once. Answers how many were new to the run. */
export async function stageMembers(db: Db, runId: string, members: MirrorMember[], now: number): Promise<number> {
  let staged = 0
  await db.tx(async (t) => {
    for (const part of chunks(members, 500)) {
      const params: (string | number | null)[] = []
      for (const m of part) params.push(runId, m.memberKey, m.email, m.phone, m.advertisingId, now)
      const r = await t.run(
        `INSERT INTO mirror_staging (run_id, member_key, email_hash, phone_hash, advertising_id_hash, created_at)
         VALUES ${valuesList(part.length, 6)} ON CONFLICT (run_id, member_key) DO NOTHING`,
        params
      )
      staged += r.changes
    }
  })
  return staged
}

/**
 * Marks the run's difference to the audience's synced list: staged members not synced yet are
 * `add`; synced members missing from the run's list are staged as `remove`.
 */
export async function diffStaged(db: Db, runId: string, destinationId: number, audienceKey: string, now: number): Promise<{ added: number; removed: number }> {
  return db.tx(async (t) => {
    const added = await t.run(
      `UPDATE mirror_staging SET change = 'add' WHERE run_id = $1 AND change IS NULL AND NOT EXISTS (
         SELECT 1 FROM mirror_members m WHERE m.destination_id = $2 AND m.audience_key = $3 AND m.member_key = mirror_staging.member_key)`,
      [runId, destinationId, audienceKey]
    )
    const removed = await t.run(
      `INSERT INTO mirror_staging (run_id, member_key, email_hash, phone_hash, advertising_id_hash, change, created_at)
       SELECT $1, m.member_key, m.email_hash, m.phone_hash, m.advertising_id_hash, 'remove', $4 FROM mirror_members m
       WHERE m.destination_id = $2 AND m.audience_key = $3
         AND NOT EXISTS (SELECT 1 FROM mirror_staging s WHERE s.run_id = $1 AND s.member_key = m.member_key)`,
      [runId, destinationId, audienceKey, now]
    )
    return { added: added.changes, removed: removed.changes }
  })
}

/** Up to `limit` of the run's changes of one kind after member key `after`, in member key order. */
export async function stagedChanges(db: Db, runId: string, change: MirrorChange, after: string, limit: number): Promise<MirrorMember[]> {
  const rows = await db.all<{ member_key: string; email_hash: string | null; phone_hash: string | null; advertising_id_hash: string | null }>(
    `SELECT member_key, email_hash, phone_hash, advertising_id_hash FROM mirror_staging
     WHERE run_id = $1 AND change = $2 AND member_key > $3 ORDER BY member_key LIMIT ${Math.max(1, Math.floor(limit))}`,
    [runId, change, after]
  )
  return rows.map((r) => ({ memberKey: r.member_key, email: r.email_hash, phone: r.phone_hash, advertisingId: r.advertising_id_hash }))
}

/** Drops a run's staging rows. */
export async function dropStaging(db: Db, runId: string): Promise<void> {
  await db.run('DELETE FROM mirror_staging WHERE run_id = $1', [runId])
}

/** Records what TikTok confirmed: members added, members removed. */
export async function updateMirror(db: Db, destinationId: number, audienceKey: string, added: MirrorMember[], removed: string[], now: number): Promise<void> {
  await db.tx(async (t) => {
    for (const part of chunks(added, 500)) {
      const params: (string | number | null)[] = []
      for (const m of part) params.push(destinationId, audienceKey, m.memberKey, m.email, m.phone, m.advertisingId, now)
      await t.run(
        `INSERT INTO mirror_members (destination_id, audience_key, member_key, email_hash, phone_hash, advertising_id_hash, synced_at)
         VALUES ${valuesList(part.length, 7)} ON CONFLICT (destination_id, audience_key, member_key) DO NOTHING`,
        params
      )
    }
    for (const part of chunks(removed, 500)) {
      await t.run(`DELETE FROM mirror_members WHERE destination_id = $1 AND audience_key = $2 AND member_key IN (${placeholders(part.length, 3)})`, [destinationId, audienceKey, ...part])
    }
  })
}
