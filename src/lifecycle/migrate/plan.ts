/**
 * The plan of a legacy → native migration, computed without changing anything (the dry run is
 * this plan): one audience connection per (TikTok audience id, advertiser) of the legacy Add Users
 * / Remove Users mappings, verified with TikTok, and the native mappings that replace them.
 */
import { compileMapping } from '../../destination/mapping.js'
import { ConfigError } from '../../destination/errors.js'
import type { Store } from '../../store/index.js'
import type { Destination, Mapping } from '../../store/model.js'
import { listConnections, listMappings } from '../../store/sql/config.js'
import type { TikTokClient } from '../../tiktok/client.js'
import { TikTokError } from '../../tiktok/errors.js'
import { keyFromName, triggerFacts } from './triggers.js'

const LEGACY_TO_NATIVE: Record<string, { action: string; name: string }> = {
  addUser: { action: 'addToAudience', name: 'Add to Audience' },
  removeUser: { action: 'removeFromAudience', name: 'Remove from Audience' }
}

/** Why a destination cannot be migrated; `status` is the admin API's answer (the CLI exits 2 for 4xx but 502). */
export class MigrationRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string
  ) {
    super(message)
  }
}

export interface PlannedConnection {
  key: string
  name: string
  advertiserId: string
  externalAudienceId: string
  enterEvent: string
  exitEvent: string
  /** Where the key came from: a legacy trigger, or the TikTok audience's name. */
  keyFrom: 'trigger' | 'tiktok name'
}

export interface PlannedMapping {
  name: string
  action: string
  trigger: string
  mapping: Record<string, unknown>
  enabled: boolean
  position: number
  /** The legacy mapping it replaces. */
  replaces: string
}

export interface MigrationPlan {
  destination: { id: number; name: string }
  mode: { from: 'legacy'; to: 'native' }
  connections: PlannedConnection[]
  mappings: { remove: { id: number; name: string; action: string }[]; add: PlannedMapping[] }
  notes: string[]
}

function literalId(m: Mapping, field: 'audience_id' | 'selected_advertiser_id'): string {
  const v = m.mapping[field]
  if ((typeof v === 'string' && /^\d+$/.test(v.trim())) || (typeof v === 'number' && Number.isInteger(v))) return String(v).trim()
  throw new MigrationRefused(
    400,
    `mapping "${m.name}": ${field} must be a TikTok id written in the mapping (got ${JSON.stringify(v ?? null)}); a computed one cannot be turned into a fixed audience connection — set it to the id, or migrate by hand`,
    `mappings.${m.name}.${field}`
  )
}

/** The TikTok audience's name, after checking it is the advertiser's (Segment's getAudience check). */
async function audienceName(client: TikTokClient, advertiserId: string, audienceId: string): Promise<string> {
  let list
  try {
    list = await client.getAudiences(advertiserId, [audienceId])
  } catch (err) {
    if (!(err instanceof TikTokError)) throw err
    if (err.kind === 'permanent')
      throw new MigrationRefused(
        400,
        `TikTok audience ${audienceId}: not an audience of advertiser ${advertiserId} (TikTok: ${err.message}); fix the legacy mapping or remove it first`
      )
    throw new MigrationRefused(
      err.kind === 'auth' ? 409 : 502,
      `TikTok could not report on audience ${audienceId} of advertiser ${advertiserId}: ${err.message}`
    )
  }
  const found = list[0]?.audience_details
  if (!found || String(found.audience_id) !== audienceId)
    throw new MigrationRefused(400, `Unable to verify ownership over audience ${audienceId} for advertiser ${advertiserId}: TikTok does not know it`)
  return found.name
}

