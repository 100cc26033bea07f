/**
 * State of the TikTok Business API emulator: apps, OAuth codes, tokens, advertisers, partner
 * audiences with their hashed members (in memory, and in a journal file when `stateFile` is given:
 * every change is written there before it is made), plus the request log, fault rules and rate limiter.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { formatTikTokTime } from './envelope.js'
import { FaultInjector } from './faults.js'
import { applyMapping, type ValidatedMapping } from './mapping.js'
import {
  AUDIENCE_LIFETIME_MS,
  AUTH_CODE_TTL_MS,
  DEFAULT_BUSINESS_CENTER,
  DEFAULT_OTHER_QPS,
  DEFAULT_SEGMENT_QPS,
  DEFAULT_VALID_THRESHOLD,
  EMULATOR_CREDENTIALS,
  emptyMembers,
  EXPIRING_WINDOW_MS,
  ID_TYPES,
  MAX_AUDIENCES_PER_ADVERTISER,
  TOKEN_SCOPE,
  truncateAudienceName,
  type AuthCode,
  type EmulatorAdvertiser,
  type EmulatorApp,
  type EmulatorAudience,
  type EmulatorConfig,
  type EmulatorOptions,
  type EmulatorSeed,
  type EmulatorToken,
  type IdType,
  type TokenExchangeResult
} from './model.js'
import { audienceOp, openJournal, type StateJournal } from './persist.js'
import { SlidingWindowRateLimiter } from './rate-limit.js'
import { DEFAULT_REQUEST_LOG_BODY_BYTES, DEFAULT_REQUEST_LOG_SIZE, RequestLog } from './request-log.js'

export * from './model.js'

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

  /** Issued OAuth codes (persist.ts writes and restores them with the rest). */
  readonly authCodes = new Map<string, AuthCode>()
  private readonly defaults: EmulatorConfig
  private readonly seed: EmulatorSeed
  private audienceSeq = 0
  private nextAudienceId = 0n
  /** Where changes are written before they are made; none: in memory only. */
  private journal: StateJournal | undefined

  constructor(private readonly options: EmulatorOptions = {}) {
    this.now = options.now ?? Date.now
    this.requestLog = new RequestLog(options.requestLogSize ?? DEFAULT_REQUEST_LOG_SIZE, options.requestLogBodyBytes ?? DEFAULT_REQUEST_LOG_BODY_BYTES)
    this.faults = new FaultInjector(options.random ?? Math.random)
    this.defaults = {
      qps: options.qps ?? DEFAULT_SEGMENT_QPS,
      otherQps: options.otherQps ?? DEFAULT_OTHER_QPS,
      validThreshold: options.validThreshold ?? DEFAULT_VALID_THRESHOLD
    }
    this.config = { ...this.defaults }
    this.seed = options.seed ?? {}
    this.reset()
    // A journal that has state replaces the seeded one; a new (or empty) one starts from it.
    if (options.stateFile) this.journal = openJournal(options.stateFile, this)
  }

  /** The journal file the state is kept in, if any. */
  get stateFile(): string | undefined {
    return this.journal?.file
  }

  /**
   * Back to the seeded state: fixed credentials + seed; log, faults, rate windows and config restored.
   * The journal is rewritten to hold only that: a reset is the one way to forget persisted state.
   */
  reset(): void {
    const journal = this.journal
    this.journal = undefined // the seeding below is written as one snapshot afterwards
    try {
      this.seedFresh()
    } finally {
      this.journal = journal
    }
    journal?.rewrite()
  }

  /** Writes the journal down and closes it (compacting it when it holds much more than the state). */
  close(): void {
    this.journal?.close()
    this.journal = undefined
  }

  /** Empties apps, advertisers, tokens, codes and audiences (reset, and a journal's replay). */
  clearEntities(): void {
    this.apps.clear()
    this.advertisers.clear()
    this.tokens.clear()
    this.audiences.clear()
    this.authCodes.clear()
  }

  /** Id and order counters, as a snapshot keeps them. */
  counters(): { nextAudienceId: bigint; audienceSeq: number } {
    return { nextAudienceId: this.nextAudienceId, audienceSeq: this.audienceSeq }
  }

  /** Raises the counters past a restored audience, so that new ones neither repeat its id nor sort before it. */
  raiseCounters(nextAudienceId: bigint, audienceSeq: number): void {
    if (nextAudienceId > this.nextAudienceId) this.nextAudienceId = nextAudienceId
    if (audienceSeq > this.audienceSeq) this.audienceSeq = audienceSeq
  }

  private seedFresh(): void {
    this.clearEntities()
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
      advertiserIds: fixed.advertisers.map((a) => a.advertiserId)
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
    this.journal?.write({ op: 'app', app })
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
      createTime: 1_672_531_200 // 2023-01-01, a fixed date so answers are stable
    }
    this.journal?.write({ op: 'advertiser', advertiser })
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
      createdAt: this.now()
    }
    this.journal?.write({ op: 'token', token })
    this.tokens.set(token.accessToken, token)
    return token
  }

  /** Revokes a token; later calls with it answer 40105. False if unknown. */
  revokeToken(accessToken: string): boolean {
    const token = this.tokens.get(accessToken)
    if (!token) return false
    this.journal?.write({ op: 'revoke', accessToken })
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
    const entry: AuthCode = { appId, advertiserIds: [...advertiserIds], expiresAt: this.now() + AUTH_CODE_TTL_MS, used: false }
    this.journal?.write({ op: 'code', code, entry })
    this.authCodes.set(code, entry)
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
    this.journal?.write({ op: 'code-used', code: authCode as string })
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
      history: [{ opt_time: formatTikTokTime(createdAt), action: 'create', action_detail: '0', editor: 'open_api', msg: null }]
    }
    this.journal?.write(audienceOp(audience))
    this.audiences.set(audience.audienceId, audience)
    return audience
  }

  /** Deletes an audience owned by `advertiserId`; false if there is no such audience for that advertiser. */
  deleteAudience(advertiserId: string, audienceId: string): boolean {
    const audience = this.audiences.get(audienceId)
    if (!audience || audience.advertiserId !== advertiserId) return false
    this.journal?.write({ op: 'audience-delete', audienceId })
    this.audiences.delete(audienceId)
    return true
  }

  /** Adds/removes the ids of a validated `/segment/mapping/` body (written to the journal first). */
  applyMapping(mapping: ValidatedMapping): void {
    this.journal?.writeMapping(mapping)
    applyMapping(mapping, this.audiences)
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

  /** Distinct members (TikTok's matched users grow as members are added), unless the control API set a size. */
  coverNum(audience: EmulatorAudience): number {
    if (audience.coverNum !== undefined) return audience.coverNum
    let n = 0
    for (const type of ID_TYPES) n += audience.members[type].size
    return n
  }

  expiresAt(audience: EmulatorAudience): number {
    return audience.expiresAt ?? audience.createdAt + AUDIENCE_LIFETIME_MS
  }

  /** The control API's size and expiry of an audience (null: back to the computed one), written to the journal first. */
  setAudienceReport(audience: EmulatorAudience, report: { coverNum?: number | null; expiresAt?: number | null }): void {
    const next = { ...audience }
    if (report.coverNum !== undefined) next.coverNum = report.coverNum ?? undefined
    if (report.expiresAt !== undefined) next.expiresAt = report.expiresAt ?? undefined
    this.journal?.write(audienceOp(next))
    audience.coverNum = next.coverNum
    audience.expiresAt = next.expiresAt
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
