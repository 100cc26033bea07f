import { DEFAULT_PIPELINE_OPTIONS, type PipelineOptions } from '../pipeline/index.js'
import { DELIVERY_DEFAULTS } from '../util/defaults.js'
import type { DeliveryConfig } from './schema.js'

/** Pipeline options from the config file's `delivery:` section over the defaults. */
export function pipelineOptions(delivery: DeliveryConfig | undefined, overrides: { failOnAuth?: boolean } = {}): PipelineOptions {
  const d = DEFAULT_PIPELINE_OPTIONS
  return {
    ...d,
    windowMs: delivery?.windowMs ?? d.windowMs,
    concurrency: delivery?.concurrency ?? d.concurrency,
    delivery: {
      ...d.delivery,
      rateLimit: delivery?.rateLimit ?? d.delivery.rateLimit,
      retryBaseMs: delivery?.retryBaseMs ?? d.delivery.retryBaseMs,
      retryMaxMs: delivery?.retryMaxMs ?? d.delivery.retryMaxMs,
      retryForMs: delivery?.retryForMs ?? d.delivery.retryForMs,
      failOnAuth: overrides.failOnAuth ?? d.delivery.failOnAuth
    }
  }
}

/** What the config's `delivery:` section sets on the TikTok client: how long one request may take. */
export function tiktokClientOptions(delivery: DeliveryConfig | undefined): { timeoutMs: number } {
  return { timeoutMs: delivery?.timeoutMs ?? DELIVERY_DEFAULTS.timeoutMs }
}

export const TIKTOK_PRODUCTION_API_URL = 'https://business-api.tiktok.com/open_api'

/** TIKTOK_API_URL, or TikTok's production API. */
export function tiktokApiUrl(): string {
  return process.env.TIKTOK_API_URL || TIKTOK_PRODUCTION_API_URL
}
