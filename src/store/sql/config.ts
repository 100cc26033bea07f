/**
 * Queries of the configuration model (sources, destinations, mappings, connections, audiences).
 * The config file and the admin API both go through these, so they edit one model.
 */
import type { Db } from '../db.js'
import type { SecretBox } from '../../util/secrets.js'
import type { Audience, Connection, ConnectionTarget, Destination, Mapping, Source } from '../model.js'
import { loadExtraTargets, replaceExtraTargets } from './connection-targets.js'
import { must } from '../../util/must.js'

const bool = (v: unknown): boolean => v === 1 || v === true || v === '1'
const int = (b: boolean | undefined): number => (b ? 1 : 0)

/** Whether the database answers (health check). */
export async function ping(db: Db): Promise<void> {
  await db.get('SELECT 1 AS ok')
}

/** Bumped on every configuration write so that running pipelines reload their routing table. */
export async function bumpConfigVersion(db: Db): Promise<void> {
  await db.run(`UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'config_version'`)
}

export async function configVersion(db: Db): Promise<number> {
  const row = await db.get<{ value: string }>(`SELECT value FROM meta WHERE key = 'config_version'`)
  return Number(row?.value ?? 0)
}

// ---- sources
interface SourceRow {
  id: number
  name: string
  write_key: string | null
}
const toSource = (r: SourceRow): Source => ({ id: r.id, name: r.name, writeKey: r.write_key })

export async function upsertSource(db: Db, s: { name: string; writeKey?: string | null }): Promise<Source> {
  const row = await db.get<SourceRow>(
    `INSERT INTO sources (name, write_key, created_at) VALUES ($1, $2, $3)
     ON CONFLICT (name) DO UPDATE SET write_key = excluded.write_key
     RETURNING id, name, write_key`,
    [s.name, s.writeKey ?? null, Date.now()]
  )
  return toSource(must(row, 'the upserted source'))
}

export async function listSources(db: Db): Promise<Source[]> {
  return (await db.all<SourceRow>('SELECT id, name, write_key FROM sources ORDER BY id')).map(toSource)
}

export async function sourceByWriteKey(db: Db, writeKey: string): Promise<Source | undefined> {
  const r = await db.get<SourceRow>('SELECT id, name, write_key FROM sources WHERE write_key = $1', [writeKey])
  return r && toSource(r)
}

// ---- destinations
interface DestinationRow {
  id: number
  name: string
  source_id: number | null
  mode: string
  enabled: number
  normalization: string
  default_phone_region: string | null
  access_token: string | null
  advertiser_ids: string
  batch_size: number
  auto_connect: number
  demo: number
  status: string
  status_reason: string | null
  updated_at: number
  consent_category: string | null
  remember_members: number
}
const DEST_COLS = `id, name, source_id, mode, enabled, normalization, default_phone_region, access_token, advertiser_ids,
  batch_size, auto_connect, demo, status, status_reason, updated_at, consent_category, remember_members`

function toDestination(r: DestinationRow, secrets: SecretBox): Destination {
  return {
    id: r.id,
    name: r.name,
    sourceId: r.source_id,
    mode: r.mode as Destination['mode'],
    enabled: bool(r.enabled),
    normalization: r.normalization as Destination['normalization'],
    defaultPhoneRegion: r.default_phone_region,
    consentCategory: r.consent_category ?? null,
    rememberMembers: bool(r.remember_members),
    accessToken: r.access_token ? secrets.decrypt(r.access_token) : null,
    advertiserIds: JSON.parse(r.advertiser_ids) as string[],
    batchSize: r.batch_size,
    autoConnect: bool(r.auto_connect),
    demo: bool(r.demo),
    status: r.status as Destination['status'],
    statusReason: r.status_reason,
    updatedAt: r.updated_at
  }
}

/** A destination's stored phone region by name; undefined when there is no such destination. */
export async function storedPhoneRegion(db: Db, name: string): Promise<string | null | undefined> {
  const r = await db.get<{ default_phone_region: string | null }>('SELECT default_phone_region FROM destinations WHERE name = $1', [name])
  return r ? r.default_phone_region : undefined
}

