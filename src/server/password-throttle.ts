/**
 * One throttle for every check of the admin password (console sign-in, HTTP Basic on `/api` and
 * `/oauth/tiktok/start`): at most `maxFailures` wrong passwords per client address within a sliding
 * `windowMs`; past that the address gets 429 with Retry-After until its oldest failure leaves the
 * window. A success does not clear the count (only the password holder could clear it, and the
 * window is short). Per process: N processes behind one address allow up to N × maxFailures.
 */
import type { FastifyReply } from 'fastify'

export interface ThrottleSettings {
  maxFailures: number
  windowMs: number
  /** Addresses remembered at once; the least recently failing one is forgotten first. */
  maxAddresses: number
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw.trim() === '') return fallback
  const n = Number(raw)
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got "${raw}"`)
  return n
}

/** TTA_AUTH_MAX_FAILURES (10), TTA_AUTH_WINDOW_MS (60000), TTA_AUTH_MAX_ADDRESSES (10000). */
export function throttleSettings(env: NodeJS.ProcessEnv = process.env): ThrottleSettings {
  return {
    maxFailures: positiveInt('TTA_AUTH_MAX_FAILURES', env.TTA_AUTH_MAX_FAILURES, 10),
    windowMs: positiveInt('TTA_AUTH_WINDOW_MS', env.TTA_AUTH_WINDOW_MS, 60_000),
    maxAddresses: positiveInt('TTA_AUTH_MAX_ADDRESSES', env.TTA_AUTH_MAX_ADDRESSES, 10_000)
  }
}

export class PasswordThrottle {
  /** Address → times of its recent failures, oldest first (at most maxFailures); Map order = least recently failing first. */
  private readonly failures = new Map<string, number[]>()

  constructor(readonly settings: ThrottleSettings = throttleSettings()) {}

  /** Seconds until `address` may try again, or 0 when it may try now. */
  retryAfterSeconds(address: string, now = Date.now()): number {
    const times = this.recent(address, now)
    const oldest = times[0]
    if (times.length < this.settings.maxFailures || oldest === undefined) return 0
    return Math.max(1, Math.ceil((oldest + this.settings.windowMs - now) / 1000))
  }

  recordFailure(address: string, now = Date.now()): void {
    const times = this.recent(address, now)
    times.push(now)
    if (times.length > this.settings.maxFailures) times.shift()
    this.failures.delete(address)
    // Bounded memory: a flood of addresses evicts the least recently failing one, never grows the map.
    if (this.failures.size >= this.settings.maxAddresses) this.failures.delete(this.failures.keys().next().value ?? '')
    this.failures.set(address, times)
  }

  /** Addresses currently remembered (for tests of the bound). */
  get size(): number {
    return this.failures.size
  }

  private recent(address: string, now: number): number[] {
    const times = this.failures.get(address)
    if (!times) return []
    const kept = times.filter((t) => now - t < this.settings.windowMs)
    if (kept.length === 0) this.failures.delete(address)
    return kept
  }
}

/** The answer to an address past its limit: 429, and when to come back. */
export function sendTooManyFailures(reply: FastifyReply, retryAfterS: number): FastifyReply {
  return reply
    .code(429)
    .header('retry-after', String(retryAfterS))
    .send({ error: `Too many wrong admin passwords from this address: try again in ${retryAfterS} s.` })
}
