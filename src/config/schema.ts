/**
 * The config file (INTERFACE.md "Config file"): one JSON schema that checks it, and its types
 * derived from that schema (TypeBox). Defaults live in src/util/defaults.ts.
 *
 * A few keywords are written as plain JSON schema (`Type.Unsafe`) rather than TypeBox unions: a
 * `type` list and an `enum` give one error each ("must be string,number", "must be one of …"),
 * where `anyOf` would give one per branch.
 */
import { Type, type Static } from '@sinclair/typebox'
import { MAX_BATCH_SIZE } from '../util/defaults.js'
import { DURATION_PATTERN } from '../warehouse/duration.js'

const str = () => Type.String({ minLength: 1 })
const bool = () => Type.Optional(Type.Boolean())
const stringOrNumber = () => Type.Unsafe<string | number>({ type: ['string', 'number'] })
const oneOf = <T extends string[]>(...values: T) => Type.Unsafe<T[number]>({ enum: values })
const closed = { additionalProperties: false } as const

export const mappingConfigSchema = Type.Object(
  {
    name: str(),
    action: str(),
    trigger: Type.Optional(Type.String()),
    mapping: Type.Optional(Type.Unsafe<Record<string, unknown>>({ type: 'object' })),
    enabled: bool()
  },
  closed
)

export const audienceConfigSchema = Type.Object(
  {
    key: str(),
    name: Type.Optional(str()),
    advertiserId: Type.Optional(stringOrNumber()),
    externalAudienceId: Type.Optional(stringOrNumber()),
    /**
     * Fan-out (SPEC §5.7): every advertiser the audience goes to, each with its own TikTok audience;
     * instead of `advertiserId` (a list of one). The first is the connection's `advertiserId`.
     */
    advertiserIds: Type.Optional(Type.Array(stringOrNumber(), { minItems: 1, maxItems: 50, uniqueItems: true })),
    /** Existing TikTok audiences by advertiser id (keys among `advertiserIds`); an advertiser left out gets one created (native). */
    externalAudienceIds: Type.Optional(
      Type.Unsafe<Record<string, string | number>>({
        type: 'object',
        propertyNames: { pattern: '^[0-9]+$' },
        additionalProperties: { type: ['string', 'number'] }
      })
    ),
    /** Native: create a new TikTok audience even when the advertiser has one of this name (default: use that one). */
    allowDuplicate: bool(),
    sendTrack: bool(),
    sendIdentify: bool(),
    enterEvent: Type.Optional(str()),
    exitEvent: Type.Optional(str())
  },
  closed
)

export const destinationConfigSchema = Type.Object(
  {
    name: str(),
    source: Type.Optional(str()),
    mode: Type.Optional(oneOf('native', 'legacy')),
    enabled: bool(),
    normalization: Type.Optional(oneOf('recommended', 'segment')),
    /** Omitted: US for a new destination, an existing one keeps its region; null: none. */
    defaultPhoneRegion: Type.Optional(Type.Unsafe<string | null>({ type: ['string', 'null'], pattern: '^[A-Z]{2}$' })),
    /** Segment consent category this destination needs (README "Deletion and consent"). */
    consentCategory: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    /** Record the hashed identifiers of every add, for forget (README "Deletion and consent"); default false. */
    rememberMembers: bool(),
    accessToken: Type.Optional(Type.String()),
    advertiserIds: Type.Optional(Type.Array(stringOrNumber())),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_BATCH_SIZE })),
    autoConnectAudiences: bool(),
    mappings: Type.Optional(Type.Array(mappingConfigSchema, { maxItems: 50 })),
    audiences: Type.Optional(Type.Array(audienceConfigSchema))
  },
  closed
)

export const deliveryConfigSchema = Type.Object(
  {
    /** Client-side limit of TikTok requests per second (per process). */
    rateLimit: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** How long a partition waits for more changes before a partial batch is sent. */
    windowMs: Type.Optional(Type.Integer({ minimum: 0 })),
    retryBaseMs: Type.Optional(Type.Integer({ minimum: 1 })),
    retryMaxMs: Type.Optional(Type.Integer({ minimum: 1 })),
    /** Give up on retryable failures after this long. */
    retryForMs: Type.Optional(Type.Integer({ minimum: 0 })),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
    /** One TikTok request. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100 }))
  },
  closed
)

/** A sender of events, authenticated by its write key (the default kind). */
export interface EventSourceConfig {
  name: string
  kind?: 'events'
  writeKey?: string
  sharedSecret?: string
}

/** A warehouse table mirrored into one audience on a schedule (src/warehouse/). */
export interface WarehouseSourceConfig {
  name: string
  kind: 'postgres'
  /** postgres://… */
  url: string
  /** Returns `email` / `phone` / `advertising_id` columns, any subset. */
  query: string
  destination: string
  /** A key under that destination's audiences. */
  audience: string
  /** `30s`, `15m`, `1h`, `1d`. */
  every: string
}

export type SourceConfig = EventSourceConfig | WarehouseSourceConfig

export const isWarehouseSource = (s: SourceConfig): s is WarehouseSourceConfig => s.kind === 'postgres'

/** Keys only one kind of source has (named in the config's error messages). */
export const WAREHOUSE_ONLY_KEYS = ['url', 'query', 'destination', 'audience', 'every'] as const
export const EVENTS_ONLY_KEYS = ['writeKey', 'sharedSecret'] as const

/**
 * Plain JSON schema (`Type.Unsafe`): each kind has its own keys, and the other kind's are refused by
 * name (load.ts says which) — an if/then/else TypeBox has no builder for.
 */
export const sourceConfigSchema = Type.Unsafe<SourceConfig>({
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1 },
    kind: { enum: ['events', 'postgres'] },
    writeKey: { type: 'string' },
    sharedSecret: { type: 'string' },
    url: { type: 'string', minLength: 1, pattern: '^postgres(ql)?://' },
    query: { type: 'string', minLength: 1 },
    destination: { type: 'string', minLength: 1 },
    audience: { type: 'string', minLength: 1 },
    every: { type: 'string', pattern: DURATION_PATTERN }
  },
  if: { properties: { kind: { const: 'postgres' } }, required: ['kind'] },
  then: { required: [...WAREHOUSE_ONLY_KEYS], properties: Object.fromEntries(EVENTS_ONLY_KEYS.map((k) => [k, false])) },
  else: { properties: Object.fromEntries(WAREHOUSE_ONLY_KEYS.map((k) => [k, false])) }
})

export const configSchema = Type.Object(
  {
    sources: Type.Optional(Type.Array(sourceConfigSchema)),
    destinations: Type.Optional(Type.Array(destinationConfigSchema)),
    delivery: Type.Optional(deliveryConfigSchema)
  },
  closed
)

export type MappingConfig = Static<typeof mappingConfigSchema>
export type AudienceConfig = Static<typeof audienceConfigSchema>
export type DestinationConfig = Static<typeof destinationConfigSchema>
export type DeliveryConfig = Static<typeof deliveryConfigSchema>
export type ConfigFile = Static<typeof configSchema>