export type DestinationInput = Omit<Destination, 'id' | 'demo' | 'status' | 'statusReason' | 'updatedAt' | 'consentCategory' | 'rememberMembers'> & {
  consentCategory?: string | null
  rememberMembers?: boolean
}

export async function upsertDestination(db: Db, secrets: SecretBox, d: DestinationInput): Promise<Destination> {
  const now = Date.now()
  const row = await db.get<DestinationRow>(
    `INSERT INTO destinations (name, source_id, mode, enabled, normalization, default_phone_region, access_token,
        advertiser_ids, batch_size, auto_connect, created_at, updated_at, consent_category, remember_members)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
     ON CONFLICT (name) DO UPDATE SET source_id = excluded.source_id, mode = excluded.mode, enabled = excluded.enabled,
        normalization = excluded.normalization, default_phone_region = excluded.default_phone_region,
        access_token = excluded.access_token, advertiser_ids = excluded.advertiser_ids, batch_size = excluded.batch_size,
        auto_connect = excluded.auto_connect, updated_at = excluded.updated_at, consent_category = excluded.consent_category,
        remember_members = excluded.remember_members
     RETURNING ${DEST_COLS}`,
    [
      d.name,
      d.sourceId,
      d.mode,
      int(d.enabled),
      d.normalization,
      d.defaultPhoneRegion,
      d.accessToken ? secrets.encrypt(d.accessToken) : null,
      JSON.stringify(d.advertiserIds),
      d.batchSize,
      int(d.autoConnect),
      now,
      d.consentCategory ?? null,
      int(d.rememberMembers ?? false)
    ]
  )
  await bumpConfigVersion(db)
  return toDestination(must(row, 'the upserted destination'), secrets)
}

export async function listDestinations(db: Db, secrets: SecretBox): Promise<Destination[]> {
  return (await db.all<DestinationRow>(`SELECT ${DEST_COLS} FROM destinations ORDER BY id`)).map((r) => toDestination(r, secrets))
}

export async function getDestination(db: Db, secrets: SecretBox, id: number): Promise<Destination | undefined> {
  const r = await db.get<DestinationRow>(`SELECT ${DEST_COLS} FROM destinations WHERE id = $1`, [id])
  return r && toDestination(r, secrets)
}

/** Flags the destination seeded on first start (see Destination.demo). */
export async function markDemoDestination(db: Db, id: number): Promise<void> {
  await db.run('UPDATE destinations SET demo = 1 WHERE id = $1', [id])
  await bumpConfigVersion(db)
}

/** Whether some destination is not the demo one: the user's own. */
export async function hasOwnDestination(db: Db): Promise<boolean> {
  return (await db.get('SELECT id FROM destinations WHERE demo = 0 LIMIT 1')) !== undefined
}

/** Pauses delivery (TikTok rejected the token) or resumes it. The queue is kept either way. */
export async function setDestinationStatus(db: Db, id: number, status: Destination['status'], reason: string | null): Promise<void> {
  await db.run('UPDATE destinations SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1', [id, status, reason, Date.now()])
  await bumpConfigVersion(db)
}

// ---- mappings
interface MappingRow {
  id: number
  destination_id: number
  name: string
  action: string
  trigger_fql: string
  mapping: string
  enabled: number
  position: number
}
const toMapping = (r: MappingRow): Mapping => ({
  id: r.id,
  destinationId: r.destination_id,
  name: r.name,
  action: r.action,
  trigger: r.trigger_fql,
  mapping: JSON.parse(r.mapping) as Record<string, unknown>,
  enabled: bool(r.enabled),
  position: r.position
})

