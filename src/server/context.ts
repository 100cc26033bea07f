import type { Logger } from 'pino'
import type { Pipeline } from '../pipeline/index.js'
import type { Store } from '../store/index.js'
import type { TikTokClient } from '../tiktok/client.js'
import type { BackPressure } from './backpressure.js'
import type { Metrics } from './metrics.js'
import type { PasswordThrottle } from './password-throttle.js'
import type { WarehouseSyncs } from '../warehouse/index.js'

/** TikTok OAuth app settings (SPEC §2.6); the built-in emulator's when no app is configured. */
export interface OAuthSettings {
  appId: string
  secret: string
  /** TikTok's consent page (TIKTOK_AUTH_URL). */
  authUrl: string
  /** Where TikTok sends the user back: PUBLIC_URL/oauth/tiktok/callback. */
  redirectUri: string
}

/**
 * Everything the HTTP plugins share. Built before the server listens; `tiktok` and `pipeline` are
 * set once the port is known (the built-in emulator is served by this same server), then `ready`.
 */
export interface ServerContext {
  ready: boolean
  store: Store
  pipeline: Pipeline
  /** Client without a token; `.withToken()` per destination. */
  tiktok: TikTokClient
  metrics: Metrics
  log: Logger
  adminPassword: string
  /** Wrong admin passwords per client address, shared by every route that checks the password. */
  passwordThrottle: PasswordThrottle
  publicUrl: string
  oauth: OAuthSettings
  /** True when TikTok is the built-in emulator (the console labels it). */
  emulator: boolean
  /** The bounds past which ingestion answers 429 (backpressure.ts); none before the service is up. */
  backPressure?: BackPressure
  /** Warehouse syncs: their schedule, Run now and their runs (none before the service is up). */
  warehouse?: WarehouseSyncs
}
