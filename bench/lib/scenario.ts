/**
 * What every benchmark feeds the service: Engage "Audience Entered" events carrying an email, a phone
 * and a mobile advertising id (as test/helpers/events.ts shapes them), the config of a native
 * destination with the reference's default mapping, and helpers around the TikTok emulator.
 */
import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js'
import { ADVERTISER_ID, EMULATOR_TOKEN } from './util.js'

export const AUDIENCE_KEY = 'bench_shoppers'

export interface EventOptions {
  /** Stamped as Engage does for a connected audience; without it the service stamps it from its connection. */
  externalAudienceId?: string
  audienceKey?: string
  /** Distinguishes runs so that messageIds and identities never repeat. */
  run?: string
}

/** Event number `i`: unique messageId, email, phone and advertising id. */
export function engageEvent(i: number, o: EventOptions = {}): Record<string, unknown> {
  const key = o.audienceKey ?? AUDIENCE_KEY
  const personas: Record<string, unknown> = {
    computation_class: 'audience',
    computation_id: `aud_${key}`,
    computation_key: key,
    namespace: 'spa_bench',
    space_id: 'spa_bench'
  }
  if (o.externalAudienceId) {
    personas.external_audience_id = o.externalAudienceId
    personas.audience_settings = { advertiserId: ADVERTISER_ID }
  }
  const run = o.run ?? 'r'
  const n = String(i).padStart(8, '0')
  return {
    type: 'track',
    event: 'Audience Entered',
    userId: `user_${run}_${i}`,
    messageId: `personas_${key}_${run}_${i}_in`,
    timestamp: '2026-11-25T10:00:00.000Z',
    properties: { audience_key: key, [key]: true },
    context: {
      traits: { email: `Person.${run}.${i}+promo@Example.COM`, phone: `+1415${n.slice(-7)}` },
      device: { advertisingId: `6D92078A-8246-4BA4-${n.slice(0, 4)}-${run.padEnd(4, '0').slice(0, 4)}${n}` },
      personas
    }
  }
}

/** Writes `count` events as NDJSON (streamed: 1,000,000 events never sit in memory at once). */
export async function writeEventsNdjson(file: string, count: number, o: EventOptions = {}): Promise<void> {
  const out = createWriteStream(file)
  for (let i = 0; i < count; i++) {
    if (!out.write(JSON.stringify(engageEvent(i, o)) + '\n')) await once(out, 'drain')
  }
  out.end()
  await once(out, 'close')
}

export interface AudienceConfig {
  key: string
  externalAudienceId?: string
}

/** A config file: one source, one native destination with the reference's default mapping. */
export function nativeConfigYaml(o: {
  writeKey: string
  audiences: AudienceConfig[]
  normalization?: 'segment' | 'recommended'
  delivery?: Record<string, number>
}): string {
  const audiences = o.audiences
    .map((a) =>
      [
        `      - key: ${a.key}`,
        `        name: ${a.key}`,
        `        advertiserId: "${ADVERTISER_ID}"`,
        ...(a.externalAudienceId ? [`        externalAudienceId: "${a.externalAudienceId}"`] : [])
      ].join('\n')
    )
    .join('\n')
  const delivery = Object.entries(o.delivery ?? {})
    .map(([k, v]) => `  ${k}: ${v}`)
    .join('\n')
  return `sources:
  - name: engage
    writeKey: ${o.writeKey}
destinations:
  - name: tiktok-bench
    source: engage
    mode: native
    normalization: ${o.normalization ?? 'segment'}
    defaultPhoneRegion: US
    accessToken: ${EMULATOR_TOKEN}
    advertiserIds: ["${ADVERTISER_ID}"]
    batchSize: 10000
    mappings:
      - name: Add to Audience
        action: addToAudience
    audiences:
${audiences}
${delivery ? `delivery:\n${delivery}\n` : ''}`
}

/** A standalone emulator without TikTok's rate limit, whose request log keeps no bodies (100k events would be ~30 MB of them). */
export function startBenchEmulator(): Promise<RunningEmulator> {
  return startEmulator({ log: false, qps: 0, requestLogSize: 1000, requestLogBodyBytes: 0 })
}

/** Creates a TikTok audience through the emulator's Business API, as a user would in Ads Manager. */
export async function createAudience(apiUrl: string, name: string): Promise<string> {
  const res = await fetch(`${apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Access-Token': EMULATOR_TOKEN },
    body: JSON.stringify({ advertiser_id: ADVERTISER_ID, custom_audience_name: name, action: 'create' })
  })
  const body = (await res.json()) as { code: number; message: string; data: { audience_id?: string } }
  if (body.code !== 0 || !body.data.audience_id) throw new Error(`emulator refused to create audience ${name}: ${body.code} ${body.message}`)
  return body.data.audience_id
}

/**
 * Deletes a TikTok audience through the emulator's Business API: a counted run's members leave the
 * emulator's heap, so that every run meets an emulator of the same size (its garbage collector marks
 * what is alive).
 */
export async function deleteAudience(apiUrl: string, audienceId: string): Promise<void> {
  const res = await fetch(`${apiUrl}/v1.3/segment/audience/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'Access-Token': EMULATOR_TOKEN },
    body: JSON.stringify({ advertiser_id: ADVERTISER_ID, action: 'delete', delete_audience_id: audienceId })
  })
  const body = (await res.json()) as { code: number; message: string }
  if (body.code !== 0) throw new Error(`emulator refused to delete audience ${audienceId}: ${body.code} ${body.message}`)
}

/** Members (distinct hashed emails) an emulator audience holds: one per delivered event here. */
export function emailMembers(emu: RunningEmulator, audienceId: string): number {
  return emu.state.audiences.get(audienceId)?.members.EMAIL_SHA256.size ?? 0
}

/** A `/v1/batch` body of `size` events numbered from `from`. */
export function batchBody(from: number, size: number, o: EventOptions = {}): string {
  const batch = []
  for (let i = from; i < from + size; i++) batch.push(engageEvent(i, o))
  return JSON.stringify({ batch })
}

export const basicAuth = (writeKey: string): string => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`
