/**
 * In-memory state of the TikTok Business API emulator: apps, OAuth codes, tokens, advertisers,
 * partner audiences with their hashed members, plus the request log, fault rules and rate limiter.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { formatTikTokTime } from './envelope.js'
import { FaultInjector } from './faults.js'
import { SlidingWindowRateLimiter } from './rate-limit.js'
import { DEFAULT_REQUEST_LOG_BODY_BYTES, DEFAULT_REQUEST_LOG_SIZE, RequestLog } from './request-log.js'

/** `/segment/mapping/` identifier types (reference §4.2). */
export const ID_TYPES = ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_SHA256', 'AAID_SHA256', 'IDFA_MD5', 'AAID_MD5'] as const
export type IdType = (typeof ID_TYPES)[number]

/** Credentials the emulator always starts with (and restores on reset). */
export const EMULATOR_CREDENTIALS = {
  appId: 'emulator-app',
  secret: 'emulator-secret',
  accessToken: 'emulator-access-token',
  advertisers: [
    { advertiserId: '7000000000000000001', name: 'Emulator Advertiser' },
    { advertiserId: '7000000000000000002', name: 'Emulator Advertiser 2' },
  ],
} as const

export const MAX_MAPPING_ROWS = 10_000
export const MAX_AUDIENCES_PER_ADVERTISER = 400
export const AUDIENCE_NAME_MAX_LENGTH = 70
export const AUTH_CODE_TTL_MS = 60 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000
export const AUDIENCE_LIFETIME_MS = 365 * DAY_MS
export const EXPIRING_WINDOW_MS = 60 * DAY_MS
/** Permission ids granted to every token ("Audience Management" and friends; TikTok sends numbers). */
const TOKEN_SCOPE = [1, 4, 5]
const DEFAULT_BUSINESS_CENTER = '7100000000000000001'

export interface EmulatorSeed {
  apps?: Array<{ app_id: string; secret: string; name?: string }>
  advertisers?: Array<{
    advertiser_id: string
    name: string
    currency?: string
    timezone?: string
    country?: string
    company?: string
    /** Business Center; one mapping call may only span advertisers of the same one. */
    bc_id?: string
  }>
  tokens?: Array<{ access_token: string; app_id?: string; advertiser_ids: string[] }>
  audiences?: Array<{
    advertiser_id: string
    name: string
    audience_id?: string
    members?: Partial<Record<IdType, string[]>>
  }>
}

export interface EmulatorOptions {
  /** Requests per second per app on `/segment/*` routes (TikTok: 50); 0 = unlimited. */
  qps?: number
  /** Requests per second per app on the other TikTok routes; 0 = unlimited. Default 1000. */
  otherQps?: number
  /** Number of requests the log keeps (default 2000). */
  requestLogSize?: number
  /** Total wire size of request bodies the log keeps before dropping the oldest bodies (default 64 MiB). */
  requestLogBodyBytes?: number
  /** cover_num from which an audience reports is_valid (TikTok: 1000). */
  validThreshold?: number
  /** Extra apps, advertisers, tokens and audiences on top of the fixed credentials; restored by reset. */
  seed?: EmulatorSeed
  /** Clock in epoch ms for audience times, auth-code expiry and request ids (tests inject one); rate limiting uses real time. */
  now?: () => number
  /** Random source in [0,1) for fault `rate` (tests inject one). */
  random?: () => number
}

export const DEFAULT_SEGMENT_QPS = 50
export const DEFAULT_OTHER_QPS = 1000
export const DEFAULT_VALID_THRESHOLD = 1000

export interface EmulatorConfig {
  qps: number
  otherQps: number
  validThreshold: number
}

export interface EmulatorApp {
  appId: string
  secret: string
  name: string
}

export interface EmulatorAdvertiser {
  advertiserId: string
  name: string
  currency: string
  timezone: string
  displayTimezone: string
  country: string
  company: string
  bcId: string
  /** Epoch seconds. */
  createTime: number
}

