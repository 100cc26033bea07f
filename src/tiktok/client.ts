import { Agent, request } from 'undici'
import { TikTokError, classifyCode, classifyHttpStatus } from './errors.js'
import type { AdvertiserInfo, AudienceDetails, SegmentAudienceBody, SegmentMappingBody, TikTokEnvelope, TikTokExchange } from './types.js'
import { DELIVERY_DEFAULTS } from '../util/defaults.js'

export const TIKTOK_API_VERSION = 'v1.3'

export interface TikTokClientOptions {
  /** Base URL up to `/open_api` (TIKTOK_API_URL); the version path is appended. */
  baseUrl: string
  accessToken?: string
  /** Per-request timeout (the config's delivery.timeoutMs). */
  timeoutMs?: number
  dispatcher?: Agent
}

export interface PageInfo {
  page: number
  page_size: number
  total_number: number
  total_page: number
}

let sharedAgent: Agent | undefined
function defaultAgent(): Agent {
  sharedAgent ??= new Agent({ keepAliveTimeout: 30_000, connections: 16 })
  return sharedAgent
}

/**
 * Typed calls to TikTok's Business API. Every call resolves to the envelope's `data` on `code: 0`
 * and throws a classified `TikTokError` otherwise (HTTP 200 + `code != 0` included).
 */
export class TikTokClient {
  readonly baseUrl: string
  private readonly accessToken?: string
  private readonly timeoutMs: number
  private readonly dispatcher: Agent
  /** Called after every exchange (success or failure): metrics and request samples hook in here. */
  onExchange?: (exchange: TikTokExchange, error?: TikTokError) => void

  constructor(opts: TikTokClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.accessToken = opts.accessToken
    this.timeoutMs = opts.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs
    this.dispatcher = opts.dispatcher ?? defaultAgent()
  }

  withToken(accessToken: string | undefined, opts: { timeoutMs?: number } = {}): TikTokClient {
    const c = new TikTokClient({ baseUrl: this.baseUrl, accessToken, timeoutMs: opts.timeoutMs ?? this.timeoutMs, dispatcher: this.dispatcher })
    c.onExchange = this.onExchange
    return c
  }

  url(path: string, query?: Record<string, string | number | undefined>): string {
    let u = `${this.baseUrl}/${TIKTOK_API_VERSION}/${path.replace(/^\/+/, '')}`
    if (query) {
      const qs = Object.entries(query)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
        .join('&')
      if (qs) u += `?${qs}`
    }
    return u
  }

