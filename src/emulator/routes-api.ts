/** TikTok Business API routes under `/open_api/v1.3/`: auth, rate limits, faults, the endpoints the product uses; TikTok's envelope, HTTP 200 (reference §1.3, §9). */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { fail, formatTikTokTime, ok, paramError, permissionMessage, TikTokCode, type EnvelopeResult } from './envelope.js'
import { pathWithoutPrefix, queryString, runFault, sendEnvelope } from './http.js'
import { advertisersOfRequest } from './faults.js'
import { parseIdList, validateMapping } from './mapping.js'
import { EMULATOR_CREDENTIALS, type EmulatorAdvertiser, type EmulatorAudience, type EmulatorState, type EmulatorToken } from './state.js'

export const API_BASE = '/open_api/v1.3'
/** Mapping bodies are ~300 bytes per row; 64 MiB leaves ample room above the 10,000-row limit. */
export const MAPPING_BODY_LIMIT = 64 * 1024 * 1024
const MAX_PAGE_SIZE = 100
const DEFAULT_PAGE_SIZE = 10
const MAX_GET_IDS = 100

type RateBucket = 'segment' | 'other'

interface ApiCall {
  request: FastifyRequest
  state: EmulatorState
  /** The caller's token; set on every route with `auth`. */
  token: EmulatorToken
  /** POST body (a JSON object) or {} for GET. */
  body: Record<string, unknown>
  /** Route path as TikTok names it in messages, e.g. `/segment/mapping/`. */
  apiPath: string
  method: 'GET' | 'POST'
}

interface ApiRoute {
  method: 'GET' | 'POST'
  /** Path below `/open_api/v1.3`, with trailing slash; the slash-less form is served too. */
  path: string
  auth: boolean
  bucket: RateBucket
  bodyLimit?: number
  handle(call: ApiCall): EnvelopeResult
}

const missing = (field: string) => paramError(`${field}: Missing data for required field.`)

function readAdvertiserId(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value)
  return undefined
}

/** 40001 unless the caller's token was granted every advertiser in `ids`. */
function checkGrants(call: ApiCall, ids: readonly string[]): EnvelopeResult | undefined {
  for (const id of ids) {
    if (!call.token.advertiserIds.includes(id)) {
      return fail(TikTokCode.PERMISSION_ERROR, permissionMessage(call.apiPath, call.method))
    }
  }
  return undefined
}

/** Parses a JSON-encoded id list from the query string (TikTok's convention for GET array parameters). */
function queryIdList(request: FastifyRequest, name: string): string[] | string | undefined {
  const raw = queryString(request, name)
  if (raw === undefined || raw === '') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return `${name}: Not a valid JSON list, e.g. ${name}=["123"].`
  }
  return parseIdList(parsed, name)
}

/** Positive integer query parameter; undefined when absent, an error message when malformed. */
function queryPositiveInt(request: FastifyRequest, name: string): number | string | undefined {
  const raw = queryString(request, name)
  if (raw === undefined || raw === '') return undefined
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) return `${name}: Must be a positive integer.`
  return Number(raw)
}

function advertiserInfo(a: EmulatorAdvertiser): Record<string, unknown> {
  return {
    advertiser_id: a.advertiserId,
    name: a.name,
    status: 'STATUS_ENABLE',
    role: 'ROLE_ADVERTISER',
    currency: a.currency,
    timezone: a.timezone,
    display_timezone: a.displayTimezone,
    country: a.country,
    company: a.company,
    email: 'e***@***.test',
    create_time: a.createTime,
    advertiser_account_type: 'AUCTION',
    balance: 0,
    description: 'TikTok emulator advertiser'
  }
}

function audienceListItem(state: EmulatorState, a: EmulatorAudience): Record<string, unknown> {
  return {
    audience_id: a.audienceId,
    name: a.name,
    audience_type: 'Partner',
    calculate_type: 'MULTIPLE_TYPES',
    cover_num: state.coverNum(a),
    is_valid: state.isValid(a),
    is_expiring: state.isExpiring(a),
    is_creator: true,
    shared: false,
    create_time: formatTikTokTime(a.createdAt),
    expired_time: formatTikTokTime(state.expiresAt(a))
  }
}