export interface EmulatorToken {
  accessToken: string
  appId: string
  advertiserIds: string[]
  scope: number[]
  revoked: boolean
  createdAt: number
}

interface AuthCode {
  appId: string
  advertiserIds: string[]
  expiresAt: number
  used: boolean
}

export interface AudienceHistoryEntry {
  opt_time: string
  action: string
  action_detail: string
  editor: string
  msg: null
}

export interface EmulatorAudience {
  audienceId: string
  advertiserId: string
  name: string
  /** Epoch ms. */
  createdAt: number
  /** Creation order, to sort audiences created within the same millisecond. */
  seq: number
  /** Hashed ids per id type; hashes are stored lowercase so either case counts as one member. */
  members: Record<IdType, Set<string>>
  history: AudienceHistoryEntry[]
}

export type TokenExchangeResult =
  | { ok: true; token: EmulatorToken }
  | { ok: false; reason: 'bad-app' | 'bad-code' }

export class EmulatorState {
  readonly apps = new Map<string, EmulatorApp>()
  readonly advertisers = new Map<string, EmulatorAdvertiser>()
  readonly tokens = new Map<string, EmulatorToken>()
  readonly audiences = new Map<string, EmulatorAudience>()
  readonly requestLog: RequestLog
  readonly faults: FaultInjector
  readonly rateLimiter = new SlidingWindowRateLimiter()
  config: EmulatorConfig
  readonly now: () => number

  private readonly authCodes = new Map<string, AuthCode>()
  private readonly defaults: EmulatorConfig
  private readonly seed: EmulatorSeed
  private audienceSeq = 0
  private nextAudienceId = 0n

  constructor(private readonly options: EmulatorOptions = {}) {
    this.now = options.now ?? Date.now
    this.requestLog = new RequestLog(
      options.requestLogSize ?? DEFAULT_REQUEST_LOG_SIZE,
      options.requestLogBodyBytes ?? DEFAULT_REQUEST_LOG_BODY_BYTES,
    )
    this.faults = new FaultInjector(options.random ?? Math.random)
    this.defaults = {
      qps: options.qps ?? DEFAULT_SEGMENT_QPS,
      otherQps: options.otherQps ?? DEFAULT_OTHER_QPS,
      validThreshold: options.validThreshold ?? DEFAULT_VALID_THRESHOLD,
    }
    this.config = { ...this.defaults }
    this.seed = options.seed ?? {}
    this.reset()
  }

  /** Back to the seeded state: fixed credentials + seed; log, faults, rate windows and config restored. */
  reset(): void {
    this.apps.clear()
    this.advertisers.clear()
    this.tokens.clear()
    this.audiences.clear()
    this.authCodes.clear()
    this.requestLog.clear()
    this.faults.clear()
    this.rateLimiter.clear()
    this.config = { ...this.defaults }
    // A fresh random base per reset: ids look like TikTok's (19 digits) and never repeat within a run.
    this.nextAudienceId = 7_300_000_000_000_000_000n + BigInt(randomInt(0, 2 ** 40)) * 1000n

    const fixed = EMULATOR_CREDENTIALS
    this.addApp(fixed.appId, fixed.secret, 'Emulator App')
    for (const adv of fixed.advertisers) this.addAdvertiser({ advertiser_id: adv.advertiserId, name: adv.name })
    this.createToken({
      accessToken: fixed.accessToken,
      appId: fixed.appId,
      advertiserIds: fixed.advertisers.map((a) => a.advertiserId),
    })

    const seed = this.seed
    for (const app of seed.apps ?? []) this.addApp(app.app_id, app.secret, app.name ?? app.app_id)
    for (const adv of seed.advertisers ?? []) this.addAdvertiser(adv)
    for (const t of seed.tokens ?? []) {
      this.createToken({ accessToken: t.access_token, appId: t.app_id ?? fixed.appId, advertiserIds: t.advertiser_ids })
    }
    for (const a of seed.audiences ?? []) {
      const audience = this.createAudience(a.advertiser_id, a.name, a.audience_id)
      if (typeof audience === 'string') throw new Error(`emulator seed: ${audience}`)
      for (const type of ID_TYPES) {
        for (const id of a.members?.[type] ?? []) audience.members[type].add(id.toLowerCase())
      }
    }
  }

