/** The config file (INTERFACE.md "Config file"): its types and the JSON schema that checks it. */

export interface MappingConfig {
  name: string
  action: string
  trigger?: string
  mapping?: Record<string, unknown>
  enabled?: boolean
}

export interface AudienceConfig {
  key: string
  name?: string
  advertiserId?: string
  externalAudienceId?: string
  /** Native: create a new TikTok audience even when the advertiser has one of this name (default: use that one). */
  allowDuplicate?: boolean
  sendTrack?: boolean
  sendIdentify?: boolean
  enterEvent?: string
  exitEvent?: string
}

export interface DestinationConfig {
  name: string
  source?: string
  mode?: 'native' | 'legacy'
  enabled?: boolean
  normalization?: 'recommended' | 'segment'
  /** Omitted: US for a new destination, an existing one keeps its region; null: none. */
  defaultPhoneRegion?: string | null
  /** Segment consent category this destination needs (README "Deletion and consent"). */
  consentCategory?: string
  /** Record the hashed identifiers of every add, for forget (README "Deletion and consent"); default false. */
  rememberMembers?: boolean
  accessToken?: string
  advertiserIds?: string[]
  batchSize?: number
  autoConnectAudiences?: boolean
  mappings?: MappingConfig[]
  audiences?: AudienceConfig[]
}

export interface DeliveryConfig {
  /** Client-side limit of TikTok requests per second (per process). */
  rateLimit?: number
  /** How long a partition waits for more changes before a partial batch is sent. */
  windowMs?: number
  retryBaseMs?: number
  retryMaxMs?: number
  /** Give up on retryable failures after this long (default 4 hours). */
  retryForMs?: number
  concurrency?: number
  timeoutMs?: number
}

export interface ConfigFile {
  sources?: { name: string; writeKey?: string; sharedSecret?: string }[]
  destinations?: DestinationConfig[]
  delivery?: DeliveryConfig
}

const str = { type: 'string', minLength: 1 }
const bool = { type: 'boolean' }

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sources: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { name: str, writeKey: { type: 'string' }, sharedSecret: { type: 'string' } }
      }
    },
    destinations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: str,
          source: str,
          mode: { enum: ['native', 'legacy'] },
          enabled: bool,
          normalization: { enum: ['recommended', 'segment'] },
          defaultPhoneRegion: { type: ['string', 'null'], pattern: '^[A-Z]{2}$' },
          consentCategory: { type: 'string', minLength: 1, maxLength: 100 },
          rememberMembers: bool,
          accessToken: { type: 'string' },
          advertiserIds: { type: 'array', items: { type: ['string', 'number'] } },
          batchSize: { type: 'integer', minimum: 1, maximum: 10000 },
          autoConnectAudiences: bool,
          mappings: {
            type: 'array',
            maxItems: 50,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'action'],
              properties: { name: str, action: str, trigger: { type: 'string' }, mapping: { type: 'object' }, enabled: bool }
            }
          },
          audiences: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['key'],
              properties: {
                key: str,
                name: str,
                advertiserId: { type: ['string', 'number'] },
                externalAudienceId: { type: ['string', 'number'] },
                allowDuplicate: bool,
                sendTrack: bool,
                sendIdentify: bool,
                enterEvent: str,
                exitEvent: str
              }
            }
          }
        }
      }
    },
    delivery: {
      type: 'object',
      additionalProperties: false,
      properties: {
        rateLimit: { type: 'number', exclusiveMinimum: 0 },
        windowMs: { type: 'integer', minimum: 0 },
        retryBaseMs: { type: 'integer', minimum: 1 },
        retryMaxMs: { type: 'integer', minimum: 1 },
        retryForMs: { type: 'integer', minimum: 0 },
        concurrency: { type: 'integer', minimum: 1, maximum: 64 },
        timeoutMs: { type: 'integer', minimum: 100 }
      }
    }
  }
} as const
