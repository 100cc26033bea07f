/**
 * Configuration writes the admin API needs beyond the config file's upserts: partial updates,
 * deletes, token storage. Every write bumps `config_version` so running pipelines reload.
 */
import { deleteDrops } from './identifier-drops.js'
import { deleteTotals } from './outcome-totals.js'
import type { Db } from '../db.js'
import type { SecretBox } from '../../util/secrets.js'
import type { Mapping, Source } from '../model.js'
import { bumpConfigVersion, listMappings } from './config.js'

export async function createSource(db: Db, s: { name: string; writeKey: string }): Promise<Source | undefined> {
  const row = await db.get<{ id: number; name: string; write_key: string | null }>(
    `INSERT INTO sources (name, write_key, created_at) VALUES ($1, $2, $3)
     ON CONFLICT DO NOTHING RETURNING id, name, write_key`,
    [s.name, s.writeKey, Date.now()]
  )
  return row && { id: row.id, name: row.name, writeKey: row.write_key }
}

export async function destinationIdByName(db: Db, name: string): Promise<number | undefined> {
  const r = await db.get<{ id: number }>('SELECT id FROM destinations WHERE name = $1', [name])
  return r?.id
}

export interface DestinationSettingsPatch {
  name?: string
  normalization?: string
  defaultPhoneRegion?: string | null
  consentCategory?: string | null
  rememberMembers?: boolean
  batchSize?: number
  autoConnect?: boolean
  enabled?: boolean
}

const SETTINGS_COLUMNS: Record<keyof DestinationSettingsPatch, string> = {
  name: 'name',
  normalization: 'normalization',
  defaultPhoneRegion: 'default_phone_region',
  consentCategory: 'consent_category',
  rememberMembers: 'remember_members',
  batchSize: 'batch_size',
  autoConnect: 'auto_connect',
  enabled: 'enabled'
}

export async function updateDestinationSettings(db: Db, id: number, patch: DestinationSettingsPatch): Promise<void> {
  const sets: string[] = []
  const params: (string | number | null)[] = [id]
  for (const [key, column] of Object.entries(SETTINGS_COLUMNS) as [keyof DestinationSettingsPatch, string][]) {
    const v = patch[key]
    if (v === undefined) continue
    params.push(typeof v === 'boolean' ? (v ? 1 : 0) : v)
    sets.push(`${column} = $${params.length}`)
  }
  params.push(Date.now())
  sets.push(`updated_at = $${params.length}`)
  await db.run(`UPDATE destinations SET ${sets.join(', ')} WHERE id = $1`, params)
  await bumpConfigVersion(db)
}

/**
 * Stores a token that passed the auth test (encrypted) with its advertisers, and resumes a
 * destination paused on a rejected token: its kept queue is delivered again.
 */
export async function storeDestinationToken(db: Db, secrets: SecretBox, id: number, accessToken: string, advertiserIds: string[]): Promise<void> {
  await db.run(`UPDATE destinations SET access_token = $2, advertiser_ids = $3, status = 'active', status_reason = NULL, updated_at = $4 WHERE id = $1`, [
    id,
    secrets.encrypt(accessToken),
    JSON.stringify(advertiserIds),
    Date.now()
  ])
  await bumpConfigVersion(db)
}

/** Deletes a destination with its mappings, connections, queue and request log. */
export async function deleteDestination(db: Db, id: number): Promise<boolean> {
  return db.tx(async (t) => {
    await t.run('DELETE FROM mappings WHERE destination_id = $1', [id])
    await t.run('DELETE FROM connections WHERE destination_id = $1', [id])
    await t.run('DELETE FROM changes WHERE destination_id = $1', [id])
    await t.run('DELETE FROM queue_packs WHERE destination_id = $1', [id])
    await t.run('DELETE FROM partitions WHERE destination_id = $1', [id])
    await t.run('DELETE FROM requests WHERE destination_id = $1', [id])
    await deleteTotals(t, 'destination', id)
    await deleteDrops(t, id)
    await t.run('DELETE FROM oauth_states WHERE destination_id = $1', [id])
    const r = await t.run('DELETE FROM destinations WHERE id = $1', [id])
    await bumpConfigVersion(t)
    return r.changes > 0
  })
}

export async function getMapping(db: Db, id: number): Promise<Mapping | undefined> {
  const r = await db.get<{ destination_id: number }>('SELECT destination_id FROM mappings WHERE id = $1', [id])
  if (!r) return undefined
  return (await listMappings(db, r.destination_id)).find((m) => m.id === id)
}

export async function mappingNameTaken(db: Db, destinationId: number, name: string, exceptId = 0): Promise<boolean> {
  const r = await db.get('SELECT id FROM mappings WHERE destination_id = $1 AND name = $2 AND id <> $3', [destinationId, name, exceptId])
  return r !== undefined
}

export async function nextMappingPosition(db: Db, destinationId: number): Promise<number> {
  const r = await db.get<{ p: number | null }>('SELECT MAX(position) AS p FROM mappings WHERE destination_id = $1', [destinationId])
  return r?.p === null || r?.p === undefined ? 0 : Number(r.p) + 1
}

export async function updateMapping(db: Db, id: number, m: Pick<Mapping, 'name' | 'trigger' | 'mapping' | 'enabled'>): Promise<void> {
  await db.run('UPDATE mappings SET name = $2, trigger_fql = $3, mapping = $4, enabled = $5, updated_at = $6 WHERE id = $1', [
    id,
    m.name,
    m.trigger,
    JSON.stringify(m.mapping),
    m.enabled ? 1 : 0,
    Date.now()
  ])
  await bumpConfigVersion(db)
}

export async function deleteMapping(db: Db, id: number): Promise<boolean> {
  const r = await db.run('DELETE FROM mappings WHERE id = $1', [id])
  await bumpConfigVersion(db)
  return r.changes > 0
}

export async function deleteConnection(db: Db, destinationId: number, audienceKey: string): Promise<boolean> {
  const r = await db.run('DELETE FROM connections WHERE destination_id = $1 AND audience_key = $2', [destinationId, audienceKey])
  await bumpConfigVersion(db)
  return r.changes > 0
}