export async function planMigration(store: Store, tiktok: TikTokClient, d: Destination): Promise<MigrationPlan> {
  if (d.mode !== 'legacy') throw new MigrationRefused(409, `destination "${d.name}" is already native: nothing to migrate`)
  if (!d.accessToken)
    throw new MigrationRefused(
      409,
      `destination "${d.name}" has no TikTok access token: connect TikTok first (the audiences' ownership is checked with TikTok)`
    )
  const mappings = await listMappings(store.db, d.id)
  const legacy = mappings.filter((m) => m.action in LEGACY_TO_NATIVE)
  if (legacy.length === 0) throw new MigrationRefused(409, `destination "${d.name}" has no Add Users / Remove Users mappings to migrate`)

  // One connection per (audience id, advertiser), in the order of the mappings.
  const groups = new Map<string, { audienceId: string; advertiserId: string; mappings: Mapping[] }>()
  for (const m of legacy) {
    const audienceId = literalId(m, 'audience_id')
    const advertiserId = literalId(m, 'selected_advertiser_id')
    const k = `${audienceId}|${advertiserId}`
    let group = groups.get(k)
    if (!group) groups.set(k, (group = { audienceId, advertiserId, mappings: [] }))
    group.mappings.push(m)
  }

  const client = tiktok.withToken(d.accessToken)
  const notes: string[] = []
  const connections: PlannedConnection[] = []
  const keyOfMapping = new Map<number, string>()
  const taken = new Set<string>()
  for (const g of groups.values()) {
    const name = await audienceName(client, g.advertiserId, g.audienceId)
    const facts = g.mappings.map((m) => ({ m, ...triggerFacts(m.trigger) }))
    let key = facts.find((f) => f.audienceKey)?.audienceKey
    const keyFrom = key ? 'trigger' : 'tiktok name'
    if (!key) {
      key = keyFromName(name, g.audienceId)
      if (taken.has(key)) key = `${key}_${g.audienceId}`
      notes.push(
        `audience ${g.audienceId}: no audience key in the triggers of ${g.mappings.map((m) => `"${m.name}"`).join(', ')}; key "${key}" comes from its TikTok name "${name}" — its events must carry context.personas.computation_key = "${key}"`
      )
    } else if (taken.has(key)) {
      throw new MigrationRefused(
        400,
        `audience key "${key}" names two TikTok audiences (${connections.find((c) => c.key === key)?.externalAudienceId} and ${g.audienceId}) in the triggers: one key is one connection`
      )
    }
    taken.add(key)
    const enter = facts.find((f) => f.m.action === 'addUser' && f.event)?.event
    const exit = facts.find((f) => f.m.action === 'removeUser' && f.event)?.event
    connections.push({
      key,
      name,
      advertiserId: g.advertiserId,
      externalAudienceId: g.audienceId,
      enterEvent: enter ?? 'Audience Entered',
      exitEvent: exit ?? 'Audience Exited',
      keyFrom
    })
    for (const m of g.mappings) keyOfMapping.set(m.id, key)
  }
  const existingKeys = new Set((await listConnections(store.db, d.id)).map((c) => c.audienceKey))
  for (const c of connections)
    if (existingKeys.has(c.key))
      notes.push(`connection "${c.key}" exists already: its TikTok audience becomes ${c.externalAudienceId} of advertiser ${c.advertiserId}`)

  // Each legacy mapping becomes its native twin: same trigger, same identifier fields, the audience from the connection.
  const kept = new Set(mappings.filter((m) => !(m.action in LEGACY_TO_NATIVE)).map((m) => m.name))
  const perAction = (action: string) => legacy.filter((m) => m.action === action).length
  const add: PlannedMapping[] = []
  for (const m of legacy) {
    const native = LEGACY_TO_NATIVE[m.action]
    if (!native) continue // `legacy` holds only actions of LEGACY_TO_NATIVE
    let name = perAction(m.action) === 1 ? native.name : `${native.name} (${keyOfMapping.get(m.id)})`
    while (kept.has(name) || add.some((a) => a.name === name)) name = `${name} (migrated)`
    const { audience_id: _a, selected_advertiser_id: _s, ...fields } = m.mapping
    try {
      const compiled = compileMapping({ action: native.action, trigger: m.trigger, mapping: fields })
      add.push({
        name,
        action: native.action,
        trigger: compiled.trigger,
        mapping: compiled.mapping,
        enabled: m.enabled,
        position: m.position,
        replaces: m.name
      })
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      throw new MigrationRefused(400, `mapping "${m.name}" cannot become a native ${native.name}: ${err.message}`)
    }
  }
  return {
    destination: { id: d.id, name: d.name },
    mode: { from: 'legacy', to: 'native' },
    connections,
    mappings: { remove: legacy.map((m) => ({ id: m.id, name: m.name, action: m.action })), add },
    notes
  }
}
