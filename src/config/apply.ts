/**
 * Applies a config file to the database: upserts by name/key, so applying twice changes nothing.
 * A problem in one item (a bad trigger, an unknown action, an audience TikTok will not create) is
 * reported by its path and skipped; the rest is applied.
 */
import { setSourceSharedSecret } from '../store/sql/source-secrets.js'
import { DEFAULT_PHONE_REGION } from '../destination/identifiers.js'
import { CONNECTION_DEFAULTS, DESTINATION_DEFAULTS } from '../util/defaults.js'
import { compileMapping } from '../destination/mapping.js'
import { ConfigError } from '../destination/errors.js'
import type { Store } from '../store/index.js'
import {
  awaitConnectionAudienceId,
  claimConnection,
  deleteConnection,
  ensureSource,
  listConnections,
  listDestinations,
  listSources,
  storedPhoneRegion,
  upsertConnection,
  upsertDestination,
  upsertMapping,
  upsertSource
} from '../store/sql/config.js'
import { AudienceOwnershipError, createOrReuseAudience, createPartnerAudience, resolveTarget, verifyOwnership } from '../tiktok/audiences.js'
import type { ConnectionTarget } from '../store/model.js'
import type { TikTokClient } from '../tiktok/client.js'
import { TikTokError } from '../tiktok/errors.js'
import { parseDuration } from '../warehouse/duration.js'
import { upsertWarehouseSync } from '../warehouse/records.js'
import { isWarehouseSource, type AudienceConfig, type ConfigFile } from './schema.js'
import { must } from '../util/must.js'

export const DEFAULT_SOURCE = 'default'

/** How long a process waits for another one that claimed a native audience's creation. */
const CLAIM_WAIT_MS = 15_000

export interface ApplyResult {
  problems: string[]
  sources: number
  destinations: number
  mappings: number
  connections: number
  /** Warehouse sources (kind: postgres) stored. */
  syncs: number
}

