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

export const configSchema = Type.Object(
  {
    sources: Type.Optional(
      Type.Array(Type.Object({ name: str(), writeKey: Type.Optional(Type.String()), sharedSecret: Type.Optional(Type.String()) }, closed))
    ),
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