  setConfig(patch: Partial<EmulatorConfig>): EmulatorConfig {
    this.config = { ...this.config, ...patch }
    return this.config
  }

  // ---- apps, advertisers, tokens, OAuth codes ----

  addApp(appId: string, secret: string, name = appId): EmulatorApp {
    const app = { appId, secret, name }
    this.apps.set(appId, app)
    return app
  }

  addAdvertiser(a: NonNullable<EmulatorSeed['advertisers']>[number]): EmulatorAdvertiser {
    const advertiser: EmulatorAdvertiser = {
      advertiserId: a.advertiser_id,
      name: a.name,
      currency: a.currency ?? 'USD',
      timezone: a.timezone ?? 'Etc/GMT',
      displayTimezone: a.timezone ?? 'UTC',
      country: a.country ?? 'US',
      company: a.company ?? 'Emulator Inc.',
      bcId: a.bc_id ?? DEFAULT_BUSINESS_CENTER,
      createTime: 1_672_531_200, // 2023-01-01, a fixed date so answers are stable
    }
    this.advertisers.set(advertiser.advertiserId, advertiser)
    return advertiser
  }

  createToken(t: { accessToken?: string; appId?: string; advertiserIds: string[] }): EmulatorToken {
    const token: EmulatorToken = {
      accessToken: t.accessToken ?? randomBytes(20).toString('hex'),
      appId: t.appId ?? EMULATOR_CREDENTIALS.appId,
      advertiserIds: [...new Set(t.advertiserIds)],
      scope: [...TOKEN_SCOPE],
      revoked: false,
      createdAt: this.now(),
    }
    this.tokens.set(token.accessToken, token)
    return token
  }

  /** Revokes a token; later calls with it answer 40105. False if unknown. */
  revokeToken(accessToken: string): boolean {
    const token = this.tokens.get(accessToken)
    if (!token) return false
    token.revoked = true
    return true
  }

  /** A usable (known, not revoked) token, or undefined. */
  activeToken(accessToken: string): EmulatorToken | undefined {
    const token = this.tokens.get(accessToken)
    return token && !token.revoked ? token : undefined
  }

  checkAppSecret(appId: unknown, secret: unknown): EmulatorApp | undefined {
    if (typeof appId !== 'string' || typeof secret !== 'string') return undefined
    const app = this.apps.get(appId)
    return app && app.secret === secret ? app : undefined
  }

  /** Issues a single-use auth code valid for one hour, as the consent page does on approval. */
  issueAuthCode(appId: string, advertiserIds: string[]): string {
    const code = randomBytes(20).toString('hex')
    this.authCodes.set(code, { appId, advertiserIds: [...advertiserIds], expiresAt: this.now() + AUTH_CODE_TTL_MS, used: false })
    return code
  }

  /** `/oauth2/access_token/`: checks the app, then consumes the code and issues a long-lived token. */
  exchangeAuthCode(appId: unknown, secret: unknown, authCode: unknown): TokenExchangeResult {
    const app = this.checkAppSecret(appId, secret)
    if (!app) return { ok: false, reason: 'bad-app' }
    const entry = typeof authCode === 'string' ? this.authCodes.get(authCode) : undefined
    if (!entry || entry.used || entry.appId !== app.appId || entry.expiresAt <= this.now()) {
      return { ok: false, reason: 'bad-code' }
    }
    entry.used = true
    return { ok: true, token: this.createToken({ appId: app.appId, advertiserIds: entry.advertiserIds }) }
  }