function audienceDetails(state: EmulatorState, a: EmulatorAudience): Record<string, unknown> {
  return {
    audience_id: a.audienceId,
    name: a.name,
    type: 'Partner',
    audience_sub_type: 'NORMAL',
    calculate_type: 'MULTIPLE_TYPES',
    cover_num: state.coverNum(a),
    is_valid: state.isValid(a),
    is_expiring: state.isExpiring(a),
    is_auto_refresh: false,
    is_creator: true,
    shared: false,
    owner_id: a.advertiserId,
    msg: null,
    error_msg: null,
    create_time: formatTikTokTime(a.createdAt),
    expired_time: formatTikTokTime(state.expiresAt(a)),
    rule: '{"inclusions": null, "exclusions": null}'
  }
}

const userInfo: ApiRoute = {
  method: 'GET',
  path: '/user/info/',
  auth: true,
  bucket: 'other',
  handle: () =>
    ok({
      display_name: 'Emulator User',
      email: 'e***@***.test',
      core_user_id: '7000000000000000099',
      create_time: 1_672_531_200,
      avatar_url: null
    })
}

const advertiserInfoRoute: ApiRoute = {
  method: 'GET',
  path: '/advertiser/info/',
  auth: true,
  bucket: 'other',
  handle(call) {
    const ids = queryIdList(call.request, 'advertiser_ids')
    if (ids === undefined) return missing('advertiser_ids')
    if (typeof ids === 'string') return paramError(ids)
    const denied = checkGrants(call, ids)
    if (denied) return denied
    const fields = queryString(call.request, 'fields')
    let wanted: string[] | undefined
    if (fields) {
      try {
        const parsed: unknown = JSON.parse(fields)
        if (!Array.isArray(parsed) || !parsed.every((f) => typeof f === 'string')) throw new Error('not a list')
        wanted = parsed as string[]
      } catch {
        return paramError('fields: Not a valid JSON list of field names.')
      }
    }
    const list = []
    for (const id of ids) {
      const adv = call.state.advertisers.get(id)
      if (!adv) continue
      const info = advertiserInfo(adv)
      list.push(wanted ? Object.fromEntries(wanted.filter((f) => f in info).map((f) => [f, info[f]])) : info)
    }
    return ok({ list })
  }
}

const oauthAdvertiserGet: ApiRoute = {
  method: 'GET',
  path: '/oauth2/advertiser/get/',
  auth: true,
  bucket: 'other',
  handle(call) {
    const appId = queryString(call.request, 'app_id')
    const secret = queryString(call.request, 'secret')
    if (!appId) return missing('app_id')
    if (!secret) return missing('secret')
    const app = call.state.checkAppSecret(appId, secret)
    if (!app) return fail(TikTokCode.INVALID_PARTNER)
    const list = call.state.advertisersAuthorisedFor(app.appId).map((a) => ({ advertiser_id: a.advertiserId, advertiser_name: a.name }))
    return ok({ list })
  }
}

const oauthAccessToken: ApiRoute = {
  method: 'POST',
  path: '/oauth2/access_token/',
  auth: false,
  bucket: 'other',
  handle(call) {
    const { app_id: appId, secret, auth_code: authCode } = call.body
    if (appId === undefined || appId === '') return missing('app_id')
    if (secret === undefined || secret === '') return missing('secret')
    if (authCode === undefined || authCode === '') return missing('auth_code')
    const result = call.state.exchangeAuthCode(appId, secret, authCode)
    if (!result.ok) return fail(result.reason === 'bad-app' ? TikTokCode.INVALID_PARTNER : TikTokCode.AUTH_CODE_ERROR)
    const data: Record<string, unknown> = { access_token: result.token.accessToken, scope: result.token.scope }
    if (call.body.return_advertiser_ids !== false) data.advertiser_ids = result.token.advertiserIds
    return ok(data)
  }
}

