/**
 * Runs retention (store/sql/retention.ts) periodically in the service: settled changes, their
 * events and request records older than RETENTION_DAYS (default 7) are deleted. Events double as
 * the idempotency record: a messageId re-sent after that long is routed again.
 */
import type { Logger } from 'pino'
import type { Store } from '../store/index.js'
import { pruneBefore } from '../store/sql/retention.js'

const EVERY_MS = 10 * 60_000

export function retentionDays(): number {
  const raw = process.env.RETENTION_DAYS
  if (raw === undefined || raw === '') return 7
  const n = Number(raw)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`RETENTION_DAYS must be a positive number of days, got "${raw}"`)
  return n
}

export function startRetention(store: Store, days: number, log?: Logger): () => void {
  let running = false
  const run = async () => {
    if (running) return
    running = true
    try {
      const pruned = await pruneBefore(store.db, Date.now() - days * 86_400_000)
      if (pruned.changes + pruned.events + pruned.requests > 0) log?.info({ pruned, days }, 'retention: deleted old settled data')
    } catch (err) {
      log?.error({ err }, 'retention failed; retrying at the next run')
    } finally {
      running = false
    }
  }
  const first = setTimeout(run, 60_000)
  const timer = setInterval(run, EVERY_MS)
  first.unref()
  timer.unref()
  return () => {
    clearTimeout(first)
    clearInterval(timer)
  }
}
