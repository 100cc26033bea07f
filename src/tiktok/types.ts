/** Shapes of TikTok's Business API (v1.3) as the product uses them. */

/** Every JSON answer of TikTok's Business API. Business errors come back as HTTP 200 with code != 0. */
export interface TikTokEnvelope<T = unknown> {
  code: number
  message: string
  request_id?: string
  data?: T
}

/** Identifier types of `/segment/mapping/` `id_schema`. The product emits the first three, like Segment. */
export type IdType = 'EMAIL_SHA256' | 'PHONE_SHA256' | 'IDFA_SHA256' | 'AAID_SHA256' | 'IDFA_MD5' | 'AAID_MD5'

/** One cell of a `batch_data` row: a hashed identifier and the audiences it joins/leaves, or `{}` when missing. */
export type MappingCell = { id: string; audience_ids: string[] } | Record<string, never>

/** Body of `POST /segment/mapping/`. */
export interface SegmentMappingBody {
  advertiser_ids: string[]
  action: 'add' | 'delete'
  id_schema: IdType[]
  batch_data: MappingCell[][]
}

/** Body of `POST /segment/audience/`. */
export interface SegmentAudienceBody {
  advertiser_id: string
  action: 'create' | 'delete'
  custom_audience_name?: string
  delete_audience_id?: string
}

export interface AudienceDetails {
  audience_id: string
  name: string
  type?: string
  audience_type?: string
  calculate_type?: string | null
  cover_num: number
  is_valid: boolean
  is_expiring: boolean
  is_creator?: boolean
  shared?: boolean
  create_time?: string
  expired_time?: string
}

export interface AdvertiserInfo {
  advertiser_id: string
  name: string
  [k: string]: unknown
}

/** What one call sent and got back: the samples Event Delivery and Test Mapping show. */
export interface TikTokExchange<T = unknown> {
  request: { method: string; url: string; body?: unknown }
  httpStatus: number
  response: TikTokEnvelope<T> | string
  durationMs: number
}
