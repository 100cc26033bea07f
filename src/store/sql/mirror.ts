/** Mirror sync state: the member list last synced to an audience (hashed identifiers only). */
import { chunks, placeholders, valuesList, type Db } from '../db.js'

export interface MirrorMember {
  memberKey: string
  email: string | null
  phone: string | null
  advertisingId: string | null
}

/**
 * Up to `limit` synced members of an audience after member key `after`, in member key order (a
 * range of the primary key). Keys are lowercase hex, which every collation orders as bytes.
 */
export async function mirrorPage(db: Db, destinationId: number, audienceKey: string, after: string, limit: number): Promise<MirrorMember[]> {
  const rows = await db.all<{ member_key: string; email_hash: string | null; phone_hash: string | null; advertising_id_hash: string | null }>(
    `SELECT member_key, email_hash, phone_hash, advertising_id_hash FROM mirror_members
     WHERE destination_id = $1 AND audience_key = $2 AND member_key > $3 ORDER BY member_key LIMIT ${Math.max(1, Math.floor(limit))}`,
    [destinationId, audienceKey, after]
  )
  return rows.map((r) => ({ memberKey: r.member_key, email: r.email_hash, phone: r.phone_hash, advertisingId: r.advertising_id_hash }))
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
      await t.run(`DELETE FROM mirror_members WHERE destination_id = $1 AND audience_key = $2 AND member_key IN (${placeholders(part.length, 3)})`, [
        destinationId,
        audienceKey,
        ...part
      ])
    }
  })
}