  /** One call; returns the whole exchange so callers can keep request/response samples. */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    opts: { query?: Record<string, string | number | undefined>; body?: unknown; bodyText?: string | Buffer; auth?: boolean; bodyShown?: unknown } = {}
  ): Promise<{ data: T; exchange: TikTokExchange<T> }> {
    const url = this.url(path, opts.query)
    const headers: Record<string, string> = {}
    if (opts.auth !== false) {
      if (!this.accessToken) {
        throw new TikTokError('No TikTok access token: connect TikTok (OAuth) or set accessToken for this destination.', 'auth', { code: 40104 })
      }
      headers['access-token'] = this.accessToken
    }
    let payload: string | Buffer | undefined
    if (opts.bodyText !== undefined || opts.body !== undefined) {
      payload = opts.bodyText ?? JSON.stringify(opts.body)
      headers['content-type'] = 'application/json'
    }
    const started = performance.now()
    const exchange: TikTokExchange<T> = {
      request: { method, url, body: opts.bodyShown ?? opts.body ?? opts.bodyText },
      httpStatus: 0,
      response: '',
      durationMs: 0
    }
    let text: string
    try {
      const res = await request(url, {
        method,
        headers,
        body: payload,
        dispatcher: this.dispatcher,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
      exchange.httpStatus = res.statusCode
      text = await res.body.text()
    } catch (cause) {
      exchange.durationMs = performance.now() - started
      exchange.response = `request failed: ${describeNetworkError(cause)}`
      const err = new TikTokError(`TikTok request failed: ${describeNetworkError(cause)}`, 'transient', { cause, exchange })
      this.onExchange?.(exchange, err)
      throw err
    }
    exchange.durationMs = performance.now() - started
    let envelope: TikTokEnvelope<T> | undefined
    try {
      const parsed = JSON.parse(text) as unknown
      if (parsed && typeof parsed === 'object' && typeof (parsed as { code?: unknown }).code === 'number') {
        envelope = parsed as TikTokEnvelope<T>
      }
    } catch {
      envelope = undefined
    }
    exchange.response = envelope ?? text.slice(0, 2000)
    let err: TikTokError | undefined
    if (!envelope) {
      err = new TikTokError(
        `TikTok answered HTTP ${exchange.httpStatus} without a JSON envelope${text ? `: ${oneLine(text).slice(0, 200)}` : ''}`,
        exchange.httpStatus >= 200 && exchange.httpStatus < 300 ? 'transient' : classifyHttpStatus(exchange.httpStatus),
        { httpStatus: exchange.httpStatus, responseText: text.slice(0, 2000), exchange }
      )
    } else if (envelope.code !== 0) {
      err = new TikTokError(envelope.message || `TikTok error ${envelope.code}`, classifyCode(envelope.code), {
        code: envelope.code,
        httpStatus: exchange.httpStatus,
        requestId: envelope.request_id,
        exchange
      })
    } else if (exchange.httpStatus >= 400) {
      err = new TikTokError(`TikTok answered HTTP ${exchange.httpStatus}`, classifyHttpStatus(exchange.httpStatus), {
        httpStatus: exchange.httpStatus,
        requestId: envelope.request_id,
        exchange
      })
    }
    this.onExchange?.(exchange, err)
    if (err) throw err
    return { data: (envelope?.data ?? {}) as T, exchange }
  }

  /** The auth test: `/user/info/` must answer `code: 0`. */
  async userInfo(): Promise<Record<string, unknown>> {
    return (await this.call<Record<string, unknown>>('GET', '/user/info/')).data
  }

  async advertiserInfo(advertiserIds: string[]): Promise<AdvertiserInfo[]> {
    const { data } = await this.call<{ list?: AdvertiserInfo[] }>('GET', '/advertiser/info/', {
      query: { advertiser_ids: JSON.stringify(advertiserIds) }
    })
    return data.list ?? []
  }

  async exchangeAuthCode(appId: string, secret: string, authCode: string): Promise<{ access_token: string; advertiser_ids: string[]; scope?: number[] }> {
    const { data } = await this.call<{ access_token: string; advertiser_ids: string[]; scope?: number[] }>('POST', '/oauth2/access_token/', {
      body: { app_id: appId, secret, auth_code: authCode },
      auth: false
    })
    return data
  }

  async authorizedAdvertisers(appId: string, secret: string): Promise<{ advertiser_id: string; advertiser_name: string }[]> {
    const { data } = await this.call<{ list?: { advertiser_id: string; advertiser_name: string }[] }>('GET', '/oauth2/advertiser/get/', {
      query: { app_id: appId, secret }
    })
    return data.list ?? []
  }

  async createAudience(body: SegmentAudienceBody): Promise<{ data: { audience_id: string }; exchange: TikTokExchange<{ audience_id: string }> }> {
    return this.call<{ audience_id: string }>('POST', '/segment/audience/', { body })
  }

  /**
   * `/segment/mapping/` with a body, or with its JSON already written (text, or UTF-8 bytes) plus
   * what the exchange should show of it (a 10,000-row body is megabytes: its first rows).
   */
  async segmentMapping(body: SegmentMappingBody | { text: string | Buffer; shown: unknown }): Promise<TikTokExchange> {
    const opts = 'text' in body ? { bodyText: body.text, bodyShown: body.shown } : { body }
    return (await this.call('POST', '/segment/mapping/', opts)).exchange
  }

  async listAudiences(advertiserId: string, page = 1, pageSize = 100): Promise<{ list: AudienceDetails[]; page_info: PageInfo }> {
    const { data } = await this.call<{ list?: AudienceDetails[]; page_info?: PageInfo }>('GET', '/dmp/custom_audience/list/', {
      query: { advertiser_id: advertiserId, page, page_size: pageSize }
    })
    return {
      list: data.list ?? [],
      page_info: data.page_info ?? { page, page_size: pageSize, total_number: data.list?.length ?? 0, total_page: page }
    }
  }

  /** Every audience of an advertiser, paging 100 at a time until `total_page`. */
  async listAllAudiences(advertiserId: string): Promise<AudienceDetails[]> {
    const all: AudienceDetails[] = []
    for (let page = 1; ; page++) {
      const { list, page_info } = await this.listAudiences(advertiserId, page, 100)
      all.push(...list)
      if (page >= page_info.total_page || list.length === 0) return all
    }
  }

  async getAudiences(advertiserId: string, audienceIds: string[]): Promise<{ audience_details: AudienceDetails }[]> {
    const { data } = await this.call<{ list?: { audience_details: AudienceDetails }[] }>('GET', '/dmp/custom_audience/get/', {
      query: { advertiser_id: advertiserId, custom_audience_ids: JSON.stringify(audienceIds) }
    })
    return data.list ?? []
  }
}

function oneLine(s: string): string {
  return s
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}

function describeNetworkError(cause: unknown): string {
  if (cause && typeof cause === 'object') {
    const c = cause as { code?: string; message?: string; name?: string }
    return [c.code ?? c.name, c.message].filter(Boolean).join(' ')
  }
  return String(cause)
}
