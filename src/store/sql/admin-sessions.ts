/** Console sessions signed out before they expire: in the database so every process refuses them. */
import type { Db } from '../db.js'

export async function revokeSession(db: Db, sessionId: string, expiresAt: number, now: number): Promise<void> {
  await db.run('DELETE FROM revoked_sessions WHERE expires_at < $1', [now])
  await db.run('INSERT INTO revoked_sessions (session_id, expires_at) VALUES ($1, $2) ON CONFLICT (session_id) DO NOTHING', [sessionId, expiresAt])
}

export async function isSessionRevoked(db: Db, sessionId: string): Promise<boolean> {
  return (await db.get('SELECT 1 AS x FROM revoked_sessions WHERE session_id = $1', [sessionId])) !== undefined
}
