/** The configuration model, as the config file, the admin API and the pipeline see it. */
export type Mode = 'native' | 'legacy'
export type Normalization = 'recommended' | 'segment'
export type DestinationStatus = 'active' | 'paused'

export interface Source {
  id: number
  name: string
  writeKey: string | null
}

export interface Destination {
  id: number
  name: string
  sourceId: number | null
  mode: Mode
  enabled: boolean
  normalization: Normalization
  defaultPhoneRegion: string | null
  /**
   * Segment consent category this destination needs (`context.consent.categoryPreferences.<category>`);
   * null: consent is not checked. See README "Deletion and consent".
   */
  consentCategory: string | null
  /**
   * Records the hashed identifiers of every add (store/sql/sent-identifiers.ts), for forget and
   * consent withdrawal; on by itself when `consentCategory` is set. Off by default: it costs
   * ingestion (README "Deletion and consent").
   */
  rememberMembers: boolean
  /** Decrypted; null when TikTok is not connected. */
  accessToken: string | null
  advertiserIds: string[]
  batchSize: number
  autoConnect: boolean
  /** The destination seeded on first start with the built-in emulator: it stops auto-connecting once the user has a destination of their own. */
  demo: boolean
  /** `paused` after TikTok rejected the token; delivery resumes on re-authorisation. */
  status: DestinationStatus
  statusReason: string | null
  updatedAt: number
}

export interface Mapping {
  id: number
  destinationId: number
  name: string
  action: string
  trigger: string
  mapping: Record<string, unknown>
  enabled: boolean
  position: number
}

export interface Connection {
  id: number
  destinationId: number
  audienceKey: string
  audienceName: string | null
  advertiserId: string | null
  externalAudienceId: string | null
  sendTrack: boolean
  sendIdentify: boolean
  enterEvent: string
  exitEvent: string
  /**
   * Every advertiser the connection delivers to, each with its own TikTok audience (SPEC §5.7
   * fan-out): the first is `advertiserId` / `externalAudienceId` above; further ones are stored in
   * `connection_targets`. Empty when the connection has no advertiser (legacy).
   */
  targets: ConnectionTarget[]
}

/** One advertiser of a connection and its TikTok audience. */
export interface ConnectionTarget {
  advertiserId: string
  /** Null until the TikTok audience is created (or when creating it failed: `error`). */
  externalAudienceId: string | null
  /** Why creating or checking this advertiser's audience failed; null otherwise. */
  error: string | null
}

/** `connected`: has its TikTok audience; `failed`: creating it failed (`error`); `pending`: neither yet. */
export const targetState = (t: ConnectionTarget): 'connected' | 'failed' | 'pending' => (t.externalAudienceId ? 'connected' : t.error ? 'failed' : 'pending')

export interface Audience {
  id: number
  sourceId: number
  key: string
  name: string | null
  firstSeenAt: number | null
  lastSeenAt: number | null
}

export type ChangeStatus = 'pending' | 'delivered' | 'failed' | 'superseded'
