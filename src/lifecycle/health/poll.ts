/**
 * One round of audience health: every connected audience (destinations with a token), the TikTok
 * audience of each of its advertisers, read from TikTok's `/dmp/custom_audience/get/`, up to 100 ids
 * per call per advertiser, recorded, and a log warn line for each warning that starts holding (and
 * an info line for each that cleared).
 */
import type { Logger } from 'pino'
import type { Store } from '../../store/index.js'
import { listConnections, listDestinations } from '../../store/sql/config.js'
import type { TikTokClient } from '../../tiktok/client.js'
import { TikTokError } from '../../tiktok/errors.js'
import type { AudienceDetails } from '../../tiktok/types.js'
import { latestHealthReads, recordHealthReads, type HealthRead } from './reads.js'
import { parseTikTokTime, warningsOf } from './warnings.js'

/** TikTok's limit of ids per `/dmp/custom_audience/get/` call. */
const IDS_PER_CALL = 100

interface Target {
  destinationId: number
  destinationName: string
  accessToken: string
  advertiserId: string
  audiences: { key: string; externalAudienceId: string }[]
}

async function targets(store: Store): Promise<Target[]> {
  const destinations = new Map((await listDestinations(store.db, store.secrets)).map((d) => [d.id, d]))
  const byGroup = new Map<string, Target>()
  for (const c of await listConnections(store.db)) {
    const d = destinations.get(c.destinationId)
    if (!d?.accessToken) continue
    // Every advertiser of the connection (fan-out, SPEC §5.7) has its own TikTok audience to read.
    for (const { advertiserId, externalAudienceId } of c.targets) {
      if (!advertiserId || !externalAudienceId) continue
      const k = `${d.id}|${advertiserId}`
      let t = byGroup.get(k)
      if (!t) byGroup.set(k, (t = { destinationId: d.id, destinationName: d.name, accessToken: d.accessToken, advertiserId, audiences: [] }))
      t.audiences.push({ key: c.audienceKey, externalAudienceId })
    }
  }
  return [...byGroup.values()]
}

function readOf(t: Target, a: Target['audiences'][number], at: number, details: AudienceDetails | undefined, error?: string): HealthRead {
  const base = { destinationId: t.destinationId, audienceKey: a.key, advertiserId: t.advertiserId, externalAudienceId: a.externalAudienceId, checkedAt: at }
  if (!details) return { ...base, coverNum: null, isValid: null, isExpiring: null, expiresAt: null, error: error ?? 'TikTok did not report on this audience' }
  return {
    ...base,
    coverNum: Number(details.cover_num),
    isValid: details.is_valid === true,
    isExpiring: details.is_expiring === true,
    expiresAt: parseTikTokTime(details.expired_time) ?? null,
    error: null
  }
}

/** The reads of some audiences of one advertiser: one call, or one per id when the call fails (a deleted audience fails the whole call). */
async function readAudiences(client: TikTokClient, t: Target, audiences: Target['audiences'], at: number): Promise<HealthRead[]> {
  try {
    const list = await client.getAudiences(
      t.advertiserId,
      audiences.map((a) => a.externalAudienceId)
    )
    const byId = new Map(list.map((x) => [String(x.audience_details?.audience_id), x.audience_details]))
    return audiences.map((a) => readOf(t, a, at, byId.get(a.externalAudienceId)))
  } catch (err) {
    if (!(err instanceof TikTokError)) throw err
    if (audiences.length > 1 && err.kind === 'permanent') {
      const out: HealthRead[] = []
      for (const a of audiences) out.push(...(await readAudiences(client, t, [a], at)))
      return out
    }
    return audiences.map((a) => readOf(t, a, at, undefined, `TikTok: ${err.message}`))
  }
}

/** Reads, records and logs one round; returns what was recorded. */
export async function pollAudienceHealth(store: Store, tiktok: TikTokClient, log: Logger, now = Date.now()): Promise<HealthRead[]> {
  const before = new Map((await latestHealthReads(store.db)).map((r) => [`${r.destinationId}|${r.audienceKey}|${r.advertiserId}`, r]))
  const reads: HealthRead[] = []
  const names = new Map<number, string>()
  for (const t of await targets(store)) {
    names.set(t.destinationId, t.destinationName)
    const client = tiktok.withToken(t.accessToken)
    for (let i = 0; i < t.audiences.length; i += IDS_PER_CALL) reads.push(...(await readAudiences(client, t, t.audiences.slice(i, i + IDS_PER_CALL), now)))
  }
  await recordHealthReads(store.db, reads)
  // A fan-out connection's lines name the advertiser: its audiences would otherwise read alike.
  const advertisers = new Map<string, Set<string>>()
  const advertisersOf = (r: { destinationId: number; audienceKey: string }) => {
    const k = `${r.destinationId}|${r.audienceKey}`
    let set = advertisers.get(k)
    if (!set) advertisers.set(k, (set = new Set()))
    return set
  }
  for (const r of reads) advertisersOf(r).add(r.advertiserId)
  for (const r of reads) {
    const where = { destination: names.get(r.destinationId), audience: r.audienceKey, advertiserId: r.advertiserId, audienceId: r.externalAudienceId }
    const of = `"${r.audienceKey}" of ${where.destination}${advertisersOf(r).size > 1 ? ` (advertiser ${r.advertiserId})` : ''}`
    if (r.error) {
      log.warn({ ...where, error: r.error }, `audience health: cannot read audience "${r.audienceKey}" (${r.externalAudienceId}) from TikTok: ${r.error}`)
      continue
    }
    const now_ = warningsOf(r, now)
    const prev = before.get(`${r.destinationId}|${r.audienceKey}|${r.advertiserId}`)
    const held = prev && !prev.error ? warningsOf(prev, now) : []
    // A warning is a warn line when it starts holding; while it holds, a debug line each round (the banner and gauge still show it).
    for (const w of now_) {
      const fields = { ...where, reason: w.reason, coverNum: r.coverNum, expiresAt: r.expiresAt }
      const line = `audience health: ${of}: ${w.message}`
      if (held.some((x) => x.reason === w.reason)) log.debug(fields, line)
      else log.warn(fields, line)
    }
    for (const w of held) {
      if (!now_.some((x) => x.reason === w.reason))
        log.info({ ...where, reason: w.reason, coverNum: r.coverNum }, `audience health: ${of}: the ${w.reason} warning cleared`)
    }
  }
  return reads
}
