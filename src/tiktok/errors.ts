import type { TikTokExchange } from './types.js'
/**
 * How the pipeline treats a failed TikTok call (SPEC §3.3). TikTok answers business errors as
 * HTTP 200 with `code != 0`, so the class comes from the code first and the HTTP status second.
 */
export type FailureClass = 'throttle' | 'transient' | 'auth' | 'permanent'

const THROTTLE_CODES = new Set([40100, 40133, 40016, 40132, 61000])
const AUTH_CODES = new Set([40102, 40103, 40104, 40105, 40107])
/** Server-side failures worth retrying: system errors and the 51xxx backend family, maintenance, write conflicts. */
function isTransientCode(code: number): boolean {
  return code === 50000 || code === 50002 || code === 60001 || code === 40202 || code === 40700 || (code >= 51000 && code <= 51099)
}

export function classifyCode(code: number): FailureClass {
  if (THROTTLE_CODES.has(code)) return 'throttle'
  if (AUTH_CODES.has(code)) return 'auth'
  if (isTransientCode(code)) return 'transient'
  return 'permanent'
}

export function classifyHttpStatus(status: number): FailureClass {
  if (status === 429) return 'throttle'
  if (status === 401) return 'auth'
  if (status === 408 || status === 423 || status >= 500) return 'transient'
  return 'permanent'
}

/** A TikTok call that did not answer `code: 0`. `kind` decides retry / pause / dead-letter. */
export class TikTokError extends Error {
  override readonly name = 'TikTokError'
  constructor(
    message: string,
    readonly kind: FailureClass,
    readonly details: {
      code?: number
      httpStatus?: number
      requestId?: string
      /** Raw response text (truncated) when it was not TikTok's JSON envelope. */
      responseText?: string
      cause?: unknown
      /** What was sent and received, for request samples. */
      exchange?: TikTokExchange
    } = {}
  ) {
    super(message)
  }
  get code(): number | undefined {
    return this.details.code
  }
  get retryable(): boolean {
    return this.kind === 'throttle' || this.kind === 'transient'
  }
}
