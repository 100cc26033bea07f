/**
 * TikTok's response envelope, return codes and the small formatting helpers every emulator route shares.
 * Codes and messages follow the reference (tiktok-business-api.md §1.3, §2.1).
 */
import { randomBytes } from 'node:crypto'

/** Body of every JSON answer of the Business API. */
export interface Envelope {
  code: number
  message: string
  request_id: string
  data: unknown
}

/** What route handlers return; the request id is stamped on by the plugin. */
export interface EnvelopeResult {
  code: number
  message: string
  data?: unknown
}

export const TikTokCode = {
  OK: 0,
  PERMISSION_ERROR: 40001,
  PARAM_ERROR: 40002,
  NOT_EXIST: 40007,
  REQUEST_TOO_FREQUENT: 40100,
  INVALID_PARTNER: 40101,
  ACCESS_TOKEN_EXPIRE: 40102,
  EMPTY_ACCESS_TOKEN: 40104,
  INVALID_ACCESS_TOKEN: 40105,
  AUTH_CODE_ERROR: 40110,
  SYS_ERROR: 50000,
  SYS_TIMEOUT: 50002,
  SEGMENT_GATEWAY_SERVICE_ERROR: 51063
} as const

export const RATE_LIMIT_MESSAGE = 'Too many requests. Please retry in some time.'

/** Realistic messages for codes the emulator emits or that faults may inject. */
const MESSAGES: Record<number, string> = {
  0: 'OK',
  20001: 'Partial success.',
  40000: 'Invalid parameters.',
  40001: 'No permission to operate this advertiser.',
  40002: 'Parameter error.',
  40003: 'Forbidden.',
  40007: 'The object does not exist.',
  40011: 'Too many ids in the request.',
  40016: 'Requests are too frequent. Please retry in some time.',
  40061: 'Invalid batch size.',
  40062: 'PII data is not hashed.',
  40100: RATE_LIMIT_MESSAGE,
  40101: 'The app_id or secret is invalid.',
  40102: 'Access token has expired.',
  40104: 'Access token is empty.',
  40105: 'Access token is incorrect or has been revoked.',
  40110: 'Auth code is invalid, has been used or has expired.',
  40132: 'Request frequency is limited. Please retry in some time.',
  40133: 'Too many requests by this developer. Please retry in some time.',
  40202: 'Write conflict. Please retry.',
  40700: 'RPC validation error.',
  50000: 'System error',
  50002: 'System timeout',
  51003: 'DMP service error.',
  51063: 'Segment gateway service error.',
  60001: 'System maintenance. Please retry later.',
  61000: 'Too many requests. Please retry later.'
}

/** The message TikTok would plausibly send with `code`; `apiPath`/`method` personalise 40001. */
export function messageForCode(code: number, apiPath = '', method = ''): string {
  if (code === TikTokCode.PERMISSION_ERROR && apiPath) return permissionMessage(apiPath, method)
  return MESSAGES[code] ?? `Error ${code}.`
}

/** TikTok's wording for a token that does not cover an advertiser, e.g. `/segment/mapping/:POST`. */
export function permissionMessage(apiPath: string, method: string): string {
  return `advertiser does not grant you ${apiPath}:${method} permission`
}

export function ok(data: unknown = {}): EnvelopeResult {
  return { code: TikTokCode.OK, message: 'OK', data }
}

export function fail(code: number, message = messageForCode(code)): EnvelopeResult {
  return { code, message, data: {} }
}

export function paramError(message: string): EnvelopeResult {
  return { code: TikTokCode.PARAM_ERROR, message, data: {} }
}

// A random per-process prefix plus a counter keeps request ids unique without a crypto call per request.
let requestIdPrefix = randomBytes(5).toString('hex').toUpperCase()
let requestIdCounter = 0

/** `YYYYMMDDhhmmss` (UTC) followed by 16 uppercase hex characters, like TikTok's request ids. */
export function newRequestId(nowMs: number): string {
  requestIdCounter = (requestIdCounter + 1) & 0xffffff
  if (requestIdCounter === 0) requestIdPrefix = randomBytes(5).toString('hex').toUpperCase()
  const iso = new Date(nowMs).toISOString()
  const stamp = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19)
  return stamp + requestIdPrefix + requestIdCounter.toString(16).toUpperCase().padStart(6, '0')
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, the format of TikTok's audience timestamps. */
export function formatTikTokTime(ms: number): string {
  const iso = new Date(ms).toISOString()
  return iso.slice(0, 10) + ' ' + iso.slice(11, 19)
}