const segmentAudience: ApiRoute = {
  method: 'POST',
  path: '/segment/audience/',
  auth: true,
  bucket: 'segment',
  handle(call) {
    const { body, state } = call
    if (body.advertiser_id === undefined) return missing('advertiser_id')
    const advertiserId = readAdvertiserId(body.advertiser_id)
    if (!advertiserId) return paramError('advertiser_id must be an id string')
    const denied = checkGrants(call, [advertiserId])
    if (denied) return denied
    const action = body.action ?? 'create'
    if (action === 'create') {
      // id_type was sent by older Segment versions; TikTok ignores it, so do we.
      const name = body.custom_audience_name
      if (name === undefined || name === null || name === '') return missing('custom_audience_name')
      if (typeof name !== 'string') return paramError('custom_audience_name must be a string')
      const created = state.createAudience(advertiserId, name)
      if (typeof created === 'string') return paramError(created)
      return ok({ audience_id: created.audienceId })
    }
    if (action === 'delete') {
      const audienceId = readAdvertiserId(body.delete_audience_id)
      if (body.delete_audience_id === undefined) return missing('delete_audience_id')
      if (!audienceId) return paramError('delete_audience_id must be an id string')
      if (!state.deleteAudience(advertiserId, audienceId)) {
        return paramError(`delete_audience_id: audience ${audienceId} does not exist under advertiser ${advertiserId}.`)
      }
      return ok({})
    }
    return paramError(`action must be one of create, delete (got ${JSON.stringify(action)})`)
  }
}

/** Whether a registered route URL (any prefix, with or without its trailing slash) is `/segment/mapping/`. */
export function isMappingRoute(url: string | undefined): boolean {
  return url !== undefined && (url.endsWith(`${API_BASE}/segment/mapping/`) || url.endsWith(`${API_BASE}/segment/mapping`))
}

const segmentMapping: ApiRoute = {
  method: 'POST',
  path: '/segment/mapping/',
  auth: true,
  bucket: 'segment',
  bodyLimit: MAPPING_BODY_LIMIT,
  handle(call) {
    const { body, state } = call
    if (body.advertiser_ids === undefined) return missing('advertiser_ids')
    const advertiserIds = parseIdList(body.advertiser_ids, 'advertiser_ids')
    if (typeof advertiserIds === 'string') return paramError(advertiserIds)
    const denied = checkGrants(call, advertiserIds)
    if (denied) return denied
    let businessCenter: string | undefined
    for (const id of advertiserIds) {
      const bc = state.advertisers.get(id)?.bcId
      if (businessCenter !== undefined && bc !== businessCenter) {
        return paramError('advertiser_ids must all belong to the same Business Center')
      }
      businessCenter = bc
    }
    const mapping = validateMapping(body, advertiserIds, state.audiences)
    if (typeof mapping === 'string') return paramError(mapping)
    state.applyMapping(mapping)
    return ok({})
  }
}

const customAudienceList: ApiRoute = {
  method: 'GET',
  path: '/dmp/custom_audience/list/',
  auth: true,
  bucket: 'other',
  handle(call) {
    const advertiserId = queryString(call.request, 'advertiser_id')
    if (!advertiserId) return missing('advertiser_id')
    const denied = checkGrants(call, [advertiserId])
    if (denied) return denied
    const page = queryPositiveInt(call.request, 'page') ?? 1
    if (typeof page === 'string') return paramError(page)
    const pageSize = queryPositiveInt(call.request, 'page_size') ?? DEFAULT_PAGE_SIZE
    if (typeof pageSize === 'string') return paramError(pageSize)
    if (pageSize > MAX_PAGE_SIZE) return paramError(`page_size: Must be between 1 and ${MAX_PAGE_SIZE}.`)
    const filter = queryIdList(call.request, 'custom_audience_ids')
    if (typeof filter === 'string') return paramError(filter)
    let audiences = call.state.listAudiences(advertiserId)
    if (filter) audiences = audiences.filter((a) => filter.includes(a.audienceId))
    const total = audiences.length
    const list = audiences.slice((page - 1) * pageSize, page * pageSize).map((a) => audienceListItem(call.state, a))
    return ok({
      page_info: { page, page_size: pageSize, total_number: total, total_page: Math.ceil(total / pageSize) },
      list
    })
  }
}

