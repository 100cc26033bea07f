/**
 * Client-side request rate limit (TikTok allows about 50 requests/s to its Segment API per app).
 * Requests are spaced evenly rather than burst, so that no 1-second window TikTok looks at sees
 * more than the limit.
 */
export class RateLimiter {
  private next = 0
  private readonly interval: number

  constructor(perSecond: number) {
    this.interval = perSecond > 0 ? 1000 / perSecond : 0
  }

  /** Resolves when the caller may send. */
  async take(): Promise<void> {
    if (this.interval === 0) return
    const now = performance.now()
    const slot = Math.max(now, this.next)
    this.next = slot + this.interval
    const wait = slot - now
    if (wait > 0.5) await new Promise((r) => setTimeout(r, wait))
  }
}

/** Jittered exponential backoff: attempt 1 → ~base, doubling up to max, each in [½d, d]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
  return Math.round(d / 2 + random() * (d / 2))
}
