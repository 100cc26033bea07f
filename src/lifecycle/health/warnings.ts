/** When an audience's health read warns (SPEC §5.5): not targetable yet, or about to expire. */
import type { HealthRead } from './reads.js'

/** TikTok targets an audience only from this many matched users. */
export const MIN_TARGETABLE = 1000
/** TikTok deletes an audience nothing was sent to for a while: warn this long before its expiry. */
export const EXPIRY_WARNING_MS = 30 * 24 * 3600_000

export type WarningReason = 'small' | 'expiring'
export const WARNING_REASONS: readonly WarningReason[] = ['small', 'expiring']

export interface HealthWarning {
  reason: WarningReason
  message: string
}

/** TikTok's "YYYY-MM-DD HH:MM:SS" (UTC), or an ISO time, as epoch ms. */
export function parseTikTokTime(s: string | undefined | null): number | undefined {
  if (!s) return undefined
  const t = Date.parse(/Z|[+-]\d\d:?\d\d$/.test(s) ? s : `${s.replace(' ', 'T')}Z`)
  return Number.isNaN(t) ? undefined : t
}

/** The warnings a read holds at `now` (none for a failed read: nothing is known). */
export function warningsOf(read: Pick<HealthRead, 'coverNum' | 'expiresAt' | 'isExpiring' | 'error'>, now = Date.now()): HealthWarning[] {
  if (read.error !== null || read.coverNum === null) return []
  const out: HealthWarning[] = []
  if (read.coverNum < MIN_TARGETABLE) {
    out.push({
      reason: 'small',
      message: `Fewer than 1,000 matched users (${read.coverNum.toLocaleString('en-US')}): TikTok needs at least 1,000 to target this audience.`
    })
  }
  // The expiry date decides when TikTok gives one; its own is_expiring flag only without one.
  const expiring = read.expiresAt !== null ? read.expiresAt - now < EXPIRY_WARNING_MS : read.isExpiring === true
  if (expiring) {
    const when = read.expiresAt !== null ? `on ${new Date(read.expiresAt).toISOString().slice(0, 10)}` : 'soon'
    out.push({ reason: 'expiring', message: `The audience expires ${when} (within 30 days): keep sending to it or TikTok will delete it.` })
  }
  return out
}
