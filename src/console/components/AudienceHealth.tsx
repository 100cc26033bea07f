/**
 * Audience health as recorded by the poller (src/lifecycle/health): the banner over every page
 * while some audience warns, and one audience's reads over time in the Audiences tab (of one
 * advertiser when a connection fans out to several).
 */
import { useEffect, useState } from 'react'
import { api, type AudienceHealthSummary, type HealthRead } from '../api'
import { Link } from '../router'
import { formatNumber, formatTime } from '../ui'
import { DataTable, type Column } from './DataTable'

const REFRESH_MS = 30_000

/** Shown while any connected audience is below 1,000 matched users or expires within 30 days. */
export function AudienceHealthBanner() {
  const [summary, setSummary] = useState<AudienceHealthSummary>()
  useEffect(() => {
    let live = true
    const load = () =>
      api<AudienceHealthSummary>('GET', '/api/audience-health').then(
        (s) => live && setSummary(s),
        () => {}
      )
    void load()
    const timer = setInterval(load, REFRESH_MS)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [])
  const all = summary?.audiences ?? []
  const warned = all.filter((a) => a.warnings.length > 0)
  if (warned.length === 0) return null
  // A fan-out connection has an audience per advertiser: the warning then names which one.
  const fanned = (a: (typeof all)[number]) =>
    all.some((b) => b.destinationId === a.destinationId && b.audienceKey === a.audienceKey && b.advertiserId !== a.advertiserId)
  return (
    <section className="notice notice-warning health-banner" aria-label="Audience health warnings">
      <strong>{warned.length === 1 ? '1 audience needs attention' : `${warned.length} audiences need attention`}</strong>
      <ul>
        {warned.map((a) => (
          <li key={`${a.destinationId}|${a.audienceKey}|${a.advertiserId}`}>
            <Link href={`/destinations/${a.destinationId}/audiences`}>
              {a.audienceKey} ({a.destinationName ?? `destination ${a.destinationId}`})
            </Link>
            {fanned(a) && (
              <>
                , advertiser <code>{a.advertiserId}</code>
              </>
            )}
            : {a.warnings.map((w) => w.message).join(' ')}
          </li>
        ))}
      </ul>
    </section>
  )
}

/** A line of the sizes read over time (no scale: the numbers beside it say how much). */
function Sparkline({ values, label }: { values: number[]; label: string }) {
  if (values.length < 2) return null
  const max = Math.max(...values, 1)
  const w = 120
  const h = 24
  const points = values.map((v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - (v / max) * h).toFixed(1)}`).join(' ')
  return (
    <svg className="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label={label}>
      <polyline points={points} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  )
}

const HISTORY_COLUMNS: Column<HealthRead>[] = [
  { header: 'Checked', cell: (r) => formatTime(r.checkedAt) },
  { header: 'Matched users', cell: (r) => (r.coverNum === null ? '—' : formatNumber(r.coverNum)) },
  { header: 'Expires', cell: (r) => (r.expiresAt ? new Date(r.expiresAt).toISOString().slice(0, 10) : '—') },
  { header: 'Warnings', cell: (r) => (r.error ? `Read failed: ${r.error}` : r.warnings.map((w) => w.reason).join(', ') || 'none') }
]

/** One audience's recorded reads: the size trend and the last few reads. */
export function AudienceHealthHistory({
  destinationId,
  audienceKey,
  advertiserId,
  label
}: {
  destinationId: number
  audienceKey: string
  advertiserId?: string
  label: string
}) {
  const [reads, setReads] = useState<HealthRead[]>()
  useEffect(() => {
    const only = advertiserId ? `?advertiserId=${encodeURIComponent(advertiserId)}` : ''
    api<{ reads: HealthRead[] }>('GET', `/api/destinations/${destinationId}/audiences/${encodeURIComponent(audienceKey)}/health/history${only}`).then(
      (r) => setReads(r.reads),
      () => setReads([])
    )
  }, [destinationId, audienceKey, advertiserId])
  if (!reads) return null
  if (reads.length === 0) return <p className="muted">No health read recorded yet (TikTok is asked every AUDIENCE_HEALTH_INTERVAL).</p>
  const sizes = reads.flatMap((r) => (r.coverNum !== null ? [r.coverNum] : []))
  const last = reads.at(-1)
  const [firstSize, lastSize] = [sizes[0], sizes.at(-1)]
  return (
    <details className="health-history">
      <summary>
        Recorded: {firstSize !== undefined && lastSize !== undefined ? `${formatNumber(firstSize)} → ${formatNumber(lastSize)} matched users` : 'no size yet'}{' '}
        over {reads.length} read{reads.length === 1 ? '' : 's'}, last {last ? formatTime(last.checkedAt) : ''}
      </summary>
      <Sparkline values={sizes} label={`Matched users of ${label} over time`} />
      <DataTable bare label={`Health history of ${label}`} columns={HISTORY_COLUMNS} rows={reads.slice(-10).reverse()} rowKey={(r) => r.checkedAt} />
    </details>
  )
}
