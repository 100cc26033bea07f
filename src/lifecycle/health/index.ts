/**
 * Audience health (SPEC §5.5, issue 16.2): every connected audience's size (`cover_num`), validity
 * and expiry are read from TikTok once per AUDIENCE_HEALTH_INTERVAL — once across all processes on
 * one database — and recorded; what warns (below 1,000 matched users, expiring within 30 days) is
 * logged, shown in the console and exported in /metrics. This is the one entry of the feature.
 */
import type { Logger } from 'pino'
import type { Store } from '../../store/index.js'
import type { TikTokClient } from '../../tiktok/client.js'
import { claimHealthRound } from './reads.js'
import { pollAudienceHealth } from './poll.js'

export { parseHealthInterval, DEFAULT_HEALTH_INTERVAL_MS } from './interval.js'
export { healthHistory, latestHealthReads, countHealthRounds, type HealthRead } from './reads.js'
export { warningsOf, parseTikTokTime, MIN_TARGETABLE, EXPIRY_WARNING_MS, WARNING_REASONS, type HealthWarning, type WarningReason } from './warnings.js'
export { pollAudienceHealth } from './poll.js'
export { healthGauges, type HealthGauges } from './gauges.js'

export interface AudienceHealthPoller {
  stop(): Promise<void>
}

/**
 * Polls on a timer: each tick asks the database whether a round is due and claims it; only the
 * process whose claim succeeds reads TikTok. A tick is a quarter interval (at most a minute), so a
 * round starts at most that late.
 */
export function startAudienceHealth(opts: { store: Store; tiktok: TikTokClient; log: Logger; intervalMs: number }): AudienceHealthPoller {
  const { store, tiktok, log, intervalMs } = opts
  let running: Promise<void> = Promise.resolve()
  let stopped = false
  const tick = () => {
    running = running.then(async () => {
      if (stopped) return
      try {
        const now = Date.now()
        if (await claimHealthRound(store.db, now, intervalMs)) await pollAudienceHealth(store, tiktok, log, now)
      } catch (err) {
        log.warn({ err }, `audience health round failed: ${(err as Error).message}`)
      }
    })
  }
  const timer = setInterval(tick, Math.max(200, Math.min(intervalMs / 4, 60_000)))
  timer.unref()
  tick()
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    }
  }
}
