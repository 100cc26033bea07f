/** Schedules as people write them: `30s`, `15m`, `1h`, `1d` (a whole number and one unit). */
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

export const DURATION_PATTERN = '^[1-9][0-9]*(s|m|h|d)$'

/** Milliseconds, or undefined when `text` is not such a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^([1-9][0-9]*)(s|m|h|d)$/.exec(text.trim())
  if (!m) return undefined
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  return Number.isSafeInteger(ms) ? ms : undefined
}

/** The shortest way to write `ms` back (`900000` → `15m`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm'] as const) if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`
  return `${Math.round(ms / 1000)}s`
}
