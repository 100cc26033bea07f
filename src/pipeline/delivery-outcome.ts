/**
 * What one exchange with TikTok comes to for its partition (SPEC §3.3), decided without the
 * database: the deliverer settles each outcome with the store function of its name (settle-*.ts).
 *   success → delivered · throttle/transient → retry with backoff while the retry budget lasts, then
 *   failed · auth → paused (queue kept; failed in one-shot runs) · permanent → failed (dead letters)
 */
import type { TikTokError } from '../tiktok/errors.js'
import { explainTikTokFailure } from './explain.js'
import { backoffMs } from './rate-limiter.js'

/** A partition's retry state: attempts since its last success, and when the first of them failed. */
export interface RetryState {
  attempts: number
  firstFailureAt: number | null
}

export interface RetryPolicy {
  retryBaseMs: number
  retryMaxMs: number
  /** How long retryable failures are retried before the batch fails. */
  retryForMs: number
  /** One-shot runs (`send`): an auth failure fails the changes instead of pausing the destination. */
  failOnAuth: boolean
}

export type DeliveryOutcome =
  | { kind: 'delivered'; next: RetryState }
  | { kind: 'retry'; retryAt: number; attempts: number; firstFailureAt: number; reason: string; errorCode: string }
  | { kind: 'paused'; reason: string }
  /** `attempts`: recorded on the dead letters; `next`: the partition's retry state afterwards. */
  | { kind: 'failed'; reason: string; errorCode: string; attempts: number; next: RetryState }

export interface Exchange {
  /** What TikTok answered, when it was not a success. */
  failure: TikTokError | undefined
  /** The advertisers the request was for, and the destination's (the reason names a mismatch). */
  advertisers: string[]
  destinationAdvertisers: string[]
  state: RetryState
  now: number
}

const SETTLED: RetryState = { attempts: 0, firstFailureAt: null }

export function classifyExchange(exchange: Exchange, policy: RetryPolicy): DeliveryOutcome {
  const { failure, state, now } = exchange
  if (!failure) return { kind: 'delivered', next: SETTLED }
  const reason = explainTikTokFailure(failure, exchange.advertisers, exchange.destinationAdvertisers)
  if (failure.retryable) {
    const attempts = state.attempts + 1
    const firstFailureAt = state.firstFailureAt ?? now
    if (now - firstFailureAt <= policy.retryForMs) {
      const retryAt = now + backoffMs(attempts, policy.retryBaseMs, policy.retryMaxMs)
      return { kind: 'retry', retryAt, attempts, firstFailureAt, reason, errorCode: failure.code !== undefined ? String(failure.code) : failure.kind }
    }
    const gaveUp = `gave up after retrying for ${Math.round((now - firstFailureAt) / 1000)} s: ${reason}`
    return { kind: 'failed', reason: gaveUp, errorCode: deadLetterCode(failure), attempts, next: SETTLED }
  }
  if (failure.kind === 'auth' && !policy.failOnAuth) return { kind: 'paused', reason }
  // The retry state carries on: only a delivery, or giving up, clears it.
  return { kind: 'failed', reason, errorCode: deadLetterCode(failure), attempts: state.attempts + 1, next: state }
}

/** The error code a dead letter keeps: TikTok's, or the failure's kind. */
function deadLetterCode(failure: TikTokError): string {
  return failure.code !== undefined ? String(failure.code) : failure.kind.toUpperCase()
}
