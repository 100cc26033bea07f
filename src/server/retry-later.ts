/**
 * "Not now, later": every 429 and 503 the service sends goes through here, so each carries
 * `Retry-After` — Segment's SDKs and webhooks retry those answers, and wait as long as it says.
 */
import type { FastifyReply } from 'fastify'

/** How long clients are asked to wait, in seconds, unless a caller knows better. */
export const RETRY_AFTER_SECONDS = 5

/** What a request hears while the database is unreachable (Segment's SDKs retry the 503). */
export const DATABASE_UNAVAILABLE = 'the database is unavailable; retry later'

export interface RetryLaterOptions {
  /** Retry-After in seconds (default RETRY_AFTER_SECONDS). */
  seconds?: number
  /** More fields of the JSON answer (e.g. `/healthz`'s `status`). */
  body?: Record<string, unknown>
}

/**
 * Answers `status` (429: over a bound of this service; 503: shutting down, starting, database
 * down) with `Retry-After` and `{"success":false,"error":message}`. Returns the reply (return it
 * from a handler or hook).
 */
export function retryLater(reply: FastifyReply, status: 429 | 503, message: string, options: RetryLaterOptions = {}): FastifyReply {
  return reply
    .code(status)
    .header('retry-after', String(options.seconds ?? RETRY_AFTER_SECONDS))
    .send({ success: false, error: message, ...options.body })
}