const customAudienceGet: ApiRoute = {
  method: 'GET',
  path: '/dmp/custom_audience/get/',
  auth: true,
  bucket: 'other',
  handle(call) {
    const advertiserId = queryString(call.request, 'advertiser_id')
    if (!advertiserId) return missing('advertiser_id')
    const denied = checkGrants(call, [advertiserId])
    if (denied) return denied
    const ids = queryIdList(call.request, 'custom_audience_ids')
    if (ids === undefined) return missing('custom_audience_ids')
    if (typeof ids === 'string') return paramError(ids)
    if (ids.length > MAX_GET_IDS) return paramError(`custom_audience_ids: Length must be between 1 and ${MAX_GET_IDS}.`)
    const historySize = queryPositiveInt(call.request, 'history_size') ?? 100
    if (typeof historySize === 'string') return paramError(historySize)
    const list = []
    for (const id of ids) {
      const audience = call.state.audiences.get(id)
      if (!audience || audience.advertiserId !== advertiserId) {
        return paramError(`custom_audience_ids: audience ${id} does not exist under advertiser ${advertiserId}.`)
      }
      list.push({ audience_details: audienceDetails(call.state, audience), audience_history: audience.history.slice(-historySize) })
    }
    return ok({ list })
  }
}

export const API_ROUTES: readonly ApiRoute[] = [
  userInfo,
  advertiserInfoRoute,
  oauthAdvertiserGet,
  oauthAccessToken,
  segmentAudience,
  segmentMapping,
  customAudienceList,
  customAudienceGet
]

function accessTokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers['access-token']
  const value = Array.isArray(header) ? header[0] : header
  return value || queryString(request, 'access_token') || undefined
}

/** Registers the TikTok routes; `withSlashlessAliases` is false when the host router already ignores trailing slashes. */
export function registerApiRoutes(app: FastifyInstance, state: EmulatorState, prefix: string, withSlashlessAliases: boolean): void {
  for (const route of API_ROUTES) {
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const fault =
        state.faults.size > 0
          ? state.faults.take(request.method, pathWithoutPrefix(request, prefix), () => advertisersOfRequest(request.body, request.query))
          : undefined
      if (fault && (await runFault(fault, request, reply, state, route.path))) return reply

      const rawBody = request.body
      const body = typeof rawBody === 'object' && rawBody !== null && !Array.isArray(rawBody) ? (rawBody as Record<string, unknown>) : {}
      let token: EmulatorToken | undefined
      if (route.auth) {
        const accessToken = accessTokenOf(request)
        if (!accessToken) return sendEnvelope(request, reply, state, fail(TikTokCode.EMPTY_ACCESS_TOKEN))
        token = state.activeToken(accessToken)
        if (!token) return sendEnvelope(request, reply, state, fail(TikTokCode.INVALID_ACCESS_TOKEN))
      }
      // Limits are per app: the token's app, or for the token exchange the app in the body.
      const appId = token?.appId ?? (typeof body.app_id === 'string' ? body.app_id : undefined)
      if (appId !== undefined) {
        const limit = route.bucket === 'segment' ? state.config.qps : state.config.otherQps
        // Real elapsed time, not the injectable clock: pacing is about actual request rates, and a frozen
        // test clock must not freeze the window.
        if (!state.rateLimiter.tryAcquire(`${appId}\u0000${route.bucket}`, limit, performance.now())) {
          return sendEnvelope(request, reply, state, fail(TikTokCode.REQUEST_TOO_FREQUENT))
        }
      }
      if (route.method === 'POST' && body !== rawBody) {
        return sendEnvelope(request, reply, state, paramError('Request body must be a JSON object.'))
      }
      const call: ApiCall = {
        request,
        state,
        token: token ?? placeholderToken,
        body,
        apiPath: route.path,
        method: route.method
      }
      return sendEnvelope(request, reply, state, route.handle(call))
    }
    const urls = [API_BASE + route.path]
    if (withSlashlessAliases) urls.push(API_BASE + route.path.slice(0, -1))
    for (const url of urls) {
      app.route({ method: route.method, url, handler, ...(route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}) })
    }
  }
}

/** Stands in for the token on routes without auth; it is granted nothing. */
const placeholderToken: EmulatorToken = {
  accessToken: '',
  appId: EMULATOR_CREDENTIALS.appId,
  advertiserIds: [],
  scope: [],
  revoked: true,
  createdAt: 0
}
