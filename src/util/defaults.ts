/**
 * Every default a user can change, named once: the config file, the admin API, the report and the
 * pipeline read them from here (the schemas in src/config/schema.ts say only what is allowed).
 */

/** TikTok takes at most this many rows in one mapping request; also a destination's default batch. */
export const MAX_BATCH_SIZE = 10_000

export const DESTINATION_DEFAULTS = {
  mode: 'native',
  normalization: 'recommended',
  batchSize: MAX_BATCH_SIZE,
  autoConnectAudiences: false
} as const

/** A connected audience: which Segment calls it answers and the track events' names. */
export const CONNECTION_DEFAULTS = {
  sendTrack: true,
  sendIdentify: false,
  enterEvent: 'Audience Entered',
  exitEvent: 'Audience Exited'
} as const

/** The config file's `delivery:` section. */
export const DELIVERY_DEFAULTS = {
  /** TikTok requests per second (per process). */
  rateLimit: 50,
  /** How long a partition waits for more changes before a partial batch is sent. */
  windowMs: 1000,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  /** Retryable failures are given up after this long. */
  retryForMs: 4 * 3600_000,
  concurrency: 4,
  /** One TikTok request; TikTok can take seconds on a 10,000-row mapping. */
  timeoutMs: 30_000
} as const
