/**
 * Sliding one-second window rate limiter, keyed per app and route group.
 * TikTok signals a hit with HTTP 200 + code 40100, so this only answers yes/no; the caller builds the reply.
 */
import { at } from '../util/array.js'

const WINDOW_MS = 1000

interface Window {
  /** Accepted request times, oldest first; entries before `head` have left the window. */
  times: number[]
  head: number
}

export class SlidingWindowRateLimiter {
  private readonly windows = new Map<string, Window>()

  /**
   * Records a request for `key` at `nowMs` if fewer than `limit` were accepted in the last second.
   * Rejected requests are not recorded, so a client that backs off is served again after one window.
   * `limit` 0 means unlimited.
   */
  tryAcquire(key: string, limit: number, nowMs: number): boolean {
    if (limit <= 0) return true
    let window = this.windows.get(key)
    if (window === undefined) {
      window = { times: [], head: 0 }
      this.windows.set(key, window)
    }
    const { times } = window
    const cutoff = nowMs - WINDOW_MS
    while (window.head < times.length && at(times, window.head) <= cutoff) window.head++
    // Compact now and then so the array does not grow without bound.
    if (window.head > 1024 && window.head * 2 > times.length) {
      times.splice(0, window.head)
      window.head = 0
    }
    if (times.length - window.head >= limit) return false
    times.push(nowMs)
    return true
  }

  clear(): void {
    this.windows.clear()
  }
}