  /** Advertisers that granted the app access through a still-valid token, in first-granted order. */
  advertisersAuthorisedFor(appId: string): EmulatorAdvertiser[] {
    const ids = new Set<string>()
    for (const token of this.tokens.values()) {
      if (token.appId === appId && !token.revoked) for (const id of token.advertiserIds) ids.add(id)
    }
    const out: EmulatorAdvertiser[] = []
    for (const id of ids) {
      const adv = this.advertisers.get(id)
      if (adv) out.push(adv)
    }
    return out
  }

  // ---- audiences ----

  /** Creates a partner audience; returns an error message when the advertiser is at its 400-audience limit. */
  createAudience(advertiserId: string, name: string, audienceId?: string): EmulatorAudience | string {
    let owned = 0
    for (const a of this.audiences.values()) if (a.advertiserId === advertiserId) owned++
    if (owned >= MAX_AUDIENCES_PER_ADVERTISER) {
      return `The number of audiences of advertiser ${advertiserId} has reached the limit of ${MAX_AUDIENCES_PER_ADVERTISER}. Delete unused audiences and try again.`
    }
    const createdAt = this.now()
    const audience: EmulatorAudience = {
      audienceId: audienceId ?? this.newAudienceId(),
      advertiserId,
      name: truncateAudienceName(name),
      createdAt,
      seq: ++this.audienceSeq,
      members: emptyMembers(),
      history: [{ opt_time: '', action: 'create', action_detail: '0', editor: 'open_api', msg: null }],
    }
    audience.history[0].opt_time = formatTikTokTime(createdAt)
    this.audiences.set(audience.audienceId, audience)
    return audience
  }

  /** Deletes an audience owned by `advertiserId`; false if there is no such audience for that advertiser. */
  deleteAudience(advertiserId: string, audienceId: string): boolean {
    const audience = this.audiences.get(audienceId)
    if (!audience || audience.advertiserId !== advertiserId) return false
    this.audiences.delete(audienceId)
    return true
  }

  /** Audiences of one advertiser (or all), newest first. */
  listAudiences(advertiserId?: string): EmulatorAudience[] {
    const out: EmulatorAudience[] = []
    for (const a of this.audiences.values()) if (advertiserId === undefined || a.advertiserId === advertiserId) out.push(a)
    return out.sort((x, y) => y.seq - x.seq)
  }

  /** Distinct member ids per id type. */
  memberCounts(audience: EmulatorAudience): Record<IdType, number> {
    const counts = {} as Record<IdType, number>
    for (const type of ID_TYPES) counts[type] = audience.members[type].size
    return counts
  }

  coverNum(audience: EmulatorAudience): number {
    let n = 0
    for (const type of ID_TYPES) n += audience.members[type].size
    return n
  }

  expiresAt(audience: EmulatorAudience): number {
    return audience.createdAt + AUDIENCE_LIFETIME_MS
  }

  isExpiring(audience: EmulatorAudience): boolean {
    return this.now() >= this.expiresAt(audience) - EXPIRING_WINDOW_MS
  }

  isValid(audience: EmulatorAudience): boolean {
    return this.now() < this.expiresAt(audience) && this.coverNum(audience) >= this.config.validThreshold
  }

  private newAudienceId(): string {
    let id: string
    do {
      this.nextAudienceId += BigInt(1 + randomInt(0, 997))
      id = this.nextAudienceId.toString()
    } while (this.audiences.has(id))
    return id
  }
}

export function emptyMembers(): Record<IdType, Set<string>> {
  return {
    EMAIL_SHA256: new Set(),
    PHONE_SHA256: new Set(),
    IDFA_SHA256: new Set(),
    AAID_SHA256: new Set(),
    IDFA_MD5: new Set(),
    AAID_MD5: new Set(),
  }
}

/** TikTok keeps segment audience names to 70 characters: longer ones become the first 67 + "...". */
export function truncateAudienceName(name: string): string {
  return name.length > AUDIENCE_NAME_MAX_LENGTH ? name.slice(0, AUDIENCE_NAME_MAX_LENGTH - 3) + '...' : name
}