export async function applyConfig(store: Store, config: ConfigFile, tiktok: TikTokClient): Promise<ApplyResult> {
  const { db, secrets } = store
  const problems: string[] = []
  const result: ApplyResult = { problems, sources: 0, destinations: 0, mappings: 0, connections: 0, syncs: 0 }

  for (const s of config.sources ?? []) {
    if (isWarehouseSource(s)) continue // applied once its destination is
    const stored = await upsertSource(db, { name: s.name, writeKey: s.writeKey || null })
    // Present (even empty) → set or removed; absent → left as the console set it.
    if (s.sharedSecret !== undefined) await setSourceSharedSecret(db, secrets, stored.id, s.sharedSecret || null)
    result.sources++
  }
  let sources = await listSources(db)
  if (sources.length === 0) {
    await ensureSource(db, { name: DEFAULT_SOURCE, writeKey: null })
    sources = await listSources(db)
  }
  const sourceByName = new Map(sources.map((s) => [s.name, s]))

  for (const [di, d] of (config.destinations ?? []).entries()) {
    const at = `destinations[${di}]`
    let sourceId: number | null
    if (d.source) {
      const s = sourceByName.get(d.source)
      if (!s) {
        problems.push(`${at}.source: no source named "${d.source}" (known: ${[...sourceByName.keys()].join(', ')})`)
        continue
      }
      sourceId = s.id
    } else if (sources.length === 1 && sources[0]) {
      sourceId = sources[0].id
    } else {
      problems.push(`${at}.source: required when the config has several sources`)
      continue
    }
    const mode = d.mode ?? DESTINATION_DEFAULTS.mode
    const accessToken = d.accessToken?.trim() || null
    // Omitted: a new destination gets the default region, an existing one keeps its own (no silent
    // change of how its phones hash); `null` chooses none.
    let defaultPhoneRegion = d.defaultPhoneRegion
    if (defaultPhoneRegion === undefined) {
      const stored = await storedPhoneRegion(db, d.name)
      defaultPhoneRegion = stored === undefined ? DEFAULT_PHONE_REGION : stored
    }
    if (!accessToken) problems.push(`${at}.accessToken: missing: this destination cannot deliver until TikTok is connected (OAuth) or a token is set`)
    const dest = await upsertDestination(db, secrets, {
      name: d.name,
      sourceId,
      mode,
      enabled: d.enabled ?? true,
      normalization: d.normalization ?? DESTINATION_DEFAULTS.normalization,
      defaultPhoneRegion,
      consentCategory: d.consentCategory?.trim() || null,
      rememberMembers: d.rememberMembers ?? false,
      accessToken,
      advertiserIds: (d.advertiserIds ?? []).map(String),
      batchSize: d.batchSize ?? DESTINATION_DEFAULTS.batchSize,
      autoConnect: d.autoConnectAudiences ?? DESTINATION_DEFAULTS.autoConnectAudiences
    })
    result.destinations++

    for (const [mi, m] of (d.mappings ?? []).entries()) {
      try {
        const compiled = compileMapping({ action: m.action, trigger: m.trigger, mapping: m.mapping })
        await upsertMapping(db, {
          destinationId: dest.id,
          name: m.name,
          action: m.action,
          trigger: compiled.trigger,
          mapping: compiled.mapping,
          enabled: m.enabled ?? true,
          position: mi
        })
        result.mappings++
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err
        problems.push(`${at}.mappings[${mi}]${err.field ? `.${err.field}` : ''} ("${m.name}"): ${err.message} — mapping skipped`)
      }
    }

    const existing = new Map((await listConnections(db, dest.id)).map((c) => [c.audienceKey, c]))
    const client = tiktok.withToken(accessToken ?? undefined)
    for (const [ai, a] of (d.audiences ?? []).entries()) {
      const aat = `${at}.audiences[${ai}]`
      const advertisers = advertisersOf(a, dest.advertiserIds[0])
      if (typeof advertisers === 'string') {
        problems.push(`${aat}.${advertisers} — connection skipped`)
        continue
      }
      const advertiserId = advertisers.list[0] ?? null
      // The id given for the first advertiser (keyed '' when there is no advertiser: legacy).
      const givenFirst = advertisers.given.get(advertiserId ?? '')
      let externalAudienceId = givenFirst ?? existing.get(a.key)?.externalAudienceId ?? null
      if (mode === 'native') {
        if (!advertiserId) {
          problems.push(`${aat}.advertiserId: required for a native destination's audience — connection skipped`)
          continue
        }
        try {
          if (!externalAudienceId) {
            // Creating is not idempotent on TikTok (duplicate names are allowed): only the process
            // whose claim of the connection succeeds creates it; another one starting at the same
            // time waits for its id.
            const claim = { destinationId: dest.id, audienceKey: a.key, audienceName: a.name ?? null, advertiserId }
            const claimed = await claimConnection(db, claim)
            externalAudienceId = claimed ? null : ((await awaitConnectionAudienceId(db, dest.id, a.key, CLAIM_WAIT_MS)) ?? null)
            if (!externalAudienceId) {
              try {
                // The advertiser's audience of that name is used, not twinned, unless asked for.
                externalAudienceId = a.allowDuplicate
                  ? await createPartnerAudience(client, advertiserId, a.name ?? a.key)
                  : (await createOrReuseAudience(client, advertiserId, a.name ?? a.key)).audienceId
              } catch (err) {
                if (claimed) await deleteConnection(db, dest.id, a.key)
                throw err
              }
            }
          } else if (givenFirst !== undefined && existing.get(a.key)?.externalAudienceId !== externalAudienceId) {
            await verifyOwnership(client, advertiserId, externalAudienceId)
          }
        } catch (err) {
          if (!(err instanceof TikTokError) && !(err instanceof AudienceOwnershipError)) throw err
          problems.push(
            `${aat}: ${givenFirst !== undefined ? 'cannot verify' : 'cannot create'} the TikTok audience: ${(err as Error).message} — connection skipped`
          )
          continue
        }
      }
      // Fan-out: each further advertiser gets its own audience; one TikTok refuses is recorded on
      // that advertiser (and reported) while the others are connected.
      const stored = existing.get(a.key)?.targets ?? []
      const more: ConnectionTarget[] = []
      for (const adv of advertisers.list.slice(1)) {
        const given = advertisers.given.get(adv)
        if (mode !== 'native') {
          more.push({ advertiserId: adv, externalAudienceId: given ?? stored.find((t) => t.advertiserId === adv)?.externalAudienceId ?? null, error: null })
          continue
        }
        const r = await resolveTarget(client, adv, a.name ?? a.key, {
          given,
          stored: stored.find((t) => t.advertiserId === adv),
          allowDuplicate: a.allowDuplicate
        })
        if (r.failed) problems.push(`${aat}: ${r.target.error} — the connection's other advertisers are connected`)
        more.push(r.target)
      }
      await upsertConnection(
        db,
        {
          destinationId: dest.id,
          audienceKey: a.key,
          audienceName: a.name ?? null,
          advertiserId,
          externalAudienceId,
          sendTrack: a.sendTrack ?? CONNECTION_DEFAULTS.sendTrack,
          sendIdentify: a.sendIdentify ?? CONNECTION_DEFAULTS.sendIdentify,
          enterEvent: a.enterEvent ?? CONNECTION_DEFAULTS.enterEvent,
          exitEvent: a.exitEvent ?? CONNECTION_DEFAULTS.exitEvent
        },
        more
      )
      result.connections++
    }
  }

  // Warehouse sources last: each names a destination of this config (or one already stored).
  const destinationIds = new Map((await listDestinations(db, secrets)).map((d) => [d.name, d.id]))
  for (const [si, s] of (config.sources ?? []).entries()) {
    if (!isWarehouseSource(s)) continue
    const destinationId = destinationIds.get(s.destination)
    if (destinationId === undefined) {
      problems.push(
        `sources[${si}].destination: no destination named "${s.destination}" (known: ${[...destinationIds.keys()].join(', ') || 'none'}) — sync skipped`
      )
      continue
    }
    await upsertWarehouseSync(db, secrets, {
      name: s.name,
      url: s.url,
      query: s.query,
      destinationId,
      audienceKey: s.audience,
      everyMs: must(parseDuration(s.every), `sources[${si}].every`)
    })
    result.syncs++
  }
  return result
}