export async function upsertMapping(db: Db, m: Omit<Mapping, 'id'>): Promise<Mapping> {
  const now = Date.now()
  const row = await db.get<MappingRow>(
    `INSERT INTO mappings (destination_id, name, action, trigger_fql, mapping, enabled, position, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
     ON CONFLICT (destination_id, name) DO UPDATE SET action = excluded.action, trigger_fql = excluded.trigger_fql,
        mapping = excluded.mapping, enabled = excluded.enabled, position = excluded.position, updated_at = excluded.updated_at
     RETURNING id, destination_id, name, action, trigger_fql, mapping, enabled, position`,
    [m.destinationId, m.name, m.action, m.trigger, JSON.stringify(m.mapping), int(m.enabled), m.position, now]
  )
  await bumpConfigVersion(db)
  return toMapping(must(row, 'the upserted mapping'))
}

export async function listMappings(db: Db, destinationId?: number): Promise<Mapping[]> {
  const rows =
    destinationId === undefined
      ? await db.all<MappingRow>(
          'SELECT id, destination_id, name, action, trigger_fql, mapping, enabled, position FROM mappings ORDER BY destination_id, position, id'
        )
      : await db.all<MappingRow>(
          'SELECT id, destination_id, name, action, trigger_fql, mapping, enabled, position FROM mappings WHERE destination_id = $1 ORDER BY position, id',
          [destinationId]
        )
  return rows.map(toMapping)
}

export async function countMappings(db: Db, destinationId: number): Promise<number> {
  const r = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM mappings WHERE destination_id = $1', [destinationId])
  return Number(r?.n ?? 0)
}

// ---- connections
interface ConnectionRow {
  id: number
  destination_id: number
  audience_key: string
  audience_name: string | null
  advertiser_id: string | null
  external_audience_id: string | null
  send_track: number
  send_identify: number
  enter_event: string
  exit_event: string
}
const toConnection = (r: ConnectionRow): Connection => ({
  id: r.id,
  destinationId: r.destination_id,
  audienceKey: r.audience_key,
  audienceName: r.audience_name,
  advertiserId: r.advertiser_id,
  externalAudienceId: r.external_audience_id,
  sendTrack: bool(r.send_track),
  sendIdentify: bool(r.send_identify),
  enterEvent: r.enter_event,
  exitEvent: r.exit_event,
  targets: r.advertiser_id ? [{ advertiserId: r.advertiser_id, externalAudienceId: r.external_audience_id, error: null }] : []
})
const CONN_COLS = 'id, destination_id, audience_key, audience_name, advertiser_id, external_audience_id, send_track, send_identify, enter_event, exit_event'

/**
 * Stores a connection. `more`: its further advertisers and their TikTok audiences (fan-out), replacing
 * those stored; absent: the stored ones are kept.
 */
export async function upsertConnection(db: Db, c: Omit<Connection, 'id' | 'targets'>, more?: ConnectionTarget[]): Promise<Connection> {
  const now = Date.now()
  const row = await db.get<ConnectionRow>(
    `INSERT INTO connections (destination_id, audience_key, audience_name, advertiser_id, external_audience_id, send_track,
        send_identify, enter_event, exit_event, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
     ON CONFLICT (destination_id, audience_key) DO UPDATE SET audience_name = excluded.audience_name,
        advertiser_id = excluded.advertiser_id, external_audience_id = excluded.external_audience_id,
        send_track = excluded.send_track, send_identify = excluded.send_identify, enter_event = excluded.enter_event,
        exit_event = excluded.exit_event, updated_at = excluded.updated_at
     RETURNING ${CONN_COLS}`,
    [
      c.destinationId,
      c.audienceKey,
      c.audienceName,
      c.advertiserId,
      c.externalAudienceId,
      int(c.sendTrack),
      int(c.sendIdentify),
      c.enterEvent,
      c.exitEvent,
      now
    ]
  )
  const stored = toConnection(must(row, 'the upserted connection'))
  if (more) await replaceExtraTargets(db, stored.id, more)
  await bumpConfigVersion(db)
  stored.targets.push(...(more ?? (await loadExtraTargets(db, c.destinationId)).get(stored.id) ?? []))
  return stored
}

