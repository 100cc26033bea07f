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
}

export interface Audience {
  id: number
  sourceId: number
  key: string
  name: string | null
  firstSeenAt: number | null
  lastSeenAt: number | null
}

export type ChangeStatus = 'pending' | 'delivered' | 'failed' | 'superseded'
