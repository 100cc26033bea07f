/** A source's shared secret for Segment's signed webhooks (`/v1/webhook`), kept encrypted at rest. */
import type { Db } from '../db.js'
import type { SecretBox } from '../../util/secrets.js'

export async function sourceSharedSecret(db: Db, secrets: SecretBox, sourceId: number): Promise<string | null> {
  const r = await db.get<{ shared_secret: string | null }>('SELECT shared_secret FROM sources WHERE id = $1', [sourceId])
  return r?.shared_secret ? secrets.decrypt(r.shared_secret) : null
}

/** Sets (or with `null` removes) the secret; false when there is no such source. */
export async function setSourceSharedSecret(db: Db, secrets: SecretBox, sourceId: number, secret: string | null): Promise<boolean> {
  const r = await db.run('UPDATE sources SET shared_secret = $2 WHERE id = $1', [sourceId, secret === null ? null : secrets.encrypt(secret)])
  return r.changes > 0
}
