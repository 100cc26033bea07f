/**
 * The emulator's data model: id types, TikTok's limits, the fixed credentials and the shapes of
 * apps, advertisers, tokens and audiences (state.ts keeps them; persist.ts writes them down).
 */

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
    { advertiserId: '7000000000000000002', name: 'Emulator Advertiser 2' }
  ]
} as const

export const MAX_MAPPING_ROWS = 10_000
export const MAX_AUDIENCES_PER_ADVERTISER = 400
export const AUDIENCE_NAME_MAX_LENGTH = 70
export const AUTH_CODE_TTL_MS = 60 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000
export const AUDIENCE_LIFETIME_MS = 365 * DAY_MS
export const EXPIRING_WINDOW_MS = 60 * DAY_MS
/** Permission ids granted to every token ("Audience Management" and friends; TikTok sends numbers). */
export const TOKEN_SCOPE = [1, 4, 5]
export const DEFAULT_BUSINESS_CENTER = '7100000000000000001'

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
  /**
   * Journal file that keeps apps, advertisers, tokens, auth codes, audiences and members across
   * restarts (persist.ts); without it the state lives in memory only.
   */
  stateFile?: string
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

export interface AuthCode {
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
  /** Set by the control API (`POST /_emulator/audiences/{id}`): what `cover_num` reports instead of the member count. */
  coverNum?: number
  /** Set by the control API: the expiry (epoch ms) reported instead of creation + 365 days. */
  expiresAt?: number
}

export type TokenExchangeResult = { ok: true; token: EmulatorToken } | { ok: false; reason: 'bad-app' | 'bad-code' }

export function emptyMembers(): Record<IdType, Set<string>> {
  return {
    EMAIL_SHA256: new Set(),
    PHONE_SHA256: new Set(),
    IDFA_SHA256: new Set(),
    AAID_SHA256: new Set(),
    IDFA_MD5: new Set(),
    AAID_MD5: new Set()
  }
}

/** TikTok keeps segment audience names to 70 characters: longer ones become the first 67 + "...". */
export function truncateAudienceName(name: string): string {
  return name.length > AUDIENCE_NAME_MAX_LENGTH ? name.slice(0, AUDIENCE_NAME_MAX_LENGTH - 3) + '...' : name
}
