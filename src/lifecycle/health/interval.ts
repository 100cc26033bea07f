/** AUDIENCE_HEALTH_INTERVAL: `30s`, `15m`, `1h`, `1d` (default 1h). */
import { UserError } from '../../util/user-error.js'

export const DEFAULT_HEALTH_INTERVAL_MS = 3600_000
const UNIT_MS = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 } as const

/** Milliseconds of an interval like `30s`; a clear error naming the variable otherwise. */
export function parseHealthInterval(raw: string | undefined, name = 'AUDIENCE_HEALTH_INTERVAL'): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_HEALTH_INTERVAL_MS
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$/.exec(raw)
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN
  if (!Number.isFinite(ms) || ms < 1000) throw new UserError(`${name}=${JSON.stringify(raw)}: give a duration of at least 1s, like 30s, 15m, 1h or 1d`)
  return Math.round(ms)
}