/**
 * An audience connection's advertisers, first one first (`advertiserIds`, else `advertiserId`, else
 * the destination's first), and the TikTok audience ids given for them (`externalAudienceIds`, and
 * `externalAudienceId` for the first); or what is wrong, as `field: message`.
 */
export function advertisersOf(a: AudienceConfig, fallback: string | undefined): { list: string[]; given: Map<string, string> } | string {
  const single = a.advertiserId !== undefined ? String(a.advertiserId) : undefined
  const list = a.advertiserIds ? a.advertiserIds.map(String) : single !== undefined ? [single] : fallback !== undefined ? [fallback] : []
  if (single !== undefined && a.advertiserIds && single !== list[0])
    return `advertiserId: "${single}" must be the first of advertiserIds (${list.join(', ')}), or left out`
  const given = new Map(Object.entries(a.externalAudienceIds ?? {}).map(([k, v]) => [k, String(v)]))
  for (const k of given.keys()) if (!list.includes(k)) return `externalAudienceIds.${k}: not one of the connection's advertisers (${list.join(', ') || 'none'})`
  if (a.externalAudienceId !== undefined) {
    const id = String(a.externalAudienceId)
    const lead = list[0]
    if (lead === undefined) given.set('', id)
    else if (given.has(lead) && given.get(lead) !== id) return `externalAudienceId: differs from externalAudienceIds.${lead}`
    else given.set(lead, id)
  }
  return { list, given }
}
