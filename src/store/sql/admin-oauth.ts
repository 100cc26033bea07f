/** OAuth `state` values: random, bound to one destination, short-lived, single use — in the database so any process can finish the flow. */
import type { Db } from '../db.js'

/** `binding`: the SHA-256 (hex) of the nonce in the starting browser's cookie. */
export async function insertOAuthState(db: Db, state: string, destinationId: number, now: number, ttlMs: number, binding: string): Promise<void> {
  await db.run('DELETE FROM oauth_states WHERE expires_at < $1', [now - 24 * 3600_000])
  await db.run('INSERT INTO oauth_states (state, destination_id, created_at, expires_at, binding) VALUES ($1, $2, $3, $4, $5)', [
    state,
    destinationId,
    now,
    now + ttlMs,
    binding
  ])
}

/** The binding a state was stored with (undefined: no such state; null: a state from before bindings). */
export async function oauthStateBinding(db: Db, state: string): Promise<string | null | undefined> {
  const row = await db.get<{ binding: string | null }>('SELECT binding FROM oauth_states WHERE state = $1', [state])
  return row ? row.binding : undefined
}

export type ConsumedState = { ok: true; destinationId: number } | { ok: false; reason: 'unknown' | 'expired' | 'used' }

/** Marks the state used and returns its destination; one UPDATE, so two callbacks cannot both win. */
export async function consumeOAuthState(db: Db, state: string, now: number): Promise<ConsumedState> {
  const won = await db.get<{ destination_id: number }>(
    'UPDATE oauth_states SET used_at = $2 WHERE state = $1 AND used_at IS NULL AND expires_at > $2 RETURNING destination_id',
    [state, now]
  )
  if (won) return { ok: true, destinationId: Number(won.destination_id) }
  const row = await db.get<{ used_at: number | null }>('SELECT used_at FROM oauth_states WHERE state = $1', [state])
  if (!row) return { ok: false, reason: 'unknown' }
  return { ok: false, reason: row.used_at !== null ? 'used' : 'expired' }
}