export async function listConnections(db: Db, destinationId?: number): Promise<Connection[]> {
  const rows =
    destinationId === undefined
      ? await db.all<ConnectionRow>(`SELECT ${CONN_COLS} FROM connections ORDER BY id`)
      : await db.all<ConnectionRow>(`SELECT ${CONN_COLS} FROM connections WHERE destination_id = $1 ORDER BY id`, [destinationId])
  const connections = rows.map(toConnection)
  // Further advertisers (fan-out) are rare: one more query, whatever the number of connections.
  const extra = await loadExtraTargets(db, destinationId)
  for (const c of connections) c.targets.push(...(extra.get(Number(c.id)) ?? []))
  return connections
}

// ---- audiences seen in traffic
export async function recordAudiencesSeen(db: Db, seen: { sourceId: number; key: string; name: string | null; at: number }[]): Promise<void> {
  for (const a of seen) {
    await db.run(
      `INSERT INTO audiences (source_id, key, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (source_id, key) DO UPDATE SET last_seen_at = excluded.last_seen_at,
         name = COALESCE(audiences.name, excluded.name)`,
      [a.sourceId, a.key, a.name, a.at]
    )
  }
}

export async function listAudiences(db: Db): Promise<Audience[]> {
  const rows = await db.all<{ id: number; source_id: number; key: string; name: string | null; first_seen_at: number | null; last_seen_at: number | null }>(
    'SELECT id, source_id, key, name, first_seen_at, last_seen_at FROM audiences ORDER BY id'
  )
  return rows.map((r) => ({ id: r.id, sourceId: r.source_id, key: r.key, name: r.name, firstSeenAt: r.first_seen_at, lastSeenAt: r.last_seen_at }))
}

/**
 * Claims the connection of an audience first seen in traffic (auto-connect): only the process
 * whose insert succeeds creates the TikTok audience, so two routers never create it twice.
 */
export async function claimConnection(
  db: Db,
  c: { destinationId: number; audienceKey: string; audienceName: string | null; advertiserId: string }
): Promise<boolean> {
  const now = Date.now()
  const r = await db.run(
    `INSERT INTO connections (destination_id, audience_key, audience_name, advertiser_id, external_audience_id, send_track,
        send_identify, enter_event, exit_event, created_at, updated_at)
     VALUES ($1, $2, $3, $4, NULL, 1, 0, 'Audience Entered', 'Audience Exited', $5, $5)
     ON CONFLICT (destination_id, audience_key) DO NOTHING`,
    [c.destinationId, c.audienceKey, c.audienceName, c.advertiserId, now]
  )
  return r.changes > 0
}

export async function setConnectionAudienceId(db: Db, destinationId: number, audienceKey: string, externalAudienceId: string): Promise<void> {
  await db.run('UPDATE connections SET external_audience_id = $3, updated_at = $4 WHERE destination_id = $1 AND audience_key = $2', [
    destinationId,
    audienceKey,
    externalAudienceId,
    Date.now()
  ])
  await bumpConfigVersion(db)
}

export async function deleteConnection(db: Db, destinationId: number, audienceKey: string): Promise<void> {
  await db.run('DELETE FROM connections WHERE destination_id = $1 AND audience_key = $2', [destinationId, audienceKey])
  await bumpConfigVersion(db)
}

/**
 * The TikTok audience id of a connection another process claimed and is creating: polled until it
 * is stored, or undefined after `timeoutMs` (a claim left by a process that died meanwhile).
 */
export async function awaitConnectionAudienceId(db: Db, destinationId: number, audienceKey: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = await db.get<{ external_audience_id: string | null }>(
      'SELECT external_audience_id FROM connections WHERE destination_id = $1 AND audience_key = $2',
      [destinationId, audienceKey]
    )
    if (r?.external_audience_id) return r.external_audience_id
    if (!r || Date.now() > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Creates the source unless one of that name exists (several processes may start at once); returns the stored one. */
export async function ensureSource(db: Db, s: { name: string; writeKey: string | null }): Promise<Source> {
  await db.run('INSERT INTO sources (name, write_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING', [s.name, s.writeKey, Date.now()])
  const row = await db.get<SourceRow>('SELECT id, name, write_key FROM sources WHERE name = $1', [s.name])
  return toSource(must(row, 'the upserted source'))
}
